package main

import (
	"sort"

	"github.com/spf13/cobra"
)

// benchCommands holds the `floe bench` subcommands by name. Each
// bench_*.go file registers its own in an init function, so a new benchmark
// touches no shared file.
var benchCommands = map[string]func() *cobra.Command{}

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure floe's components with real keys and signatures",
		Long: `Benchmarks that back the performance claims in docs/: each builds its input
with real BLS keys, measures one component, and prints a report (--json: one
JSON object on stdout).`,
		Args: cobra.NoArgs,
	}
	names := make([]string, 0, len(benchCommands))
	for name := range benchCommands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cmd.AddCommand(benchCommands[name]())
	}
	return cmd
}
