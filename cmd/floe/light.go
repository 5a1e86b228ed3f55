package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/light"
)

func newLightCmd() *cobra.Command {
	var (
		genesisPath, peer, key, keyHex string
		timeout                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "light --genesis FILE --peer URL [--key K]",
		Short: "Follow a chain as a light client: fast-forward epochs from genesis, verify state",
		Long: `Run the light client against one full node. It trusts only the genesis
file (identity table, leader seed, epoch rules, governance keys), asks the
node for each epoch's transition proof in turn, verifies every QC and hash
link against the committee it already knows and adopts the next committee,
printing each epoch it adopts. Then it proves the newest final block the
node can show, and with --key (UTF-8) or --key-hex verifies that key's value
or absence in the state that block commits to. In a pipeline network
(genesis clusters > 0) ask an access node: the key is the network-wide
register, and the state is the execution result the block's Result
follows, not sealed yet (docs/pipeline.md, "Reads in a pipeline network").

Any forged or incomplete answer stops it with a non-zero exit status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if genesisPath == "" || peer == "" {
				return fmt.Errorf("--genesis and --peer are required")
			}
			k, err := light.ParseKey(key, keyHex)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			g, err := light.LoadGenesis(genesisPath)
			if err != nil {
				return err
			}
			return light.Follow(ctx, cmd.OutOrStdout(), g, peer, k)
		},
	}
	cmd.Flags().StringVar(&genesisPath, "genesis", "", "genesis file (the only thing trusted)")
	cmd.Flags().StringVar(&peer, "peer", "", "full node API URL, e.g. http://127.0.0.1:8080")
	cmd.Flags().StringVar(&key, "key", "", "application key (UTF-8) to verify at the newest final block")
	cmd.Flags().StringVar(&keyHex, "key-hex", "", "application key (hex) to verify at the newest final block")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}
