package consensus_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/evidence"
	node "github.com/floe-bft/floe/role/consensus"
)

// startFaulty starts node i like testnet.start, with test faults.
func (tn *testnet) startFaulty(i int, f node.Faults) {
	tn.t.Helper()
	reg := prometheus.NewRegistry()
	cfg := tn.config(i, reg)
	cfg.Faults = f
	nd, err := node.New(cfg)
	if err != nil {
		tn.t.Fatalf("node %d: %v", i, err)
	}
	if err := nd.Start(context.Background()); err != nil {
		tn.t.Fatalf("start node %d: %v", i, err)
	}
	tn.nodes[i], tn.regs[i] = nd, reg
}

// stalledAtViewOne starts only the leader of view 1 and one other member of
// a 4-node committee: the leader proposes, the other votes, and neither a
// QC nor a TC can form, so both stay in view 1. It returns their indices
// once the leader has proposed.
func stalledAtViewOne(t *testing.T, tn *testnet) (leader, other int) {
	t.Helper()
	com, _, err := tn.gen.Committee()
	if err != nil {
		t.Fatal(err)
	}
	leaderID := com.Leader(1)
	leader = -1
	for i, k := range tn.keys {
		if k.NodeID() == leaderID {
			leader = i
		}
	}
	other = (leader + 1) % len(tn.keys)
	// The other node starts first: the leader proposes as it starts, and
	// the in-memory network loses frames to a node not yet there (the
	// leader never resends its proposal, so evidence would need it).
	tn.start(other)
	tn.start(leader)
	waitFor(t, "the leader of view 1 to propose", 20*time.Second, func() bool {
		return metric(t, tn.regs[leader], "floe_proposals_total") >= 1
	})
	// The proposal must have reached the other node before the leader
	// restarts; its first timeout (400 ms) comes after the proposal was
	// delivered over loopback.
	waitFor(t, "the other node to time out in view 1", 20*time.Second, func() bool {
		return metric(t, tn.regs[other], "floe_timeouts_total") >= 1
	})
	if v := tn.nodes[other].Status().View; v != 1 {
		t.Fatalf("two of four nodes left view 1 (view %d): the committee is not stalled", v)
	}
	return leader, other
}

// A leader that forgets its safety data across a restart proposes a second
// block for the view it already proposed in; the peer that saw both keeps
// verifiable double-proposal evidence, and keeps it across its own restart.
func TestForgottenSafetyDataIsCaughtAsEvidence(t *testing.T) {
	tn := newTestnet(t, 4)
	leader, other := stalledAtViewOne(t, tn)
	tn.stop(leader)
	tn.startFaulty(leader, node.Faults{ForgetSafetyData: true})

	var ev []evidence.Record
	waitFor(t, "double-proposal evidence at the other node", 20*time.Second, func() bool {
		ev, _ = tn.nodes[other].Evidence()
		return len(ev) > 0
	})
	r := ev[0]
	if r.Kind != model.DoubleProposal || r.Offender != tn.keys[leader].NodeID() || r.View != 1 {
		t.Fatalf("evidence %v by %v in view %d, want double-proposal by node %d in view 1", r.Kind, r.Offender, r.View, leader)
	}
	checkProposalEvidence(t, tn, r)

	// The record survives a restart of the node that kept it.
	tn.stop(other)
	tn.start(other)
	kept, _ := tn.nodes[other].Evidence()
	if len(kept) != len(ev) || kept[0].View != r.View || kept[0].Kind != r.Kind || string(kept[0].Messages[1]) != string(r.Messages[1]) {
		t.Fatalf("after a restart the node keeps %d records (%+v), want %d", len(kept), kept, len(ev))
	}
}

// The same restart without the fault: the leader refuses to propose again
// in view 1 and nobody records evidence.
func TestRestartWithSafetyDataProposesNothingNew(t *testing.T) {
	tn := newTestnet(t, 4)
	leader, other := stalledAtViewOne(t, tn)
	tn.stop(leader)
	tn.start(leader)
	// Core.Start proposes synchronously if it may; by the restarted node's
	// first timeout that chance has passed.
	waitFor(t, "the restarted leader to time out", 20*time.Second, func() bool {
		return metric(t, tn.regs[leader], "floe_timeouts_total") >= 1
	})
	if p := metric(t, tn.regs[leader], "floe_proposals_total"); p != 0 {
		t.Fatalf("the restarted leader proposed %v times in a view it had proposed in", p)
	}
	for _, i := range []int{leader, other} {
		if ev, _ := tn.nodes[i].Evidence(); len(ev) != 0 {
			t.Fatalf("node %d recorded evidence: %+v", i, ev)
		}
	}
}

// checkProposalEvidence verifies a double-proposal record the way an
// outside auditor would: both messages decode, are validly signed by the
// offender as leader of the view, and propose different blocks.
func checkProposalEvidence(t *testing.T, tn *testnet, r evidence.Record) {
	t.Helper()
	com, _, err := tn.gen.Committee()
	if err != nil {
		t.Fatal(err)
	}
	root, rootQC, err := tn.gen.Root(com.Size())
	if err != nil {
		t.Fatal(err)
	}
	v := verify.New(root.ChainID, com, crypto.BLS(), rootQC)
	var ids [2]model.Identifier
	for i, m := range r.Messages {
		p, err := model.DecodeProposal(m)
		if err != nil {
			t.Fatalf("evidence message %d: %v", i, err)
		}
		if err := v.Proposal(p); err != nil {
			t.Fatalf("evidence message %d does not verify: %v", i, err)
		}
		if p.Block.View != r.View || p.Block.ProposerID != r.Offender {
			t.Fatalf("evidence message %d is a proposal for view %d by %v", i, p.Block.View, p.Block.ProposerID)
		}
		ids[i] = p.Block.ID()
	}
	if ids[0] == ids[1] {
		t.Fatal("evidence holds the same block twice")
	}
}
