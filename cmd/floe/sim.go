package main

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/sim"
)

// simOptions holds the sim command's flags: those that are simulator
// settings are bound to c directly; config maps and checks the rest.
type simOptions struct {
	c            sim.Config
	inject       []string
	twinsSearch  bool
	rounds       int
	noReputation bool
	minRate      float64
	seeds        int
	seed         uint64
	crypto       string
	trace, json  bool
	parallel     int
	viewsSet     bool
	scenarios    int
}

func newSimCmd() *cobra.Command {
	o := &simOptions{c: sim.DefaultConfig()}
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
			o.viewsSet = cmd.Flags().Changed("views")
			if cmd.Flags().Changed("scenarios") {
				o.seeds = o.scenarios
			}
			return o.run(cmd)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.c.Nodes, "nodes", 4, "committee members")
	f.IntVar(&o.c.Twins, "twins", 0, "byzantine identities run as equivocating twins")
	f.IntVar(&o.c.Byzantine, "byzantine", 0, "byzantine identities run by the adversary (forged, replayed, withheld and equivocating messages)")
	f.IntVar(&o.c.Silent, "silent", 0, "honest identities that go down at GST and stay down (3·(twins+byzantine+silent) < nodes)")
	f.IntVar(&o.c.Crashed, "crashed", 0, "honest identities that never start (f crashed from the first view)")
	f.IntVar(&o.c.Slow, "slow", 0, "honest identities whose links are ten times slower than the slowest other link")
	f.BoolVar(&o.c.EpochWeights, "epoch-weights", false, "with --epoch-views: redraw weights every epoch and leave a member out of every other epoch")
	f.StringSliceVar(&o.inject, "inject", nil, "test-only fault switch to break in honest replicas (repeatable): "+strings.Join(sim.FaultSwitchNames(), ", "))
	f.BoolVar(&o.twinsSearch, "twins-search", false, "run Twins-style scenarios instead of random faults: seed N is scenario N (see --rounds)")
	f.IntVar(&o.rounds, "rounds", 8, "rounds per scenario with --twins-search")
	f.IntVar(&o.scenarios, "scenarios", 0, "number of scenarios with --twins-search (same as --seeds)")
	f.BoolVar(&o.c.NoMonitors, "no-monitors", false, "switch the rule monitors off (only outcomes are checked)")
	f.BoolVar(&o.noReputation, "no-reputation", false, "plain stake-weighted leaders instead of leader reputation (docs/leader-reputation.md)")
	f.Float64Var(&o.minRate, "min-rate", 0, "fail unless blocks finalized per view after GST, over all seeds, reach this rate")
	f.IntVar(&o.seeds, "seeds", 100, "number of seeds to run")
	f.Uint64Var(&o.seed, "seed", 1, "first seed")
	f.IntVar(&o.c.Views, "views", 100, "view each run must reach after the network stabilizes")
	f.Float64Var(&o.c.Loss, "loss", 0, "probability a message is dropped during the fault phase")
	f.Float64Var(&o.c.Dup, "dup", 0, "probability a message is delivered twice")
	f.BoolVar(&o.c.Partitions, "partitions", false, "network partitions that change over time")
	f.BoolVar(&o.c.Crashes, "crashes", false, "crash and restart replicas from persisted state")
	f.BoolVar(&o.c.Stagger, "stagger", false, "start replicas at different times")
	f.BoolVar(&o.c.Weighted, "weighted", false, "give members different weights")
	f.IntVar(&o.c.EpochViews, "epoch-views", 0, "split views into epochs of this length, each with its own committee and leader seed (0: one epoch)")
	f.StringVar(&o.crypto, "crypto", "fast", "signature scheme: fast (insecure, for speed) or bls")
	f.BoolVar(&o.trace, "trace", false, "print every event to stderr (one seed only)")
	f.BoolVar(&o.json, "json", false, "print one JSON summary object on stdout; failure details go to stderr")
	f.IntVar(&o.parallel, "parallel", runtime.NumCPU(), "seeds run concurrently")
	cmd.AddCommand(newSimSuiteCmd())
	return cmd
}

// config maps the flags onto a simulator configuration. Anything sim.Run
// checks itself (node count, fault bound, probabilities, ...) is left to it,
// so the CLI and the simulator cannot disagree about what is valid.
func (o *simOptions) config() (sim.Config, error) {
	switch {
	case o.crypto != "fast" && o.crypto != "bls":
		return sim.Config{}, fmt.Errorf("unknown --crypto %q: want fast or bls", o.crypto)
	case o.seeds < 1:
		return sim.Config{}, fmt.Errorf("--seeds must be at least 1, got %d", o.seeds)
	case uint64(o.seeds-1) > math.MaxUint64-o.seed:
		return sim.Config{}, fmt.Errorf("--seed %d --seeds %d runs past the largest seed", o.seed, o.seeds)
	case o.trace && o.seeds > 1:
		// A live trace of interleaved parallel runs would be unreadable,
		// and tracing exists to replay one reported failure.
		return sim.Config{}, errors.New("--trace replays one seed: use --seed S --seeds 1")
	case o.parallel < 1:
		return sim.Config{}, fmt.Errorf("--parallel must be at least 1, got %d", o.parallel)
	case o.c.EpochViews < 0:
		return sim.Config{}, fmt.Errorf("--epoch-views must not be negative, got %d", o.c.EpochViews)
	}
	c := o.c
	c.Seed = o.seed
	c.BLS = o.crypto == "bls"
	c.Trace = o.trace
	if o.noReputation {
		c.Reputation = reputation.Params{}
	}
	for _, name := range o.inject {
		fs, ok := sim.LookupFaultSwitch(name)
		if !ok {
			return sim.Config{}, fmt.Errorf("unknown --inject %q: want one of %s", name, strings.Join(sim.FaultSwitchNames(), ", "))
		}
		fs.Apply(&c)
	}
	if o.twinsSearch {
		if o.rounds < 1 {
			return sim.Config{}, fmt.Errorf("--rounds must be at least 1, got %d", o.rounds)
		}
		c.ScenarioRounds = o.rounds
		if !o.viewsSet {
			c.Views = o.rounds + 20
		}
	}
	return c, nil
}

func (o *simOptions) run(cmd *cobra.Command) error {
	c, err := o.config()
	if err != nil {
		return err
	}
	if o.trace {
		// TraceOut is a package global; swapping it is safe because --trace
		// means exactly one run, and it is restored so in-process callers
		// (tests) are left as they were.
		prev := sim.TraceOut
		sim.TraceOut = cmd.ErrOrStderr()
		defer func() { sim.TraceOut = prev }()
	}
	return sim.Batch{Config: c, FirstSeed: o.seed, Seeds: o.seeds, Parallel: o.parallel, Views: o.c.Views, Inject: o.inject,
		MinRate: o.minRate, JSON: o.json, Out: cmd.OutOrStdout(), Log: cmd.ErrOrStderr(),
		Replay: func(seed uint64) string {
			if o.trace {
				return "" // the whole run was just traced live
			}
			return replayCommand(cmd, seed)
		}}.Run()
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
