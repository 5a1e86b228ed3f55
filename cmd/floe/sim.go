package main

import (
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/floe-bft/floe/sim"
)

func newSimCmd() *cobra.Command {
	o := &sim.Options{Base: sim.DefaultConfig()}
	var scenarios int
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the deterministic simulator over a range of seeds",
		Long: `Run the real consensus core in the deterministic simulator, once per seed
for seeds S, S+1, ..., S+K-1, checking safety and liveness invariants.

Runs are independent and reproducible: a failing seed is replayed exactly by
the same flags with --seed N --seeds 1 --trace. Seeds run in parallel, but
results are reported in seed order, so the output does not depend on
--parallel (apart from the wall time).

Exits with status 1 if any seed violates safety or liveness, or if the
configuration is rejected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.ViewsSet = cmd.Flags().Changed("views")
			if cmd.Flags().Changed("scenarios") {
				o.Seeds = scenarios
			}
			return runSim(cmd, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Base.Nodes, "nodes", 4, "committee members")
	f.IntVar(&o.Base.Twins, "twins", 0, "byzantine identities run as equivocating twins")
	f.IntVar(&o.Base.Byzantine, "byzantine", 0, "byzantine identities run by the adversary (forged, replayed, withheld and equivocating messages)")
	f.IntVar(&o.Base.Silent, "silent", 0, "honest identities that go down at GST and stay down (3·(twins+byzantine+silent) < nodes)")
	f.IntVar(&o.Base.Crashed, "crashed", 0, "honest identities that never start (f crashed from the first view)")
	f.IntVar(&o.Base.Slow, "slow", 0, "honest identities whose links are ten times slower than the slowest other link")
	f.BoolVar(&o.Base.EpochWeights, "epoch-weights", false, "with --epoch-views: redraw weights every epoch and leave a member out of every other epoch")
	f.StringSliceVar(&o.Inject, "inject", nil, "test-only fault switch to break in honest replicas (repeatable): "+strings.Join(sim.FaultSwitchNames(), ", "))
	f.BoolVar(&o.TwinsSearch, "twins-search", false, "run Twins-style scenarios instead of random faults: seed N is scenario N (see --rounds)")
	f.IntVar(&o.Rounds, "rounds", 8, "rounds per scenario with --twins-search")
	f.IntVar(&scenarios, "scenarios", 0, "number of scenarios with --twins-search (same as --seeds)")
	f.BoolVar(&o.Base.NoMonitors, "no-monitors", false, "switch the rule monitors off (only outcomes are checked)")
	f.BoolVar(&o.NoReputation, "no-reputation", false, "plain stake-weighted leaders instead of leader reputation (docs/leader-reputation.md)")
	f.Float64Var(&o.MinRate, "min-rate", 0, "fail unless blocks finalized per view after GST, over all seeds, reach this rate")
	f.IntVar(&o.Seeds, "seeds", 100, "number of seeds to run")
	f.Uint64Var(&o.Seed, "seed", 1, "first seed")
	f.IntVar(&o.Base.Views, "views", 100, "view each run must reach after the network stabilizes")
	f.Float64Var(&o.Base.Loss, "loss", 0, "probability a message is dropped during the fault phase")
	f.Float64Var(&o.Base.Dup, "dup", 0, "probability a message is delivered twice")
	f.BoolVar(&o.Base.Partitions, "partitions", false, "network partitions that change over time")
	f.BoolVar(&o.Base.Crashes, "crashes", false, "crash and restart replicas from persisted state")
	f.BoolVar(&o.Base.Stagger, "stagger", false, "start replicas at different times")
	f.BoolVar(&o.Base.Weighted, "weighted", false, "give members different weights")
	f.IntVar(&o.Base.EpochViews, "epoch-views", 0, "split views into epochs of this length, each with its own committee and leader seed (0: one epoch)")
	f.IntVar(&o.Base.Load, "load", 0, "transactions offered a simulated second (0: none); needs --max-block-txs and --tx-deadline")
	f.IntVar(&o.Base.MaxBlockTxs, "max-block-txs", 100, "transactions per block (per collection with --cluster) under --load")
	f.DurationVar(&o.Base.TxDeadline, "tx-deadline", 40*time.Second, "under --load, every transaction offered after GST must be finalized (collected) within this")
	f.BoolVar(&o.Base.Cluster, "cluster", false, "run a collector cluster's chain under --load: collections built and checked by the collection role's code (docs/simulator.md)")
	f.IntVar(&o.Base.BadLeaders, "bad-leaders", 0, "with --cluster: byzantine identities proposing invalid collections (counted against the fault bound)")
	f.StringVar(&o.Base.BadKind, "bad-kind", "", "with --bad-leaders: one kind of invalid collection ("+strings.Join(sim.BadCollectionKinds, ", ")+"; empty: random)")
	f.StringVar(&o.Crypto, "crypto", "fast", "signature scheme: fast (insecure, for speed) or bls")
	f.BoolVar(&o.Trace, "trace", false, "print every event to stderr (one seed only)")
	f.BoolVar(&o.JSON, "json", false, "print one JSON summary object on stdout; failure details go to stderr")
	f.IntVar(&o.Parallel, "parallel", runtime.NumCPU(), "seeds run concurrently")
	cmd.AddCommand(newSimSuiteCmd())
	return cmd
}

// runSim runs the batch o describes, printing to cmd's outputs.
func runSim(cmd *cobra.Command, o *sim.Options) error {
	b, err := o.Batch(cmd.OutOrStdout(), cmd.ErrOrStderr(), func(seed uint64) string { return replayCommand(cmd, seed) })
	if err != nil {
		return err
	}
	if o.Trace {
		// TraceOut is a package global; swapping it is safe because --trace
		// means exactly one run, and it is restored so in-process callers
		// (tests) are left as they were.
		prev := sim.TraceOut
		sim.TraceOut = cmd.ErrOrStderr()
		defer func() { sim.TraceOut = prev }()
	}
	return b.Run()
}

// replayCommand rebuilds the invocation that reproduces one seed: the flags
// the user set, minus those that select seeds or shape the output, plus a
// single-seed traced run.
func replayCommand(cmd *cobra.Command, seed uint64) string {
	parts := []string{"floe", "sim"}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "seed", "seeds", "trace", "json", "parallel":
			return
		}
		if f.Value.Type() == "bool" {
			if f.Value.String() == "true" {
				parts = append(parts, "--"+f.Name)
			} else {
				parts = append(parts, "--"+f.Name+"=false")
			}
			return
		}
		parts = append(parts, "--"+f.Name, f.Value.String())
	})
	parts = append(parts, "--seed", strconv.FormatUint(seed, 10), "--seeds", "1", "--trace")
	return strings.Join(parts, " ")
}
