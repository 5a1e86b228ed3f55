package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// benchCommands maps a benchmark name to its runner; each benchmark
// registers itself from its own file's init, so adding one touches no
// shared file.
var benchCommands = map[string]func(args []string) error{}

func newBenchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "bench NAME [flags]",
		Short: "Run a benchmark (see 'floe bench' for the list)",
		// Each benchmark parses its own flags.
		DisableFlagParsing: true,
		RunE:               func(_ *cobra.Command, args []string) error { return runBench(args) },
	}
}

func runBench(args []string) error {
	names := make([]string, 0, len(benchCommands))
	for n := range benchCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		return fmt.Errorf("usage: floe bench NAME [flags]; benchmarks: %s", strings.Join(names, ", "))
	}
	run, ok := benchCommands[args[0]]
	if !ok {
		return fmt.Errorf("unknown benchmark %q; benchmarks: %s", args[0], strings.Join(names, ", "))
	}
	return run(args[1:])
}
