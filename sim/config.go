// Package sim is floe's deterministic simulator. It runs the real consensus
// core (not a model of it) for N weighted replicas on a simulated clock and
// network, injects faults — loss, duplication, reordering, partitions that
// change over time (asymmetric ones too), crashes with restart from
// persisted state, staggered starts, and byzantine twins that also
// equivocate as leaders — and checks safety and liveness invariants after
// every step. One seed reproduces one run exactly.
package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/consensus/verify"
)

// Config describes one simulated run.
type Config struct {
	Seed  uint64
	Nodes int // committee members (identities)
	// Twins is the number of byzantine identities run as twins: two honest
	// instances sharing one key, each heard by a different part of the
	// network, so the identity equivocates. As leaders the twins also send
	// conflicting proposals. Twins ≤ (Nodes-1)/3 keeps the run within the
	// fault bound.
	Twins int
	// Byzantine is the number of adversary identities: each runs one
	// replica whose messages it withholds, replays, equivocates and forges
	// (non-leader proposals, under-weight and malformed certificates,
	// signatures over another view, timeouts with a misleading QC view).
	Byzantine int
	// Silent is the number of honest identities that go down at GST and
	// stay down: liveness must hold with them gone. Twins, Byzantine and
	// Silent together must stay below a third of the weight in every epoch.
	Silent int
	// Crashed is the number of honest identities that never start: f
	// crashed replicas from the first view on.
	Crashed int
	// Slow is the number of honest identities whose links are ten times
	// slower than anyone's: they stay correct but are always last.
	Slow int
	// Views is how far the run goes: it ends once an honest replica reaches
	// this view after the network stabilized (and finality was re-checked).
	Views int

	Loss       float64 // probability a message is dropped (fault phase)
	Dup        float64 // probability a message is delivered twice
	Partitions bool    // network partitions that change over time
	Crashes    bool    // crash and restart replicas from persisted state
	Stagger    bool    // replicas start at different times
	// Weighted gives members different weights instead of equal ones.
	Weighted bool
	// BLS signs with real BLS12-381 instead of the fast insecure scheme.
	BLS bool
	// EpochViews > 0 splits views into epochs of that length, each with its
	// own committee object and leader seed (same members and weights), so
	// every boundary exercises the per-view committee lookups: votes, QCs,
	// timeouts and TCs that straddle an epoch change.
	EpochViews int
	// EpochWeights redraws every epoch's weights (faulty members' too,
	// within the fault bound) and, with five or more members, leaves one
	// honest member out of every other epoch's committee.
	EpochWeights bool
	// Scenario, when set, replaces random faults by a Twins-style scenario:
	// fixed leaders and partitions per round (see scenario.go).
	Scenario *Scenario
	// ScenarioRounds > 0 (with Scenario nil) runs the scenario
	// GenerateScenario(Nodes, Twins, ScenarioRounds, Seed): the seed is the
	// scenario's index, so a search is a range of seeds.
	ScenarioRounds int

	Timeouts pacemaker.Config
	// Reputation is the leader-reputation rule every replica runs (the
	// zero value: the plain stake-weighted schedule).
	Reputation reputation.Params
	// LinkDelayMax is the largest base one-way delay of a link; each link
	// draws its base delay once, and each message adds jitter on top.
	LinkDelayMax time.Duration
	// LivenessViews bounds how many views after stabilization every honest
	// replica must finalize a new block within.
	LivenessViews int
	// MinBlocksPerView is the finalization rate liveness requires after
	// GST: blocks finalized per view advanced, over the stable phase.
	MinBlocksPerView float64
	// MaxFailedViews, when positive, bounds the fraction of views that fail
	// after GST once the leader-reputation window has filled (the liveness
	// invariant for crashed replicas: a dead member must stop leading).
	MaxFailedViews float64
	// EventBudgetPerSecond bounds the events in one simulated second; a run
	// above it is livelocked (e.g. an endless sync exchange) and fails at
	// once with its trace. StallEvents bounds consecutive events at one
	// simulated instant (time standing still).
	EventBudgetPerSecond int
	StallEvents          int
	// NoMonitors switches the rule monitors off, leaving only the outcome
	// invariants (to measure what outcomes alone catch).
	NoMonitors bool

	// Faults breaks protocol rules in every honest replica. Test-only: it
	// exists to prove that the simulator catches unsafe replicas.
	Faults consensus.Faults
	// VerifyFaults weakens the verification in front of honest replicas
	// (test-only, like Faults).
	VerifyFaults verify.Faults

	// ForgetSafetyData restarts crashed honest replicas with fresh safety
	// data, as a node that loses its disk or skips the fsync would.
	// Test-only, like Faults.
	ForgetSafetyData bool

	// Trace prints every event as it happens (to TraceOut).
	Trace bool

	// Load > 0 offers that many transactions a simulated second to every
	// replica that is up; leaders fill blocks with up to MaxBlockTxs of
	// them, and replicas execute finalized blocks ExecLag later, committing
	// to the executed height (a proposal naming a height its receiver has
	// not executed waits in the replica engine). See load.go.
	Load        int
	MaxBlockTxs int
	ExecLag     time.Duration
	// TxDeadline bounds how long after its offer a transaction offered
	// after GST may stay unfinalized; MaxTxStall, when positive, bounds the
	// longest stretch after GST without a finalized transaction.
	TxDeadline time.Duration
	MaxTxStall time.Duration
	// RepeatTxs lets leaders and replicas ignore what the chain a block
	// extends already carries (test-only, like Faults: it proves the
	// no-transaction-twice invariant catches a broken payload rule).
	RepeatTxs bool

	// Cluster runs the chain as a collector cluster's chain under Load:
	// blocks carry collections of up to MaxBlockTxs transactions, built
	// and checked by the collection role's code against a simulated main
	// chain, and no transaction may be in two finalized collections (see
	// collections.go). ExecLag does not apply.
	Cluster bool
	// BadLeaders is the number of byzantine identities of a cluster run
	// that propose invalid collections and accept any; they count against
	// the fault bound.
	BadLeaders int
	// AcceptAnyCollection makes honest cluster replicas accept any
	// collection that decodes (test-only, like Faults: it proves the
	// invariants catch what BadLeaders propose once the rules are off).
	AcceptAnyCollection bool
	// BadKind, when set, is the one kind of invalid collection bad leaders
	// propose (BadCollectionKinds); empty: a kind drawn at random each time.
	BadKind string
}

// DefaultConfig is a small, fault-free run.
func DefaultConfig() Config {
	return Config{
		Seed: 1, Nodes: 4, Views: 100,
		Timeouts: pacemaker.Config{
			Min: 150 * time.Millisecond, Max: 2 * time.Second,
			HappyPathFailedViews: 6, Increase: 1.2,
		},
		Reputation:           reputation.Default(),
		LinkDelayMax:         20 * time.Millisecond,
		LivenessViews:        30,
		MinBlocksPerView:     0.1,
		EventBudgetPerSecond: 200_000,
		StallEvents:          100_000,
	}
}

func (c *Config) validate() error {
	switch {
	case c.Nodes < 1 || c.Nodes > 256:
		return fmt.Errorf("sim: nodes must be 1..256, got %d", c.Nodes)
	case c.Slow < 0 || c.Slow+c.faulty() > c.Nodes:
		return fmt.Errorf("sim: slow replicas must be honest ones: 0..%d", c.Nodes-c.faulty())
	case c.Twins < 0 || c.Byzantine < 0 || c.Silent < 0 || c.Crashed < 0:
		return fmt.Errorf("sim: twins, byzantine, silent and crashed must not be negative")
	case c.faulty() > 0 && 3*c.faulty() >= c.Nodes:
		return fmt.Errorf("sim: %d twins, %d byzantine, %d silent and %d crashed exceed the fault bound for %d nodes (need 3·faulty < nodes)",
			c.Twins, c.Byzantine, c.Silent, c.Crashed, c.Nodes)
	case (c.Scenario != nil || c.ScenarioRounds > 0) && c.EpochViews > 0:
		return fmt.Errorf("sim: scenarios fix leaders in one committee; they do not combine with epochs")
	case c.ScenarioRounds < 0 || c.ScenarioRounds > 1000:
		return fmt.Errorf("sim: scenario rounds must be 0..1000")
	case c.EpochWeights && c.EpochViews <= 0:
		return fmt.Errorf("sim: epoch weights need epoch views")
	case c.MinBlocksPerView < 0 || c.EventBudgetPerSecond <= 0 || c.StallEvents <= 0:
		return fmt.Errorf("sim: liveness rate must not be negative, event budgets must be positive")
	case c.Views < 10:
		return fmt.Errorf("sim: views must be at least 10")
	case c.Loss < 0 || c.Loss >= 1 || c.Dup < 0 || c.Dup >= 1:
		return fmt.Errorf("sim: loss and dup must be in [0, 1)")
	case c.LinkDelayMax <= 0:
		return fmt.Errorf("sim: link delay must be positive")
	case c.LivenessViews <= 0:
		return fmt.Errorf("sim: liveness views must be positive")
	case c.Load < 0 || c.Load > 1_000_000 || c.ExecLag < 0 || c.TxDeadline < 0 || c.MaxTxStall < 0:
		return fmt.Errorf("sim: load must be 0..1000000 tx/s; exec lag, tx deadline and stall bound must not be negative")
	case c.Load > 0 && (c.MaxBlockTxs <= 0 || c.MaxBlockTxs > 4096 || c.TxDeadline <= 0):
		return fmt.Errorf("sim: a run under load needs max block txs in 1..4096 and a tx deadline")
	case (c.BadLeaders > 0 || c.AcceptAnyCollection) && !c.Cluster:
		return errNotCluster
	case c.BadKind != "" && !slices.Contains(BadCollectionKinds, c.BadKind):
		return fmt.Errorf("sim: bad kind %q: want one of %v", c.BadKind, BadCollectionKinds)
	case c.BadLeaders < 0:
		return fmt.Errorf("sim: bad leaders must not be negative")
	case c.Cluster && (c.Load == 0 || c.RepeatTxs):
		return fmt.Errorf("sim: a cluster run needs load, and has no repeat switch (use bad leaders with accept-any-collection)")
	case c.Load > 0 && c.Byzantine > 0:
		return fmt.Errorf("sim: adversaries build payloads without transactions; they do not combine with load")
	}
	return c.Timeouts.Validate()
}

// faulty is the number of identities counted against the fault bound.
func (c *Config) faulty() int { return c.Twins + c.Byzantine + c.Silent + c.Crashed + c.BadLeaders }
