package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/sim"
)

func newSimSuiteCmd() *cobra.Command {
	var (
		scale    float64
		parallel int
		minViews uint64
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "suite",
		Short: "Run the simulator's default configuration: every soak and the Twins-style scenario search",
		Long: `Run the suite of simulator soaks that CI runs (sim.CISoaks): random faults with
twins, adversaries and silent replicas, unequal and changing weights, epochs,
and the Twins-style scenario search. Prints one line per soak and the totals;
a failing seed is printed with the flags that replay it.

Exits with status 1 on any safety violation or liveness failure, or when
fewer than --min-views views were simulated in all.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scale <= 0 || parallel < 1 {
				return fmt.Errorf("--scale must be positive and --parallel at least 1")
			}
			return sim.RunSuite(sim.CISoaks(scale), sim.SuiteOptions{Parallel: parallel, MinViews: minViews, JSON: asJSON,
				Out: cmd.OutOrStdout(), Log: cmd.ErrOrStderr()})
		},
	}
	f := cmd.Flags()
	f.Float64Var(&scale, "scale", 1, "multiply every soak's seed count")
	f.IntVar(&parallel, "parallel", runtime.NumCPU(), "seeds run concurrently")
	f.Uint64Var(&minViews, "min-views", 0, "fail if fewer views were simulated in all")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
