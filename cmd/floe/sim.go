package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/sim"
)

// simOptions holds the sim command's flags.
type simOptions struct {
	nodes, twins, views int
	byzantine, silent   int
	crashed, slow       int
	epochWeights        bool
	inject              []string
	twinsSearch         bool
	rounds              int
	noMonitors          bool
	noReputation        bool
	minRate             float64
	seeds               int
	seed                uint64
	loss, dup           float64
	partitions, crashes bool
	stagger, weighted   bool
	epochViews          int
	crypto              string
	trace, json         bool
	parallel            int
	viewsSet            bool
	scenarios           int
}

func newSimCmd() *cobra.Command {
	o := &simOptions{}
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
	f.IntVar(&o.nodes, "nodes", 4, "committee members")
	f.IntVar(&o.twins, "twins", 0, "byzantine identities run as equivocating twins")
	f.IntVar(&o.byzantine, "byzantine", 0, "byzantine identities run by the adversary (forged, replayed, withheld and equivocating messages)")
	f.IntVar(&o.silent, "silent", 0, "honest identities that go down at GST and stay down (3·(twins+byzantine+silent) < nodes)")
	f.IntVar(&o.crashed, "crashed", 0, "honest identities that never start (f crashed from the first view)")
	f.IntVar(&o.slow, "slow", 0, "honest identities whose links are ten times slower than the slowest other link")
	f.BoolVar(&o.epochWeights, "epoch-weights", false, "with --epoch-views: redraw weights every epoch and leave a member out of every other epoch")
	f.StringSliceVar(&o.inject, "inject", nil, "test-only fault switch to break in honest replicas (repeatable): "+strings.Join(sim.FaultSwitchNames(), ", "))
	f.BoolVar(&o.twinsSearch, "twins-search", false, "run Twins-style scenarios instead of random faults: seed N is scenario N (see --rounds)")
	f.IntVar(&o.rounds, "rounds", 8, "rounds per scenario with --twins-search")
	f.IntVar(&o.scenarios, "scenarios", 0, "number of scenarios with --twins-search (same as --seeds)")
	f.BoolVar(&o.noMonitors, "no-monitors", false, "switch the rule monitors off (only outcomes are checked)")
	f.BoolVar(&o.noReputation, "no-reputation", false, "plain stake-weighted leaders instead of leader reputation (docs/leader-reputation.md)")
	f.Float64Var(&o.minRate, "min-rate", 0, "fail unless blocks finalized per view after GST, over all seeds, reach this rate")
	f.IntVar(&o.seeds, "seeds", 100, "number of seeds to run")
	f.Uint64Var(&o.seed, "seed", 1, "first seed")
	f.IntVar(&o.views, "views", 100, "view each run must reach after the network stabilizes")
	f.Float64Var(&o.loss, "loss", 0, "probability a message is dropped during the fault phase")
	f.Float64Var(&o.dup, "dup", 0, "probability a message is delivered twice")
	f.BoolVar(&o.partitions, "partitions", false, "network partitions that change over time")
	f.BoolVar(&o.crashes, "crashes", false, "crash and restart replicas from persisted state")
	f.BoolVar(&o.stagger, "stagger", false, "start replicas at different times")
	f.BoolVar(&o.weighted, "weighted", false, "give members different weights")
	f.IntVar(&o.epochViews, "epoch-views", 0, "split views into epochs of this length, each with its own committee and leader seed (0: one epoch)")
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
	case o.epochViews < 0:
		return sim.Config{}, fmt.Errorf("--epoch-views must not be negative, got %d", o.epochViews)
	}
	c := sim.DefaultConfig()
	c.Seed = o.seed
	c.Nodes = o.nodes
	c.Twins = o.twins
	c.Views = o.views
	c.Loss = o.loss
	c.Dup = o.dup
	c.Partitions = o.partitions
	c.Crashes = o.crashes
	c.Stagger = o.stagger
	c.Weighted = o.weighted
	c.EpochViews = o.epochViews
	c.BLS = o.crypto == "bls"
	c.Trace = o.trace
	c.Slow = o.slow
	c.Byzantine, c.Silent, c.Crashed, c.EpochWeights, c.NoMonitors = o.byzantine, o.silent, o.crashed, o.epochWeights, o.noMonitors
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
	base, err := o.config()
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

	out := cmd.OutOrStdout()
	// In JSON mode stdout carries exactly one object, so the per-seed
	// details that a human reads inline are sent to stderr instead.
	details := out
	if o.json {
		details = cmd.ErrOrStderr()
	}
	sum := sim.Summary{
		Nodes: o.nodes, Twins: o.twins, Views: o.views, FirstSeed: o.seed,
		Loss: o.loss, Dup: o.dup, Partitions: o.partitions, Crashes: o.crashes,
		Stagger: o.stagger, Weighted: o.weighted, EpochViews: o.epochViews, Crypto: o.crypto,
		Byzantine: o.byzantine, Silent: o.silent, Crashed: o.crashed, Slow: o.slow, EpochWeights: o.epochWeights, Inject: o.inject,
		Monitors: !o.noMonitors,
		// Non-nil so that "no failures" encodes as [] rather than null.
		FailedSeeds: []uint64{},
	}
	if o.twinsSearch {
		sum.TwinsRounds = o.rounds
	}
	if !o.json {
		fmt.Fprintln(out, o.describe())
	}

	start := time.Now()
	config := func(seed uint64) sim.Config {
		c := base
		c.Seed = seed
		return c
	}
	err = sim.RunSeeds(config, o.seed, o.seeds, o.parallel, func(r sim.Result) error {
		if r.Err != "" {
			// Validation does not depend on the seed, so a rejected
			// configuration is reported once and the batch stops.
			return fmt.Errorf("seed %d: %s", r.Seed, r.Err)
		}
		sum.Add(r)
		if !r.OK() {
			replay := "" // the whole run was just traced live
			if !o.trace {
				replay = replayCommand(cmd, r.Seed)
			}
			sim.WriteFailure(details, r, replay)
		}
		return nil
	})
	if err != nil {
		return err
	}
	wall := time.Since(start)
	sum.WallTimeS = math.Round(wall.Seconds()*1000) / 1000

	if o.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		sum.WriteText(out, wall)
	}
	if n := len(sum.FailedSeeds); n > 0 {
		return fmt.Errorf("%d of %d seeds failed (%d safety violations, %d liveness failures)",
			n, sum.Seeds, sum.SafetyViolations, sum.LivenessFailures)
	}
	if o.minRate > 0 && sum.BlocksPerView < o.minRate {
		return fmt.Errorf("finalization after GST was %.3f blocks per view over all seeds, below --min-rate %.3f", sum.BlocksPerView, o.minRate)
	}
	return nil
}

// describe is the config line that heads the readable report.
func (o *simOptions) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "floe sim: nodes=%d twins=%d byzantine=%d silent=%d crashed=%d slow=%d views=%d seeds=%d..%d loss=%g dup=%g crypto=%s",
		o.nodes, o.twins, o.byzantine, o.silent, o.crashed, o.slow, o.views, o.seed, o.seed+uint64(o.seeds-1), o.loss, o.dup, o.crypto)
	if o.twinsSearch {
		fmt.Fprintf(&b, " twins-search rounds=%d", o.rounds)
	}
	for _, name := range o.inject {
		b.WriteString(" inject=" + name)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{o.partitions, "partitions"}, {o.crashes, "crashes"}, {o.stagger, "stagger"}, {o.weighted, "weighted"}} {
		if f.on {
			b.WriteString(" " + f.name)
		}
	}
	return b.String()
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
