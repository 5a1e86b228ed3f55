package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
)

// keysOutput is what `floe keys` prints: the public half of the new keys,
// ready to be sent to whoever assembles the genesis file.
type keysOutput struct {
	NodeID    string            `json:"node_id"`
	Validator genesis.Validator `json:"validator"`
}

func newKeysCmd() *cobra.Command {
	var (
		out, name, address, role string
		weight                   uint64
		force                    bool
	)
	cmd := &cobra.Command{
		Use:   "keys --out FILE",
		Short: "Generate a node's staking (BLS) and network (ed25519) keys",
		Long: `Generate a BLS12-381 staking key with its proof of possession and an
ed25519 network key, write both secrets to FILE (mode 0600), and print the
node ID and the public validator entry (for 'floe genesis') as JSON.

'floe init' does this as part of creating a home directory; use 'keys' to
make keys on their own (for example on an offline machine).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			if err := config.CheckNoClobber(out, force); err != nil {
				return err
			}
			r, err := epoch.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			keys, err := genesis.GenerateKeys()
			if err != nil {
				return err
			}
			if name == "" {
				name = keys.DefaultName()
			}
			v, err := keys.Validator(name, address, weight)
			if err != nil {
				return err
			}
			v.Role = r.String()
			if err := keys.Save(out); err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(keysOutput{NodeID: keys.NodeID().Hex(), Validator: v})
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "file to write the secret keys to (required)")
	f.StringVar(&name, "name", "", "validator name in the printed entry (default node-<id prefix>)")
	f.StringVar(&address, "p2p", config.DefaultP2PAddr, "peer-to-peer address (host:port) in the printed entry")
	f.Uint64Var(&weight, "weight", 1, "voting weight in the printed entry")
	f.StringVar(&role, "role", "consensus", "role in the printed entry: consensus, collection, execution or access")
	f.BoolVar(&force, "force", false, "overwrite FILE if it exists")
	return cmd
}
