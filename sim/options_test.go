package sim_test

import (
	"io"
	"math"
	"strings"
	"testing"

	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/sim"
)

func validOptions() sim.Options {
	return sim.Options{Base: sim.DefaultConfig(), Seeds: 1, Seed: 1, Crypto: "fast", Parallel: 1, Rounds: 8}
}

func TestOptionsBatchMaps(t *testing.T) {
	o := validOptions()
	o.Seed, o.Crypto, o.NoReputation, o.TwinsSearch, o.Rounds = 5, "bls", true, true, 3
	replay := func(uint64) string { return "again" }
	b, err := o.Batch(io.Discard, io.Discard, replay)
	if err != nil {
		t.Fatal(err)
	}
	c := b.Config
	if c.Seed != 5 || !c.BLS || c.Reputation != (reputation.Params{}) || c.ScenarioRounds != 3 || c.Views != 23 {
		t.Errorf("config %+v", c)
	}
	if b.Views != o.Base.Views || b.Replay(5) != "again" {
		t.Errorf("views %d, replay %q", b.Views, b.Replay(5))
	}
	o.ViewsSet = true
	if b, _ = o.Batch(io.Discard, io.Discard, replay); b.Config.Views != o.Base.Views {
		t.Errorf("--views given: scenario search runs %d views, want %d", b.Config.Views, o.Base.Views)
	}
	// A traced run was printed live: nothing to replay.
	o.Trace = true
	if b, _ = o.Batch(io.Discard, io.Discard, replay); b.Replay(5) != "" || !b.Config.Trace {
		t.Errorf("traced: replay %q, trace %v", b.Replay(5), b.Config.Trace)
	}
}

func TestOptionsBatchRejects(t *testing.T) {
	for _, tc := range []struct {
		edit func(*sim.Options)
		want string
	}{
		{func(o *sim.Options) { o.Crypto = "rsa" }, "--crypto"},
		{func(o *sim.Options) { o.Seeds = 0 }, "--seeds"},
		{func(o *sim.Options) { o.Seed, o.Seeds = math.MaxUint64, 2 }, "past the largest seed"},
		{func(o *sim.Options) { o.Trace, o.Seeds = true, 2 }, "--trace"},
		{func(o *sim.Options) { o.Parallel = 0 }, "--parallel"},
		{func(o *sim.Options) { o.Base.EpochViews = -1 }, "--epoch-views"},
		{func(o *sim.Options) { o.Inject = []string{"nope"} }, "--inject"},
		{func(o *sim.Options) { o.TwinsSearch, o.Rounds = true, 0 }, "--rounds"},
	} {
		o := validOptions()
		tc.edit(&o)
		if _, err := o.Batch(io.Discard, io.Discard, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", o, err, tc.want)
		}
	}
}
