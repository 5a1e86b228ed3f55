package sim

import (
	"strings"
	"testing"

	"github.com/floe-bft/floe/consensus/reputation"
)

// TestKillUnderLoad: replicas killed mid-run under transaction load (with
// execution lagging behind finality, so proposals park in the replica
// engine) cost no transaction and no stall: every seed passes the
// no-transaction-twice invariant, finalizes everything offered after the
// kill within the deadline and never goes MaxTxStall without a finalized
// transaction. Without leader reputation the dead leaders' views stall the
// network, and the same bounds fail. 4 seeds of each size (the CI suite
// soaks 100 and 50): without reputation seed 4 of 4 nodes and seeds 2-4 of
// 7 fail, so the positive runs alone would catch its loss.
func TestKillUnderLoad(t *testing.T) {
	t.Parallel()
	for _, k := range []struct{ nodes, killed int }{{4, 1}, {7, 2}} {
		parked := uint64(0)
		for seed := uint64(1); seed <= 4; seed++ {
			c := KillUnderLoad(k.nodes, k.killed, 1).Config(seed)
			r := Run(c)
			if !r.OK() || r.TxFinalized == 0 {
				t.Fatalf("%d nodes, %d killed, seed %d: %v %s (finalized %d tx)", k.nodes, k.killed, seed, r.SafetyViolations, r.LivenessFailure, r.TxFinalized)
			}
			parked += r.Parked
		}
		if parked == 0 {
			t.Errorf("%d nodes: no proposal ever waited for execution; parking is not exercised", k.nodes)
		}
	}
	// One failing seed is all this needs to show, so it stops at the first
	// (seed 2 today; seeds 3, 4, 5 and 7 fail too).
	failed := 0
	for seed := uint64(1); seed <= 8 && failed == 0; seed++ {
		c := KillUnderLoad(7, 2, 1).Config(seed)
		c.Reputation = reputation.Params{}
		if r := Run(c); r.LivenessFailure != "" {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("without leader reputation every run kept the stall and deadline bounds: the scenario does not test them")
	}
}

// TestRepeatedTransactionsAreCaught: a payload rule that lets a block carry
// a transaction its chain already carries is caught by the invariant.
func TestRepeatedTransactionsAreCaught(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 20; seed++ {
		c := KillUnderLoad(4, 1, 1).Config(seed)
		c.RepeatTxs = true
		r := Run(c)
		for _, v := range r.SafetyViolations {
			if strings.Contains(v, "finalized twice") {
				return
			}
		}
	}
	t.Fatal("20 seeds with the no-repeat rule off never finalized a transaction twice")
}

// TestLoadUnderFaults: under loss, partitions, crash-restarts and a
// replica silent from GST, no transaction is finalized twice and every
// one offered after GST is finalized.
func TestLoadUnderFaults(t *testing.T) {
	t.Parallel()
	s := LoadUnderFaults(1)
	for seed := uint64(1); seed <= 6; seed++ {
		if r := Run(s.Config(seed)); !r.OK() {
			t.Fatalf("seed %d: %v %s", seed, r.SafetyViolations, r.LivenessFailure)
		}
	}
}
