package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"
)

// RunSeeds runs seeds first..first+n-1 on a pool of at most workers
// goroutines and hands each result to emit in seed order, as soon as every
// earlier seed has been emitted. Reordering here is what makes a report
// independent of scheduling. If emit returns an error, no further seeds are
// started or emitted and that error is returned once the runs in flight
// finish.
func RunSeeds(config func(seed uint64) Config, first uint64, n, workers int, emit func(Result) error) error {
	type done struct {
		seed uint64
		res  Result
	}
	jobs := make(chan uint64)
	results := make(chan done, workers)
	stop := make(chan struct{})

	go func() {
		defer close(jobs)
		for i := range n {
			select {
			case jobs <- first + uint64(i):
			case <-stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for seed := range jobs {
				results <- done{seed, Run(config(seed))}
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	// Results arrive in completion order; hold the early ones until the
	// seeds before them are in. A slow seed lets later ones pile up here,
	// which is acceptable: a passing result is a few hundred bytes and only
	// failing ones carry a trace.
	pending := make(map[uint64]Result)
	next := first
	var err error
	for d := range results {
		if err != nil {
			continue // drain, so no worker blocks forever on send
		}
		pending[d.seed] = d.res
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err = emit(r); err != nil {
				close(stop)
				break
			}
		}
	}
	return err
}

// Batch is one configuration run over consecutive seeds: what 'floe sim'
// runs. Its fields besides Config, the seeds and the parallelism only
// label and route the report.
type Batch struct {
	// Config is every seed's configuration; its Seed is replaced.
	Config Config
	// FirstSeed and Seeds select the seeds; Parallel is how many run at
	// once (the report does not depend on it).
	FirstSeed       uint64
	Seeds, Parallel int
	// Views is the view target as asked for: the report's, although a
	// scenario search runs Config.Views.
	Views int
	// Inject names the fault switches applied to Config.
	Inject []string
	// MinRate, when positive, fails the batch unless the blocks finalized
	// per view after GST, over all seeds, reach it.
	MinRate float64
	// JSON prints the Summary as one JSON object on Out, and failing
	// seeds' details on Log; otherwise everything is text on Out.
	JSON     bool
	Out, Log io.Writer
	// Replay gives the command that reproduces a failing seed; it returns
	// "" when the run was traced live.
	Replay func(seed uint64) string
}

// Run runs the seeds, reports failures as they come in seed order, then
// the totals; it fails if any seed failed, or the rate fell below MinRate.
// A configuration the simulator rejects is reported once: validation does
// not depend on the seed.
func (b Batch) Run() error {
	out, details := b.Out, b.Out
	if b.JSON {
		details = b.Log
	}
	c := b.Config
	crypto := "fast"
	if c.BLS {
		crypto = "bls"
	}
	sum := Summary{
		Nodes: c.Nodes, Twins: c.Twins, Views: b.Views, FirstSeed: b.FirstSeed,
		Loss: c.Loss, Dup: c.Dup, Partitions: c.Partitions, Crashes: c.Crashes,
		Stagger: c.Stagger, Weighted: c.Weighted, EpochViews: c.EpochViews, Crypto: crypto,
		Byzantine: c.Byzantine, Silent: c.Silent, Crashed: c.Crashed, Slow: c.Slow, EpochWeights: c.EpochWeights, Inject: b.Inject,
		Monitors: !c.NoMonitors, TwinsRounds: c.ScenarioRounds, Load: c.Load, Cluster: c.Cluster, BadLeaders: c.BadLeaders,
		// Non-nil so that "no failures" encodes as [] rather than null.
		FailedSeeds: []uint64{},
	}
	if !b.JSON {
		fmt.Fprintln(out, b.describe(crypto))
	}
	start := time.Now()
	err := RunSeeds(func(seed uint64) Config {
		c := b.Config
		c.Seed = seed
		return c
	}, b.FirstSeed, b.Seeds, b.Parallel, func(r Result) error {
		if r.Err != "" {
			return fmt.Errorf("seed %d: %s", r.Seed, r.Err)
		}
		sum.Add(r)
		if !r.OK() {
			WriteFailure(details, r, b.Replay(r.Seed))
		}
		return nil
	})
	if err != nil {
		return err
	}
	wall := time.Since(start)
	sum.WallTimeS = math.Round(wall.Seconds()*1000) / 1000
	if b.JSON {
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
	if b.MinRate > 0 && sum.BlocksPerView < b.MinRate {
		return fmt.Errorf("finalization after GST was %.3f blocks per view over all seeds, below --min-rate %.3f", sum.BlocksPerView, b.MinRate)
	}
	return nil
}

// describe is the configuration line that heads the readable report.
func (b Batch) describe(crypto string) string {
	c := b.Config
	var s strings.Builder
	fmt.Fprintf(&s, "floe sim: nodes=%d twins=%d byzantine=%d silent=%d crashed=%d slow=%d views=%d seeds=%d..%d loss=%g dup=%g crypto=%s",
		c.Nodes, c.Twins, c.Byzantine, c.Silent, c.Crashed, c.Slow, b.Views, b.FirstSeed, b.FirstSeed+uint64(b.Seeds-1), c.Loss, c.Dup, crypto)
	if c.ScenarioRounds > 0 {
		fmt.Fprintf(&s, " twins-search rounds=%d", c.ScenarioRounds)
	}
	for _, name := range b.Inject {
		s.WriteString(" inject=" + name)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{c.Partitions, "partitions"}, {c.Crashes, "crashes"}, {c.Stagger, "stagger"}, {c.Weighted, "weighted"}} {
		if f.on {
			s.WriteString(" " + f.name)
		}
	}
	return s.String()
}
