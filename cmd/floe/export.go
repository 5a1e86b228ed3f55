package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/ledger"
)

func newExportCmd() *cobra.Command {
	var home, out string
	cmd := &cobra.Command{
		Use:   "export --home DIR [--out FILE]",
		Short: "Write a stopped node's application state to a file (for a new network's genesis)",
		Long: `Read the application state of a stopped node at its executed height, check it
against the state root the node recorded, and write it as JSON (stdout, or
--out FILE): the first step of moving a network to a new protocol version
(docs/upgrades.md). The data directory is opened read-only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(home, os.LookupEnv)
			if err != nil {
				return err
			}
			g, err := genesis.Load(filepath.Join(home, config.Dir, config.GenesisFile))
			if err != nil {
				return err
			}
			f, err := ledger.ExportState(cfg.Storage.DataDir, g.ChainID)
			if err != nil {
				return err
			}
			if out != "" {
				err = f.WriteFile(out)
			} else {
				err = f.Write(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %d keys at height %d of %s, state root %s\n", len(f.Entries), f.Height, f.ChainID, f.Root)
			return nil
		},
	}
	cmd.Flags().StringVar(&home, "home", "", "node home directory (required)")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default: stdout)")
	_ = cmd.MarkFlagRequired("home")
	return cmd
}
