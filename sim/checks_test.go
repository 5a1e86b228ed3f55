package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/sim"
)

// TestEveryFaultSwitchIsCaught: each test-only switch that breaks a rule in
// honest replicas is reported by the default configuration (the CI suite,
// sim.CISoaks) within its default budget, with a seed and a trace. Seeds
// are tried across the suite's soaks in turn (seed 1 of every soak, then
// seed 2, ...), so the first soak able to catch a switch does.
func TestEveryFaultSwitchIsCaught(t *testing.T) {
	// Not parallel: CI greps this test's -v log (.ci/run), which stays
	// in order only when it runs alone; it takes well under a second.
	soaks := sim.CISoaks(1)
	for _, fs := range sim.FaultSwitches {
		t.Run(fs.Name, func(t *testing.T) {
			start := time.Now()
			for seed := uint64(1); seed <= 200; seed++ {
				for _, soak := range soaks {
					if int(seed) > soak.Seeds {
						continue
					}
					c := soak.Config(seed)
					fs.Apply(&c)
					r := sim.Run(c)
					if len(r.SafetyViolations) == 0 {
						continue
					}
					if len(r.Trace) == 0 {
						t.Fatalf("violation reported without a trace")
					}
					t.Logf("caught by %q seed %d after %v: %s", soak.Name, seed, time.Since(start).Round(time.Millisecond), r.SafetyViolations[0])
					return
				}
			}
			t.Fatalf("switch %q (rule: %s) not caught", fs.Name, fs.Rule)
		})
	}
}

// TestTwinsSearchFindsSwitches: the scenario search alone reports every
// switch within the CI's scenario budget: with one twin (4 nodes, 8
// rounds) every switch honest code can expose, and with one adversary in
// place of the twin the two that need forged messages (a non-leader's
// proposal, an under-weight certificate).
func TestTwinsSearchFindsSwitches(t *testing.T) {
	// Not parallel: CI greps this test's -v log (.ci/run), which stays
	// in order only when it runs alone; it takes well under a second.
	for _, fs := range sim.FaultSwitches {
		search := sim.TwinsSearch(4, 1, 0, 8, 4000)
		if fs.Name == "accept-non-leader-proposal" || fs.Name == "accept-underweight-certificate" {
			search = sim.TwinsSearch(4, 0, 1, 8, 1000)
		}
		t.Run(fs.Name, func(t *testing.T) {
			for seed := uint64(1); seed <= uint64(search.Seeds); seed++ {
				c := search.Config(seed)
				fs.Apply(&c)
				if r := sim.Run(c); len(r.SafetyViolations) > 0 {
					t.Logf("scenario %d: %s", seed, r.SafetyViolations[0])
					return
				}
			}
			t.Fatalf("switch %q not found in %d scenarios", fs.Name, search.Seeds)
		})
	}
}

// TestOutcomesAloneMissWhatMonitorsCatch documents why the monitors exist:
// with them off, a replica that never reports equivocation runs without a
// single failed outcome; with them on, the first seeds report it.
func TestOutcomesAloneMissWhatMonitorsCatch(t *testing.T) {
	t.Parallel()
	fs, _ := sim.LookupFaultSwitch("drop-evidence")
	caught := 0
	for seed := uint64(1); seed <= 20; seed++ {
		c := faulty(4, 1, seed)
		fs.Apply(&c)
		c.NoMonitors = true
		if r := sim.Run(c); !r.OK() {
			t.Fatalf("seed %d: outcomes alone flagged dropped evidence: %v %s", seed, r.SafetyViolations, r.LivenessFailure)
		}
		c.NoMonitors = false
		if r := sim.Run(c); len(r.SafetyViolations) > 0 && strings.Contains(r.SafetyViolations[0], "reported") {
			caught++
		}
	}
	if caught < 5 {
		t.Fatalf("monitors caught dropped evidence in %d of 20 seeds", caught)
	}
}

// TestAdversaryAttacksAreRefused: the adversary's forged and replayed
// messages are injected, refused by decoders, verifiers and cores, some
// reach cores, and every rule still holds.
func TestAdversaryAttacksAreRefused(t *testing.T) {
	t.Parallel()
	var injected, rejected, delivered int
	for seed := uint64(1); seed <= 40; seed++ {
		c := faulty(4, 0, seed)
		c.Byzantine = 1
		r := sim.Run(c)
		requireOK(t, r)
		injected, rejected, delivered = injected+r.AdversaryInjected, rejected+r.AdversaryRejected, delivered+r.AdversaryDelivered
	}
	if injected == 0 || rejected == 0 || delivered == 0 {
		t.Fatalf("adversary inactive: %d injected, %d rejected, %d delivered", injected, rejected, delivered)
	}
	t.Logf("%d injected, %d rejected, %d reached a core", injected, rejected, delivered)
}

// TestSilentReplicasKeepTheRate: with f replicas down from GST on and the
// rest synchronous, finalization continues at the stated rate.
func TestSilentReplicasKeepTheRate(t *testing.T) {
	t.Parallel()
	var views, blocks uint64
	for seed := uint64(1); seed <= 60; seed++ {
		c := faulty(4, 0, seed)
		c.Silent, c.Stagger = 1, false
		c.MinBlocksPerView = 0.2
		r := sim.Run(c)
		requireOK(t, r)
		views, blocks = views+r.ViewsAfterGST, blocks+r.BlocksAfterGST
	}
	if rate := float64(blocks) / float64(views); rate < 0.45 {
		t.Fatalf("with one of four silent: %.3f blocks per view after GST, want at least 0.45", rate)
	}
}

// TestLivelockFailsFast: a run above its event budget stops at once as a
// liveness failure with a trace, instead of running for minutes.
func TestLivelockFailsFast(t *testing.T) {
	t.Parallel()
	c := faulty(4, 1, 1)
	c.EventBudgetPerSecond = 50
	r := sim.Run(c)
	if !strings.Contains(r.LivenessFailure, "livelock") || len(r.Trace) == 0 {
		t.Fatalf("event budget not enforced: %q (trace %d lines)", r.LivenessFailure, len(r.Trace))
	}
	c = faulty(4, 1, 1)
	c.StallEvents = 3
	if r := sim.Run(c); !strings.Contains(r.LivenessFailure, "time stands still") {
		t.Fatalf("stall not detected: %q", r.LivenessFailure)
	}
}

// TestScenarioIsDeterministic: scenario N is always the same scenario.
func TestScenarioIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := sim.GenerateScenario(4, 1, 8, 42), sim.GenerateScenario(4, 1, 8, 42)
	if a.String() != b.String() || a.String() == sim.GenerateScenario(4, 1, 8, 43).String() {
		t.Fatalf("scenario generation is not a function of its index:\n%s\n%s", a, b)
	}
}

// TestFailedViewsAreCounted: with one of four replicas crashed from the
// start and the plain leader schedule, at least the quarter of views it
// leads fail (no QC certifies them), and liveness holds. The accounting is
// what this test pins (TestReputationRetiresCrashedLeaders uses it).
func TestFailedViewsAreCounted(t *testing.T) {
	t.Parallel()
	var views, failed uint64
	for seed := uint64(1); seed <= 40; seed++ {
		c := faulty(4, 0, seed)
		c.Crashed = 1
		c.Reputation = reputation.Params{}
		r := sim.Run(c)
		requireOK(t, r)
		views, failed = views+r.ViewsAfterGST, failed+r.FailedViewsAfterGST
	}
	if frac := float64(failed) / float64(views); frac < 0.2 || frac > 0.8 {
		t.Fatalf("one of four crashed: %.3f of views failed after GST, want the dead leader's share at least", frac)
	}
	var clean uint64
	for seed := uint64(1); seed <= 20; seed++ {
		c := sim.DefaultConfig()
		c.Seed = seed
		r := sim.Run(c)
		requireOK(t, r)
		clean += r.FailedViewsAfterGST
	}
	if clean != 0 {
		t.Fatalf("fault-free runs report %d failed views", clean)
	}
}

// TestSlowReplicaStaysCorrect: a replica ten times slower than every other
// link is always last; every rule holds and the network stays live.
func TestSlowReplicaStaysCorrect(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 20; seed++ {
		c := faulty(7, 0, seed)
		c.Byzantine, c.Slow = 1, 1
		requireOK(t, sim.Run(c))
	}
	c := faulty(4, 1, 1)
	c.Slow = 4 // only three identities are honest
	if r := sim.Run(c); r.Err == "" {
		t.Fatal("more slow replicas than honest ones accepted")
	}
}

// TestReputationRetiresCrashedLeaders is the liveness invariant of leader
// reputation: with f replicas crashed from the start (4 and 7 members),
// under 5% of the views after the window fills fail in every run, where
// the plain schedule loses the dead members' share and the views before
// theirs (over 40% with one of four dead). 5 seeds of each size: with
// reputation every seed fails 0 or 1 of 300 views, without it every seed
// fails over 35% (seeds 1-20 of both sizes), so each seed alone tells the
// two apart; the CI suite soaks 150 and 80 seeds.
func TestReputationRetiresCrashedLeaders(t *testing.T) {
	t.Parallel()
	var views, failed uint64
	for _, nc := range []struct{ nodes, crashed int }{{4, 1}, {7, 2}} {
		for seed := uint64(1); seed <= 5; seed++ {
			c := sim.DefaultConfig()
			c.Seed, c.Nodes, c.Crashed, c.Views = seed, nc.nodes, nc.crashed, 600
			c.MaxFailedViews = 0.05
			r := sim.Run(c)
			requireOK(t, r)
			views, failed = views+r.ViewsAfterGST, failed+r.FailedViewsAfterGST
		}
	}
	if views == 0 || float64(failed) > 0.05*float64(views) {
		t.Fatalf("%d of %d views failed with crashed replicas", failed, views)
	}
	// The same runs without reputation break the bound: the check can fail.
	c := sim.DefaultConfig()
	c.Seed, c.Nodes, c.Crashed, c.Views = 1, 4, 1, 600
	c.MaxFailedViews = 0.05
	c.Reputation = reputation.Params{}
	if r := sim.Run(c); r.LivenessFailure == "" {
		t.Fatalf("plain leader schedule with a dead member passed the failed-view bound (%d of %d failed)", r.FailedViewsAfterGST, r.ViewsAfterGST)
	}
}
