package collection_test

import (
	"errors"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// latestMain is a mainChain view whose newest finalized block is top.
type latestMain struct {
	mainChain
	top uint64
}

func (m latestMain) Latest() (model.Identifier, uint64) { return mainID(m.top), m.top }

func chainBlock(t *testing.T, parent *model.Block, p *collection.Payload) *model.Block {
	t.Helper()
	payload := p.Encode()
	b, err := model.NewBlock(model.Header{ChainID: parent.ChainID, View: parent.View + 1, Height: parent.Height + 1,
		ParentID: parent.ID(), QC: &model.QC{View: parent.View, BlockID: parent.ID()}, PayloadHash: model.PayloadHash(payload)}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestChain(t *testing.T, maxTxs int) (*collection.Chain, *model.Block) {
	t.Helper()
	root, err := model.NewRootBlock(model.ClusterChain(model.MainChain("t"), 0, 0), 0, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	lim := collection.DefaultLimits()
	lim.MaxTxs = maxTxs
	rules := collection.Rules{Expiry: 50, Limits: lim, K: 1, Index: 0, Epoch: 0}
	c, err := collection.NewChain(rules, latestMain{newMain(100, 0), 100}, root, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c, root
}

// A block and its child checked in one step (a synced batch holds both):
// the child's check needs the parent in the index before the step's
// output is applied, so Validate indexes what it accepts. The repeat rule
// still holds on that fork. Before, the child was refused with "parent
// not indexed" (the simulator's seed, sim.TestClusterPinnedRegressions).
func TestValidateIndexesWhatItAccepts(t *testing.T) {
	c, root := newTestChain(t, 10)
	x, y := txFor(t, 1, 0, 90, "x"), txFor(t, 1, 0, 90, "y")
	a := chainBlock(t, root, &collection.Payload{Ref: mainID(99), Collection: collection.NewCollection([]collection.Tx{x})})
	b := chainBlock(t, a, &collection.Payload{Ref: mainID(100), Collection: collection.NewCollection([]collection.Tx{y})})
	if err := c.Validate(a, root); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(b, a); err != nil {
		t.Fatalf("child checked before its parent was added: %v", err)
	}
	again := chainBlock(t, b, &collection.Payload{Ref: mainID(100), Collection: collection.NewCollection([]collection.Tx{x})})
	if err := c.Validate(again, b); !errors.Is(err, collection.ErrSeen) {
		t.Fatalf("x again on the fork through a: %v, want ErrSeen", err)
	}
	// Adding what Validate indexed is a no-op, as the replica's output does.
	for _, blk := range []*model.Block{a, b} {
		if err := c.Add(blk); err != nil {
			t.Fatal(err)
		}
	}
}

// A leader's candidate window grows by what its unfinalized fork carries:
// those transactions stay pooled until finality and are skipped, so a
// fixed window would fill with them and the leader would propose empty
// collections with a full pool.
func TestCandidatesGrowWithTheUnfinalizedFork(t *testing.T) {
	c, root := newTestChain(t, 2)
	if n := c.Candidates(root); n != 8 {
		t.Fatalf("window on the root: %d, want 4 collections of 2", n)
	}
	pool := []collection.Tx{txFor(t, 1, 0, 90, "a"), txFor(t, 1, 0, 90, "b")}
	a := chainBlock(t, root, &collection.Payload{Ref: mainID(100), Collection: collection.NewCollection(pool)})
	if err := c.Validate(a, root); err != nil {
		t.Fatal(err)
	}
	if n := c.Candidates(a); n != 10 {
		t.Fatalf("window on a block carrying 2: %d, want 10", n)
	}
}
