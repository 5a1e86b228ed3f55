package sim_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/sim"
)

// The tests in this package call t.Parallel (all but the two whose -v log
// CI greps): sim.Run is a deterministic, single-threaded function of its
// Config that shares no state with other runs (the race detector checks
// that claim), so the tests can use every core; on CI's two cores that
// nearly halves the package's time under -race.

// faulty is the fault mix the acceptance run uses: twins, loss,
// changing partitions, crashes, staggered starts.
func faulty(nodes, twins int, seed uint64) sim.Config {
	c := sim.DefaultConfig()
	c.Seed, c.Nodes, c.Twins = seed, nodes, twins
	c.Loss, c.Partitions, c.Crashes, c.Stagger = 0.05, true, true, true
	return c
}

func requireOK(t *testing.T, r sim.Result) {
	t.Helper()
	if !r.OK() {
		t.Fatalf("seed %d failed: err=%q safety=%v liveness=%q\ntrace tail:\n%s", r.Seed, r.Err, r.SafetyViolations,
			r.LivenessFailure, strings.Join(r.Trace[max(0, len(r.Trace)-40):], "\n"))
	}
	if r.MinFinalizedHeight == 0 {
		t.Fatalf("seed %d: an honest replica finalized nothing", r.Seed)
	}
}

// TestSimulatorSeedsWithTwinsAndFaults runs 48 seeds of 4 replicas (one
// byzantine identity as twins) plus 12 seeds of 7 (two twin identities)
// under every fault the simulator injects. The volume soak is the CI suite
// (3,000 and 500 seeds of these mixes); here every fault switch these
// mixes can expose fails within the first 6 seeds of each size, the rarest
// (skip-extend-rule) in about 4 seeds of 10, so 48 and 12 still fail on
// any of them.
func TestSimulatorSeedsWithTwinsAndFaults(t *testing.T) {
	t.Parallel()
	seeds := uint64(48)
	if testing.Short() {
		seeds = 16
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		requireOK(t, sim.Run(faulty(4, 1, seed)))
	}
	for seed := uint64(1); seed <= seeds/4; seed++ {
		c := faulty(7, 2, seed)
		c.Dup = 0.05
		requireOK(t, sim.Run(c))
	}
}

// TestWeightedCommittee runs seeds where members have different weights.
func TestWeightedCommittee(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 30; seed++ {
		c := faulty(5, 1, seed)
		c.Weighted = true
		requireOK(t, sim.Run(c))
	}
}

// TestEpochBoundaries runs seeds whose views are split into 3-view epochs,
// each with its own committee and leader seed: almost every view has votes,
// timeouts, QCs or TCs that straddle a committee change. A core or verifier
// that looked a committee up for the wrong view would pick the wrong leader
// and stall (a liveness failure) or accept a wrongly-signed certificate.
// 40 and 10 seeds: every fault switch these mixes can expose fails within
// the first 3 seeds of each (the CI suite soaks 5-view epochs, 500 seeds).
func TestEpochBoundaries(t *testing.T) {
	t.Parallel()
	seeds := uint64(40)
	if testing.Short() {
		seeds = 20
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		c := faulty(4, 1, seed)
		c.EpochViews = 3
		requireOK(t, sim.Run(c))
	}
	for seed := uint64(1); seed <= seeds/4; seed++ {
		c := faulty(7, 2, seed)
		c.EpochViews = 5
		requireOK(t, sim.Run(c))
	}
}

const restartedTimeoutBug = "replicas restarted after timing out re-broadcast their timeout without counting it: no TC"

func silentCfg(seed uint64) sim.Config {
	c := faulty(4, 0, seed)
	c.Silent = 1
	return c
}

const staleTimeoutBug = "two honest replicas heard the next leaders only through a lagging twin half; " +
	"their timeouts were ignored as stale and nobody sent them a newer QC " +
	"(fixed: a stale timeout is answered with sync info)"

// TestPinnedRegressions replays every seed that once found a bug.
func TestPinnedRegressions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  sim.Config
		bug  string
	}{
		// Found as seeds 32, 99, 108 and 115 by an earlier version of the
		// simulator; 529 and 665 reproduce the same bug with today's fault
		// draws (verified by reverting the fix).
		{"7n2t-seed529", faulty(7, 2, 529), staleTimeoutBug},
		{"7n2t-seed665", faulty(7, 2, 665), staleTimeoutBug},
		// Found with one replica silent from GST: the three left had all
		// restarted in the same view after signing their timeouts, and a
		// re-broadcast never counted the replica's own timeout again, so no
		// TC could form (fixed in consensus.Core.localTimeout; verified by
		// reverting the fix: both seeds stall).
		{"4n-silent-seed242", silentCfg(242), restartedTimeoutBug},
		// The issue's seed 2315 ("no honest supermajority within one view
		// for 2.002s"): a twin leader withheld its proposal (and the QC in
		// it) from one honest replica, which caught up after its own 2 s
		// timer and one round trip. Not a protocol bug: the check now
		// allows one maximum timeout plus a round trip (sim.viewSyncBound).
		// Today's draws no longer reproduce that exact gap; the seed stays
		// as a guard.
		{"4n1t-seed2315", faulty(4, 1, 2315), "view-sync check tighter than the protocol allows"},
		{"4n-silent-seed538", silentCfg(538), restartedTimeoutBug},
	}
	// Found under leader reputation (seed 1 with crashes): a core dropped
	// each finalized block from its history once the next one became
	// final, computed leaders from a shorter history than its peers and
	// proposed for a view it did not lead (the monitors caught it; fixed in
	// consensus.Core.pruneRecent; verified by reverting the fix).
	pinned := sim.DefaultConfig()
	pinned.Seed, pinned.Views, pinned.Crashes = 1, 300, true
	if r := sim.Run(pinned); !r.OK() {
		t.Fatalf("regression (reputation history lost below the root) is back: safety=%v liveness=%q", r.SafetyViolations, r.LivenessFailure)
	}
	// Found as "7 nodes, 2 twins" seed 1481 (loss and duplication 5%,
	// partitions, crashes): after GST a twin identity was drawn as the
	// aggregator of nearly every honest view and withheld the QC, so every
	// honest leader of the window was blamed for a failed view too; with
	// everybody marked, the rule ignored the older-gap marks altogether and
	// the twin stayed eligible: QCs only every second or third view, no
	// 2-chain, nothing finalized for 30 views. Fixed in reputation
	// (history.drawPenalized: older failures divide weights instead);
	// verified by reverting the fix.
	twins := faulty(7, 2, 1481)
	twins.Dup, twins.Stagger = 0.05, false
	if r := sim.Run(twins); !r.OK() {
		t.Fatalf("regression (a withholding aggregator marks every honest leader) is back: safety=%v liveness=%q", r.SafetyViolations, r.LivenessFailure)
	}
	// Found as "7 nodes, 1 twin, 1 adversary, stagger, weighted" seed 231
	// once block sync moved into the replica engine (the fault draws
	// changed): after GST the honest leaders were all blamed for older
	// failed views, the twin's own failures were blamed on others (the
	// blame is computed without the older-gap blame, which had given the
	// twin those views), so the twin was the only unmarked member and led
	// every view after an honest block, withholding its QC: QCs never in
	// consecutive views, nothing finalized for 30 views. Fixed in
	// reputation (history.draw: marks leaving under a third of the stake
	// only divide weights); verified by reverting the fix.
	withholder := sim.DefaultConfig()
	withholder.Seed, withholder.Nodes = 231, 7
	withholder.Loss, withholder.Partitions, withholder.Crashes = 0.05, true, true
	withholder.Twins, withholder.Byzantine, withholder.Stagger, withholder.Weighted, withholder.Dup = 1, 1, true, true, 0.05
	if r := sim.Run(withholder); !r.OK() {
		t.Fatalf("regression (the one member the marks missed leads every view) is back: safety=%v liveness=%q", r.SafetyViolations, r.LivenessFailure)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// These seeds were found under the plain leader schedule.
			tc.cfg.Reputation = reputation.Params{}
			tc.cfg.Stagger = false // every seed was found without staggered starts
			r := sim.Run(tc.cfg)
			if !r.OK() {
				t.Fatalf("regression (%s) is back: safety=%v liveness=%q", tc.bug, r.SafetyViolations, r.LivenessFailure)
			}
		})
	}
}

// TestSameSeedSameRun: a seed reproduces a run exactly, trace included.
func TestSameSeedSameRun(t *testing.T) {
	t.Parallel()
	a := sim.Run(faulty(4, 1, 7))
	b := sim.Run(faulty(4, 1, 7))
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("seed 7 ran differently twice:\n%+v\n%+v", a, b)
	}
	c := sim.Run(faulty(4, 1, 8))
	if reflect.DeepEqual(a.Trace, c.Trace) && a.FinalizedBlocks == c.FinalizedBlocks {
		t.Fatalf("seeds 7 and 8 produced identical runs; the seed is not used")
	}
}

// TestRealBLS runs the simulator with real BLS12-381 signatures.
func TestRealBLS(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 2; seed++ {
		c := faulty(4, 1, seed)
		c.BLS, c.Views = true, 30
		requireOK(t, sim.Run(c))
	}
}

func TestRejectsConfigBeyondFaultBound(t *testing.T) {
	t.Parallel()
	r := sim.Run(faulty(4, 2, 1))
	if r.Err == "" || r.OK() {
		t.Fatalf("4 nodes with 2 twins must be rejected, got %+v", r)
	}
}
