package consensus_test

import (
	"testing"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// signedProposal is the leader of view 1's proposal extending the root,
// with its payload.
func signedProposal(t *testing.T, c *cluster, payload string) *model.Proposal {
	t.Helper()
	root := c.genesis.Root
	qc, err := model.NewRootQC(0, root.ID(), 4)
	if err != nil {
		t.Fatal(err)
	}
	leader := c.leaderOf(1)
	b, err := model.NewBlock(model.Header{ChainID: root.ChainID, View: 1, Height: 1, ParentID: root.ID(), QC: qc,
		ProposerID: c.ids[leader], Timestamp: root.Timestamp + 10, PayloadHash: model.PayloadHash([]byte(payload))}, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := c.keys[leader].Sign(crypto.DomainProposal, model.ProposalMessage(testChain, b.ID()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := model.NewProposal(b, sig)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A proposal a driver holds back (its payload not checkable yet) is
// still checked for equivocation: with another proposal by the same
// leader for the same view, held or delivered, in either order, the core
// records a double proposal, once. A held proposal delivered later is not
// a duplicate: the core takes it and votes. Before HeldProposalEvent a
// parked proposal never reached the core, and the simulator's twins lost
// their evidence (sim.TestClusterPinnedRegressions).
func TestHeldProposalsAreCheckedForEquivocation(t *testing.T) {
	for _, order := range []string{"held then delivered", "delivered then held", "both held"} {
		c := newCluster(t, 4)
		voter := (c.leaderOf(1) + 1) % 4
		c.start(voter)
		a, b := signedProposal(t, c, "a"), signedProposal(t, c, "b")
		var evs []consensus.Event
		switch order {
		case "held then delivered":
			evs = []consensus.Event{consensus.HeldProposalEvent{Proposal: a}, consensus.ProposalEvent{Proposal: b}}
		case "delivered then held":
			evs = []consensus.Event{consensus.ProposalEvent{Proposal: a}, consensus.HeldProposalEvent{Proposal: b}}
		case "both held":
			evs = []consensus.Event{consensus.HeldProposalEvent{Proposal: a}, consensus.HeldProposalEvent{Proposal: b},
				consensus.HeldProposalEvent{Proposal: b}}
		}
		for _, ev := range evs {
			out, err := c.cores[voter].Step(c.now, ev)
			if err != nil {
				t.Fatalf("%s: %v", order, err)
			}
			c.evidence = append(c.evidence, out.Evidence...)
		}
		if len(c.evidence) != 1 || c.evidence[0].Kind != model.DoubleProposal || c.evidence[0].Offender != c.ids[c.leaderOf(1)] {
			t.Fatalf("%s: evidence %+v, want one double proposal by the leader", order, c.evidence)
		}
	}

	// Held, then delivered: the same proposal is taken and voted for.
	c := newCluster(t, 4)
	voter := (c.leaderOf(1) + 1) % 4
	c.start(voter)
	a := signedProposal(t, c, "a")
	if _, err := c.cores[voter].Step(c.now, consensus.HeldProposalEvent{Proposal: a}); err != nil {
		t.Fatal(err)
	}
	out, err := c.cores[voter].Step(c.now, consensus.ProposalEvent{Proposal: a})
	if err != nil {
		t.Fatal(err)
	}
	voted := false
	for _, m := range out.Messages {
		voted = voted || m.Vote != nil && m.Vote.BlockID == a.Block.ID()
	}
	if !voted || len(out.Evidence) != 0 {
		t.Fatalf("held then delivered: voted %v, evidence %v", voted, out.Evidence)
	}
}
