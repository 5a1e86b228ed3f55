package forks_test

import (
	"errors"
	"testing"

	"github.com/floe-bft/floe/consensus/forks"
	"github.com/floe-bft/floe/consensus/model"
)

// chain builds blocks by view: child(parent, view) makes a block of that
// view extending parent with a (shape-only) QC for the parent.
type chain struct {
	t    *testing.T
	root *model.Block
}

func newChain(t *testing.T) *chain {
	root, err := model.NewRootBlock(testChain, 0, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &chain{t: t, root: root}
}

func qcFor(b *model.Block) *model.QC {
	s, _ := model.NewSignerSet(4)
	s.Set(0)
	return &model.QC{View: b.View, BlockID: b.ID(), Signers: s, Signature: []byte{1}}
}

func (c *chain) child(parent *model.Block, view model.View) *model.Block {
	c.t.Helper()
	q := qcFor(parent)
	var tc *model.TC
	if q.View+1 != view {
		s, _ := model.NewSignerSet(4)
		s.Set(0)
		tc = &model.TC{View: view - 1, NewestQC: q, NewestQCViews: []model.View{q.View}, Signers: s, Signature: []byte{1}}
	}
	b, err := model.NewBlock(model.Header{ChainID: parent.ChainID, View: view, Height: parent.Height + 1, ParentID: parent.ID(), QC: q, TC: tc,
		PayloadHash: model.PayloadHash([]byte{byte(view)})}, []byte{byte(view)})
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func views(bs []*model.Block) []model.View {
	var out []model.View
	for _, b := range bs {
		out = append(out, b.View)
	}
	return out
}

func equalViews(a, b []model.View) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The 2-chain rule: a certified block whose parent has the view just below
// it makes the parent (and its ancestors) final; any gap in views does not.
func TestTwoChainFinality(t *testing.T) {
	cases := []struct {
		name      string
		views     []model.View // a single chain extending the root
		certifyAt int          // index of the block a separate QC certifies (-1: none)
		final     []model.View
	}{
		{"consecutive pair certified", []model.View{1, 2}, 1, []model.View{1}},
		{"pair not yet certified", []model.View{1, 2}, -1, nil},
		{"gap between parent and certified child", []model.View{1, 3}, 1, nil},
		{"child QC certifies parent, grandchild not certified", []model.View{1, 2, 3}, -1, []model.View{1}},
		{"three consecutive, last certified", []model.View{1, 2, 3}, 2, []model.View{1, 2}},
		{"gap below, consecutive above", []model.View{1, 3, 4}, 2, []model.View{1, 3}},
		{"consecutive below, gap above", []model.View{1, 2, 4}, 2, []model.View{1}},
		{"gaps everywhere", []model.View{2, 4, 6, 8}, 3, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newChain(t)
			f := forks.New(c.root, forks.Faults{})
			parent := c.root
			var blocks []*model.Block
			var final []*model.Block
			for _, v := range tc.views {
				b := c.child(parent, v)
				got, err := f.AddBlock(b)
				if err != nil {
					t.Fatalf("add view %d: %v", v, err)
				}
				final = append(final, got...)
				blocks = append(blocks, b)
				parent = b
			}
			if tc.certifyAt >= 0 {
				got, err := f.AddQC(qcFor(blocks[tc.certifyAt]))
				if err != nil {
					t.Fatal(err)
				}
				final = append(final, got...)
			}
			if !equalViews(views(final), tc.final) {
				t.Fatalf("finalized views %v, want %v", views(final), tc.final)
			}
			if len(tc.final) > 0 && f.Root().View != tc.final[len(tc.final)-1] {
				t.Fatalf("root view %d, want %d", f.Root().View, tc.final[len(tc.final)-1])
			}
		})
	}
}

// The test-only fault really breaks the rule it names.
func TestNonConsecutiveFaultFinalizesAcrossGaps(t *testing.T) {
	c := newChain(t)
	f := forks.New(c.root, forks.Faults{FinalizeNonConsecutive: true})
	b1 := c.child(c.root, 1)
	b3 := c.child(b1, 3)
	f.AddBlock(b1)
	f.AddBlock(b3)
	final, _ := f.AddQC(qcFor(b3))
	if !equalViews(views(final), []model.View{1}) {
		t.Fatalf("faulty forks finalized %v", views(final))
	}
}

func TestQCBeforeBlock(t *testing.T) {
	c := newChain(t)
	f := forks.New(c.root, forks.Faults{})
	b1 := c.child(c.root, 1)
	b2 := c.child(b1, 2)
	if final, _ := f.AddQC(qcFor(b2)); len(final) != 0 {
		t.Fatal("finalized without blocks")
	}
	f.AddBlock(b1)
	final, err := f.AddBlock(b2)
	if err != nil || !equalViews(views(final), []model.View{1}) {
		t.Fatalf("a block arriving after its QC must count as certified: %v %v", views(final), err)
	}
}

func TestFinalizationPrunesForks(t *testing.T) {
	c := newChain(t)
	f := forks.New(c.root, forks.Faults{})
	b1 := c.child(c.root, 1)
	fork := c.child(c.root, 2) // sibling of b1 via a TC
	b3 := c.child(b1, 3)
	b4 := c.child(b3, 4)
	for _, b := range []*model.Block{b1, fork, b3, b4} {
		if _, err := f.AddBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.AddQC(qcFor(b4)); err != nil {
		t.Fatal(err)
	}
	if f.Root().ID() != b3.ID() {
		t.Fatalf("root is view %d, want 3", f.Root().View)
	}
	if f.Block(fork.ID()) != nil {
		t.Fatal("the fork off the finalized chain was not pruned")
	}
	late := c.child(fork, 5)
	if _, err := f.AddBlock(late); !errors.Is(err, forks.ErrOutdated) {
		t.Fatalf("a block extending a pruned fork must be outdated, got %v", err)
	}
}

func TestMissingParentAndInconsistentBlocks(t *testing.T) {
	c := newChain(t)
	f := forks.New(c.root, forks.Faults{})
	b1 := c.child(c.root, 1)
	b2 := c.child(b1, 2)
	if _, err := f.AddBlock(b2); !errors.Is(err, forks.ErrMissingParent) {
		t.Fatalf("want ErrMissingParent, got %v", err)
	}
	f.AddBlock(b1)
	bad, err := model.NewBlock(model.Header{ChainID: b1.ChainID, View: 2, Height: 5, ParentID: b1.ID(), QC: qcFor(b1),
		PayloadHash: model.PayloadHash(nil)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddBlock(bad); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("wrong height must be invalid, got %v", err)
	}
	foreign, err := model.NewBlock(model.Header{ChainID: model.MainChain("other"), View: 2, Height: 2, ParentID: b1.ID(), QC: qcFor(b1),
		PayloadHash: model.PayloadHash(nil)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddBlock(foreign); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("a child of another chain must be invalid, got %v", err)
	}
}

// A certified 2-chain on a fork below the finalized block means two
// conflicting blocks are final: fatal, not a benign rejection.
func TestConflictingFinalityIsFatal(t *testing.T) {
	c := newChain(t)
	f := forks.New(c.root, forks.Faults{})
	b1 := c.child(c.root, 1)
	b2 := c.child(b1, 2)
	b3 := c.child(b2, 3)
	for _, b := range []*model.Block{b1, b2, b3} {
		f.AddBlock(b)
	}
	f.AddQC(qcFor(b3))
	if f.Root().View != 2 {
		t.Fatalf("setup: root view %d", f.Root().View)
	}
	// A conflicting chain: x2 (view 2) extends b1 too; y3 extends x2 and is
	// certified, so x2 would be final.
	x2, err := model.NewBlock(model.Header{ChainID: b1.ChainID, View: 2, Height: 2, ParentID: b1.ID(), QC: qcFor(b1),
		PayloadHash: model.PayloadHash([]byte("x")), ProposerID: model.NodeID{9}}, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	y3 := c.child(x2, 3)
	f.AddBlock(x2)
	if _, err := f.AddQC(qcFor(y3)); err != nil {
		t.Fatal(err) // unknown block: remembered only
	}
	_, err = f.AddBlock(y3)
	if !errors.Is(err, forks.ErrConflictingFinality) {
		t.Fatalf("want ErrConflictingFinality, got %v", err)
	}
}

// testChain is the chain these tests' blocks and messages belong to.
var testChain = model.MainChain("test")
