package storage

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/safety"
)

// Blocks here are valid in shape only (QCs with one signer bit and a 1-byte
// signature): signatures are not storage's concern. The builders panic
// rather than take a *testing.T so that the crash child (which has none)
// can use them; a panic fails the test all the same.

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func shapeQC(b *model.Block) *model.QC {
	s := must(model.NewSignerSet(4))
	s.Set(0)
	return &model.QC{View: b.View, BlockID: b.ID(), Signers: s, Signature: []byte{1}}
}

// child builds a block of view extending parent, with a TC when it skips
// views, and a payload of payloadLen bytes derived from the view.
func child(parent *model.Block, view model.View, payloadLen int) *model.Block {
	q := shapeQC(parent)
	var tc *model.TC
	if q.View+1 != view {
		s := must(model.NewSignerSet(4))
		s.Set(0)
		tc = &model.TC{View: view - 1, NewestQC: q, NewestQCViews: []model.View{q.View}, Signers: s, Signature: []byte{1}}
	}
	payload := bytes.Repeat([]byte{byte(view)}, payloadLen)
	return must(model.NewBlock(model.Header{ChainID: parent.ChainID, View: view, Height: parent.Height + 1, ParentID: parent.ID(), QC: q, TC: tc,
		ProposerID: model.Identifier{byte(view)}, Timestamp: int64(view) * 1000, PayloadHash: model.PayloadHash(payload)}, payload))
}

// chainOf extends parent with one block per view.
func chainOf(parent *model.Block, views ...model.View) []*model.Block {
	var out []*model.Block
	for _, v := range views {
		parent = child(parent, v, 16)
		out = append(out, parent)
	}
	return out
}

func genesisAt(view model.View, height uint64) consensus.State {
	root := must(model.NewRootBlock(testChain, view, height, 0, []byte("genesis")))
	return consensus.GenesisState(root, must(model.NewRootQC(view, root.ID(), 4)))
}

func genesis() consensus.State { return genesisAt(0, 0) }

// safetyAt is safety data that exercises every field, including a timeout.
func safetyAt(v model.View, last *model.Block) *safety.Data {
	to := must(model.NewTimeoutObject(v, shapeQC(last), tcIfGap(last, v), model.Identifier{9}, []byte{7}))
	return &safety.Data{LockedView: last.View, HighestAcknowledgedView: v, HighestProposedView: v - 1, LastTimeout: to}
}

func tcIfGap(last *model.Block, v model.View) *model.TC {
	if last.View+1 == v {
		return nil
	}
	s := must(model.NewSignerSet(4))
	s.Set(1)
	return &model.TC{View: v - 1, NewestQC: shapeQC(last), NewestQCViews: []model.View{last.View}, Signers: s, Signature: []byte{2}}
}

func livenessAt(v model.View, last *model.Block) *pacemaker.Data {
	return &pacemaker.Data{CurrentView: v, NewestQC: shapeQC(last), LastViewTC: tcIfGap(last, v), FailedViews: 1}
}

func sortBlocks(bs []*model.Block) []*model.Block {
	out := slices.Clone(bs)
	slices.SortFunc(out, func(a, b *model.Block) int {
		if c := cmp.Compare(a.View, b.View); c != 0 {
			return c
		}
		ia, ib := a.ID(), b.ID()
		return bytes.Compare(ia[:], ib[:])
	})
	return out
}

func sameBlock(a, b *model.Block) bool {
	return a != nil && b != nil && a.ID() == b.ID() && bytes.Equal(a.Encode(), b.Encode())
}

// diffState compares by canonical encodings: what matters is that the
// restarted replica sees byte-for-byte what it persisted.
func diffState(got, want consensus.State) error {
	if !sameBlock(got.Root, want.Root) {
		return fmt.Errorf("root %v, want %v", got.Root.ID(), want.Root.ID())
	}
	gb, wb := got.Blocks, sortBlocks(want.Blocks)
	if len(gb) != len(wb) {
		return fmt.Errorf("%d blocks (views %v), want %d (views %v)", len(gb), viewsOf(gb), len(wb), viewsOf(wb))
	}
	for i := range gb {
		if !sameBlock(gb[i], wb[i]) {
			return fmt.Errorf("block %d: views %v, want %v", i, viewsOf(gb), viewsOf(wb))
		}
	}
	if !bytes.Equal(got.Safety.Encode(), want.Safety.Encode()) {
		return fmt.Errorf("safety %+v, want %+v", got.Safety, want.Safety)
	}
	if !bytes.Equal(got.Liveness.Encode(), want.Liveness.Encode()) {
		return fmt.Errorf("liveness %+v, want %+v", got.Liveness, want.Liveness)
	}
	return nil
}

func viewsOf(bs []*model.Block) []model.View {
	var out []model.View
	for _, b := range bs {
		out = append(out, b.View)
	}
	return out
}

// harness runs a test against one implementation; reopen simulates a
// restart (Pebble: close and open the directory again; Memory: keep using
// the same value, which is all a Memory can offer).
type harness struct {
	t      *testing.T
	s      Store
	reopen func()
}

type impl struct {
	name string
	open func(t *testing.T) *harness
}

var impls = []impl{
	{"pebble", func(t *testing.T) *harness {
		dir := t.TempDir()
		h := &harness{t: t, s: mustOpen(t, dir)}
		h.reopen = func() {
			if err := h.s.Close(); err != nil {
				t.Fatal(err)
			}
			h.s = mustOpen(t, dir)
		}
		t.Cleanup(func() { _ = h.s.Close() })
		return h
	}},
	{"memory", func(t *testing.T) *harness {
		return &harness{t: t, s: NewMemory(), reopen: func() {}}
	}},
}

func mustOpen(t testing.TB, dir string) *Pebble {
	t.Helper()
	p, err := OpenPebble(dir, WithCacheSize(8<<20), WithMemTableSize(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func forEach(t *testing.T, fn func(t *testing.T, h *harness)) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) { fn(t, im.open(t)) })
	}
}

func (h *harness) init(st consensus.State) {
	h.t.Helper()
	if err := h.s.Init(st); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) commit(c Commit) {
	h.t.Helper()
	if err := h.s.Commit(c); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) load() consensus.State {
	h.t.Helper()
	st, ok, err := h.s.LoadState()
	if err != nil || !ok {
		h.t.Fatalf("LoadState: ok=%v err=%v", ok, err)
	}
	return st
}

// testChain is the chain these tests' blocks and messages belong to.
var testChain = model.MainChain("test")
