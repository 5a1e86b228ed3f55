package replica_test

import (
	"testing"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/replica"
)

func fourMembers(t *testing.T) *committee.Committee {
	t.Helper()
	_, _, com, _ := poolFixture(t)
	return com
}

// Votes for one block are held until they could form a QC (3 of 4), then
// released as one batch; later ones go alone; a second vote by a signer in
// a view is never batched (it may be a double vote, which must reach the
// core); strangers and views outside the window are dropped; pruned views
// start over.
func TestVoteBatcher(t *testing.T) {
	com := fourMembers(t)
	b := replica.NewVoteBatcher(func(model.View) (*committee.Committee, error) { return com, nil })
	block := model.Identifier{1}
	vote := func(i int, view model.View, id model.Identifier) *model.Vote {
		return &model.Vote{View: view, BlockID: id, SignerID: com.Member(i).ID, Signature: []byte{byte(i)}}
	}
	if got := b.Add(vote(0, 5, block), 5); got != nil {
		t.Fatalf("first vote released: %d", len(got))
	}
	if got := b.Add(vote(1, 5, block), 5); got != nil {
		t.Fatalf("second vote released: %d", len(got))
	}
	if got := b.Add(vote(2, 5, block), 5); len(got) != 3 {
		t.Fatalf("the supermajority released %d votes, want 3", len(got))
	}
	if got := b.Add(vote(3, 5, block), 5); len(got) != 1 {
		t.Fatalf("a vote after the release: %d, want it alone", len(got))
	}
	if got := b.Add(vote(0, 5, model.Identifier{2}), 5); len(got) != 1 {
		t.Fatalf("a second vote by a signer in a view: %d, want it alone", len(got))
	}
	stranger := &model.Vote{View: 5, BlockID: block, SignerID: model.NodeID{9}, Signature: []byte{9}}
	if got := b.Add(stranger, 5); got != nil {
		t.Fatal("a stranger's vote was released")
	}
	if got := b.Add(vote(0, 3, block), 5); got != nil {
		t.Fatal("a vote two views old was held or released")
	}
	if got := b.Add(vote(0, 5+33, block), 5); got != nil {
		t.Fatal("a vote beyond the window was held or released")
	}
	b.Prune(7)
	for i := 0; i < 2; i++ {
		if got := b.Add(vote(i, 5, block), 5); got != nil {
			t.Fatalf("after pruning, vote %d of view 5 released %d", i, len(got))
		}
	}
}
