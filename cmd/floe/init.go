package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/config"
)

func newInitCmd() *cobra.Command {
	var (
		home string
		o    = config.InitOptions{LogLevel: "info"}
	)
	cmd := &cobra.Command{
		Use:   "init --home DIR",
		Short: "Create a node home directory: keys, floe.toml, validator entry",
		Long: `Create a node's home directory:

  DIR/config/keys.json       secret staking and network keys (mode 0600)
  DIR/config/floe.toml       node settings, every default written out and commented
  DIR/config/validator.json  this node's public entry for the genesis file
  DIR/data/                  the database (filled by 'floe start')

Send validator.json to whoever runs 'floe genesis', put the resulting
genesis.json into DIR/config/, then run 'floe start --home DIR'.

--p2p is the address peers dial (it goes into validator.json, hence into the
genesis file); --api is where the client API listens.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if home == "" {
				return fmt.Errorf("--home is required")
			}
			v, err := config.Init(home, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "initialized %s for validator %q (%s)\n", home, v.Name, v.Address)
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		},
	}
	f := cmd.Flags()
	f.StringVar(&home, "home", "", "home directory to create (required)")
	f.StringVar(&o.Name, "name", "", "validator name (default node-<id prefix>)")
	f.StringVar(&o.P2P, "p2p", config.DefaultP2PAddr, "peer-to-peer address other nodes dial (host:port)")
	f.StringVar(&o.API, "api", config.DefaultAPIAddr, "client API listen address (host:port; empty disables)")
	f.StringVar(&o.Debug, "debug", "", "pprof listen address (host:port; empty disables)")
	f.Uint64Var(&o.Weight, "weight", 1, "voting weight in validator.json")
	f.StringVar(&o.APIURL, "api-url", "", "URL other roles reach this node's API at, for validator.json's \"api\" (default http://<api> unless --api listens on all interfaces)")
	f.StringVar(&o.Role, "role", "consensus", "role in validator.json and floe.toml: consensus, collection, execution or access (only consensus members are in the committee)")
	f.BoolVar(&o.Force, "force", false, "overwrite existing keys and configuration")
	return cmd
}
