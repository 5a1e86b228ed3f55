package sim_test

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/sim"
)

// Failing seeds cannot be provoked on purpose, so the report is checked on
// a made-up result.
func TestWriteFailure(t *testing.T) {
	trace := make([]string, 40)
	for i := range trace {
		trace[i] = "event " + strconv.Itoa(i)
	}
	r := sim.Result{Seed: 12, SafetyViolations: []string{"conflicting finalization"}, LivenessFailure: "no progress", Trace: trace}
	var b bytes.Buffer
	sim.WriteFailure(&b, r, "floe sim --seed 12 --seeds 1 --trace")
	out := b.String()
	for _, want := range []string{
		"seed 12 FAILED", "safety: conflicting finalization", "liveness: no progress",
		"    event 39", "replay: floe sim --seed 12 --seeds 1 --trace",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "event 14\n") {
		t.Errorf("report shows more than the last %d trace lines:\n%s", sim.TraceTail, out)
	}
	// A traced run: no tail, no replay.
	b.Reset()
	sim.WriteFailure(&b, r, "")
	if out := b.String(); !strings.Contains(out, "liveness: no progress") || strings.Contains(out, "event") || strings.Contains(out, "replay") {
		t.Errorf("traced report:\n%s", out)
	}
}

func TestSummaryTotals(t *testing.T) {
	s := sim.Summary{FailedSeeds: []uint64{}}
	s.Add(sim.Result{Seed: 1, MaxView: 30, MinFinalizedHeight: 20, ViewsAfterGST: 10, BlocksAfterGST: 8})
	s.Add(sim.Result{Seed: 2, MaxView: 40, MinFinalizedHeight: 10, ViewsAfterGST: 10, BlocksAfterGST: 2, LivenessFailure: "stuck"})
	if s.Seeds != 2 || s.MinViewReached != 30 || s.MaxViewReached != 40 || s.MinFinalizedPerSeed != 10 ||
		s.BlocksPerView != 0.5 || s.ViewsPerBlock != 2 || s.LivenessFailures != 1 || len(s.FailedSeeds) != 1 {
		t.Fatalf("summary %+v", s)
	}
	var b bytes.Buffer
	s.WriteText(&b, time.Second)
	if !strings.Contains(b.String(), "result                  FAIL (seeds 2)") {
		t.Fatalf("totals:\n%s", b.String())
	}
}

// RunSeeds emits in seed order whatever the scheduling, and stops at the
// first error emit returns.
func TestRunSeedsInOrder(t *testing.T) {
	config := func(seed uint64) sim.Config {
		c := sim.DefaultConfig()
		c.Seed, c.Views = seed, 10
		return c
	}
	var seen []uint64
	if err := sim.RunSeeds(config, 5, 6, 3, func(r sim.Result) error { seen = append(seen, r.Seed); return nil }); err != nil {
		t.Fatal(err)
	}
	for i, s := range seen {
		if s != uint64(5+i) || len(seen) != 6 {
			t.Fatalf("emitted %v", seen)
		}
	}
	stop := errors.New("stop")
	seen = nil
	err := sim.RunSeeds(config, 1, 6, 2, func(r sim.Result) error {
		seen = append(seen, r.Seed)
		if r.Seed == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || len(seen) != 2 {
		t.Fatalf("err %v, emitted %v", err, seen)
	}
}
