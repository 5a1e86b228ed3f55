package main

import (
	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/bench"
)

func newBenchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "bench NAME [flags]",
		Short: "Run a benchmark (see 'floe bench' for the list)",
		// Each benchmark parses its own flags (package bench).
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.Main(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}
