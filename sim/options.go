package sim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/floe-bft/floe/consensus/reputation"
)

// Options are a batch's settings as `floe sim` takes them, one field a
// flag: Base holds those that are simulator settings as they are, and Batch
// maps and checks the rest. Errors name the flags, since this is where the
// command line meets the simulator.
type Options struct {
	Base         Config
	Inject       []string
	TwinsSearch  bool
	Rounds       int
	NoReputation bool
	MinRate      float64
	Seeds        int
	Seed         uint64
	Crypto       string
	Trace, JSON  bool
	Parallel     int
	// ViewsSet says --views was given: a scenario search otherwise runs
	// Rounds+20 views, enough for its rounds and recovery after them.
	ViewsSet bool
}

// Batch maps the options onto a Batch writing to out and log. replay gives
// the command that reproduces a failing seed; with Trace it is not called,
// since the one run was just traced live. Anything Run checks itself (node
// count, fault bound, probabilities, ...) is left to it, so the CLI and the
// simulator cannot disagree about what is valid.
func (o *Options) Batch(out, log io.Writer, replay func(seed uint64) string) (Batch, error) {
	switch {
	case o.Crypto != "fast" && o.Crypto != "bls":
		return Batch{}, fmt.Errorf("unknown --crypto %q: want fast or bls", o.Crypto)
	case o.Seeds < 1:
		return Batch{}, fmt.Errorf("--seeds must be at least 1, got %d", o.Seeds)
	case uint64(o.Seeds-1) > math.MaxUint64-o.Seed:
		return Batch{}, fmt.Errorf("--seed %d --seeds %d runs past the largest seed", o.Seed, o.Seeds)
	case o.Trace && o.Seeds > 1:
		// A live trace of interleaved parallel runs would be unreadable,
		// and tracing exists to replay one reported failure.
		return Batch{}, errors.New("--trace replays one seed: use --seed S --seeds 1")
	case o.Parallel < 1:
		return Batch{}, fmt.Errorf("--parallel must be at least 1, got %d", o.Parallel)
	case o.Base.EpochViews < 0:
		return Batch{}, fmt.Errorf("--epoch-views must not be negative, got %d", o.Base.EpochViews)
	}
	c := o.Base
	c.Seed = o.Seed
	c.BLS = o.Crypto == "bls"
	c.Trace = o.Trace
	if o.NoReputation {
		c.Reputation = reputation.Params{}
	}
	for _, name := range o.Inject {
		fs, ok := LookupFaultSwitch(name)
		if !ok {
			return Batch{}, fmt.Errorf("unknown --inject %q: want one of %s", name, strings.Join(FaultSwitchNames(), ", "))
		}
		fs.Apply(&c)
	}
	if o.TwinsSearch {
		if o.Rounds < 1 {
			return Batch{}, fmt.Errorf("--rounds must be at least 1, got %d", o.Rounds)
		}
		c.ScenarioRounds = o.Rounds
		if !o.ViewsSet {
			c.Views = o.Rounds + 20
		}
	}
	if o.Trace {
		replay = func(uint64) string { return "" }
	}
	return Batch{Config: c, FirstSeed: o.Seed, Seeds: o.Seeds, Parallel: o.Parallel, Views: o.Base.Views, Inject: o.Inject,
		MinRate: o.MinRate, JSON: o.JSON, Out: out, Log: log, Replay: replay}, nil
}
