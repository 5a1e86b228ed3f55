package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/genesis"
)

func newInitCmd() *cobra.Command {
	var (
		home, name, p2p, apiAddr, debug string
		weight                          uint64
		force                           bool
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
			v, err := initHome(home, name, p2p, apiAddr, debug, weight, force)
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
	f.StringVar(&name, "name", "", "validator name (default node-<id prefix>)")
	f.StringVar(&p2p, "p2p", defaultP2PAddr, "peer-to-peer address other nodes dial (host:port)")
	f.StringVar(&apiAddr, "api", defaultAPIAddr, "client API listen address (host:port; empty disables)")
	f.StringVar(&debug, "debug", "", "pprof listen address (host:port; empty disables)")
	f.Uint64Var(&weight, "weight", 1, "voting weight in validator.json")
	f.BoolVar(&force, "force", false, "overwrite existing keys and configuration")
	return cmd
}

// initHome creates a home directory and returns the node's public validator
// entry. Existing keys are never overwritten without force: they are the
// node's identity.
func initHome(home, name, p2p, apiAddr, debug string, weight uint64, force bool) (genesis.Validator, error) {
	return initHomeWithKeys(home, name, p2p, apiAddr, debug, "info", weight, force, nil)
}

// initHomeWithKeys is initHome with given keys (nil: fresh ones) and log
// level, so the testnet can use deterministic keys.
func initHomeWithKeys(home, name, p2p, apiAddr, debug, logLevel string, weight uint64, force bool, keys *genesis.NodeKeys) (genesis.Validator, error) {
	cfgDir := filepath.Join(home, configDir)
	keysPath := filepath.Join(cfgDir, keysFile)
	if err := checkNoClobber(keysPath, force); err != nil {
		return genesis.Validator{}, err
	}
	if p2p == "" {
		return genesis.Validator{}, fmt.Errorf("--p2p must not be empty: peers need an address to dial")
	}
	// Owner-only: the config directory holds the secret keys.
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		return genesis.Validator{}, err
	}
	if err := os.MkdirAll(filepath.Join(home, dataDir), 0o700); err != nil {
		return genesis.Validator{}, err
	}
	if keys == nil {
		var err error
		if keys, err = genesis.GenerateKeys(); err != nil {
			return genesis.Validator{}, err
		}
	}
	if name == "" {
		name = defaultName(keys)
	}
	v, err := keys.Validator(name, p2p, weight)
	if err != nil {
		return genesis.Validator{}, err
	}
	if err := keys.Save(keysPath); err != nil {
		return genesis.Validator{}, err
	}
	// Save keeps the mode of an existing file; make sure a --force
	// rewrite does not leave old, looser permissions behind.
	if err := os.Chmod(keysPath, 0o600); err != nil {
		return genesis.Validator{}, err
	}
	if err := writeDefaultConfig(filepath.Join(cfgDir, configFile), "", apiAddr, debug, logLevel); err != nil {
		return genesis.Validator{}, err
	}
	if err := writeJSONFile(filepath.Join(cfgDir, validatorFile), v); err != nil {
		return genesis.Validator{}, err
	}
	return v, nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
