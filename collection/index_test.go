package collection_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

func blockID(name string) model.Identifier {
	return crypto.Sum([]byte("test cluster block"), []byte(name))
}

func entry(tag string, ref uint64) collection.Entry {
	return collection.Entry{ID: crypto.Sum([]byte(tag)), RefHeight: ref}
}

func seen(t *testing.T, x *collection.Index, block string, e collection.Entry) bool {
	t.Helper()
	v, err := x.Fork(blockID(block))
	if err != nil {
		t.Fatalf("fork of %s: %v", block, err)
	}
	return v.Seen(e.ID)
}

func TestIndexForks(t *testing.T) {
	// root ← a ← b
	//      ← c
	x := collection.NewIndex(blockID("root"), 10, 100, 5, 0)
	ta, tb, tc := entry("ta", 100), entry("tb", 101), entry("tc", 100)
	for _, add := range []struct {
		block, parent string
		ref           uint64
		entries       []collection.Entry
	}{
		{"a", "root", 101, []collection.Entry{ta}},
		{"b", "a", 102, []collection.Entry{tb}},
		{"c", "root", 101, []collection.Entry{tc}},
	} {
		if err := x.Add(blockID(add.block), blockID(add.parent), add.ref, add.entries); err != nil {
			t.Fatal(err)
		}
	}
	if !seen(t, x, "b", ta) || !seen(t, x, "b", tb) || seen(t, x, "b", tc) {
		t.Error("fork b sees the wrong transactions")
	}
	if seen(t, x, "c", ta) || !seen(t, x, "c", tc) {
		t.Error("fork c sees the wrong transactions")
	}
	if seen(t, x, "root", ta) || seen(t, x, "root", tc) {
		t.Error("the finalized block sees unfinalized transactions")
	}
	// Adding again changes nothing.
	if err := x.Add(blockID("a"), blockID("root"), 101, []collection.Entry{ta}); err != nil || x.Len() != 3 {
		t.Errorf("second Add: %v, %d entries", err, x.Len())
	}
	wantErr(t, "unknown parent", x.Add(blockID("d"), blockID("nowhere"), 101, nil), collection.ErrUnknownBlock)
	wantErr(t, "regressed reference", x.Add(blockID("d"), blockID("b"), 101, nil), collection.ErrRefRegressed)
	wantErr(t, "finalize unknown", x.Finalize(blockID("nowhere")), collection.ErrUnknownBlock)
	_, err := x.Fork(blockID("nowhere"))
	wantErr(t, "fork of unknown", err, collection.ErrUnknownBlock)

	// Finalizing a drops c: its transaction is free again.
	if err := x.Finalize(blockID("a")); err != nil {
		t.Fatal(err)
	}
	if id, h := x.Finalized(); id != blockID("a") || h != 11 {
		t.Errorf("finalized %v at %d", id, h)
	}
	_, err = x.Fork(blockID("c"))
	wantErr(t, "fork of a lost block", err, collection.ErrUnknownBlock)
	wantErr(t, "child of a lost block", x.Add(blockID("e"), blockID("c"), 101, nil), collection.ErrUnknownBlock)
	if !seen(t, x, "a", ta) || seen(t, x, "a", tc) || !seen(t, x, "b", tb) {
		t.Error("after finalizing a, the forks see the wrong transactions")
	}
	if x.Len() != 2 {
		t.Errorf("%d entries after finalizing a, want 2 (ta final, tb held)", x.Len())
	}
}

func TestIndexPrunesExpired(t *testing.T) {
	x := collection.NewIndex(blockID("root"), 0, 0, 5, 0)
	old, recent := entry("old", 10), entry("recent", 14)
	mustAdd := func(block, parent string, ref uint64, es ...collection.Entry) {
		t.Helper()
		if err := x.Add(blockID(block), blockID(parent), ref, es); err != nil {
			t.Fatal(err)
		}
		if err := x.Finalize(blockID(block)); err != nil {
			t.Fatal(err)
		}
	}
	mustAdd("a", "root", 15, old, recent)
	mustAdd("b", "a", 15)
	// old expires at reference 16 (10 + 5 < 16): not before.
	if x.Len() != 2 || !seen(t, x, "b", old) {
		t.Fatalf("pruned too early: %d entries", x.Len())
	}
	mustAdd("c", "b", 16)
	if x.Len() != 1 || seen(t, x, "c", old) || !seen(t, x, "c", recent) {
		t.Fatalf("after reference 16: %d entries, old seen %v", x.Len(), seen(t, x, "c", old))
	}
	mustAdd("d", "c", 100)
	if x.Len() != 0 {
		t.Fatalf("after reference 100: %d entries", x.Len())
	}
}

func TestIndexFull(t *testing.T) {
	x := collection.NewIndex(blockID("root"), 0, 0, 5, 3)
	if x.Room() != 3 {
		t.Fatalf("room %d", x.Room())
	}
	four := []collection.Entry{entry("1", 1), entry("2", 1), entry("3", 1), entry("4", 1)}
	wantErr(t, "four entries in room for three", x.Add(blockID("a"), blockID("root"), 1, four), collection.ErrFull)
	if x.Len() != 0 {
		t.Fatal("a refused Add changed the index")
	}
	if err := x.Add(blockID("a"), blockID("root"), 1, four[:3]); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "one more", x.Add(blockID("b"), blockID("a"), 1, four[3:]), collection.ErrFull)
	// An empty block still fits: the chain goes on while the index is full.
	if err := x.Add(blockID("b"), blockID("a"), 10, nil); err != nil {
		t.Fatal(err)
	}
	// Finalizing b (reference 10) expires the three (1 + 5 < 10).
	if err := x.Finalize(blockID("b")); err != nil {
		t.Fatal(err)
	}
	if x.Room() != 3 {
		t.Errorf("room %d after pruning", x.Room())
	}
}

// TestIndexProperty grows random cluster block trees with random
// finalizations, proposing with Select and checking with Check against an
// Index, and compares every decision with a model that remembers the whole
// history and never prunes: a transaction is never accepted twice on one
// fork, pruning (of lost forks and of expired entries) never lets an
// unexpired transaction in twice nor refuses a fresh one, and the index
// holds exactly the entries that can still matter.
func TestIndexProperty(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runIndexProperty(t, seed) })
	}
}

type modelBlock struct {
	id        model.Identifier
	parent    *modelBlock
	refHeight uint64
	txs       map[model.Identifier]uint64 // ID → reference height
}

// holds reports whether b or an ancestor carries tx (whole history).
func (b *modelBlock) holds(tx model.Identifier) bool {
	for p := b; p != nil; p = p.parent {
		if _, ok := p.txs[tx]; ok {
			return true
		}
	}
	return false
}

func (b *modelBlock) descendsFrom(a *modelBlock) bool {
	for p := b.parent; p != nil; p = p.parent {
		if p == a {
			return true
		}
	}
	return false
}

func runIndexProperty(t *testing.T, seed uint64) {
	const (
		expiry = 12
		steps  = 300
	)
	rng := rand.New(rand.NewPCG(seed, 0xc011))
	main := newMain(steps*2+10, 0)
	heights := func(id model.Identifier) uint64 { h, _, _ := main.RefHeight(id); return h }
	rules := &collection.Rules{Expiry: expiry, Limits: collection.DefaultLimits(), K: 1, Index: 0, Epoch: 0}
	rules.Limits.MaxTxs = 6
	capacity := 1 + rng.IntN(60) // small enough that some runs fill up
	root := &modelBlock{id: blockID("root"), txs: map[model.Identifier]uint64{}}
	x := collection.NewIndex(root.id, 0, 0, expiry, capacity)
	final, held := root, []*modelBlock{}
	var pool []collection.Tx
	mainFinal := uint64(3)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: "+format, append([]any{seed}, args...)...)
	}
	for step := range steps {
		mainFinal += uint64(rng.IntN(3))
		m := collection.Main{Refs: main, Finalized: mainFinal}
		for range 2 {
			ref := mainFinal - uint64(rng.IntN(min(int(mainFinal), expiry+4)+1))
			pool = append(pool, collection.Tx{Ref: mainID(ref), Body: binary.BigEndian.AppendUint64([]byte("p"), rng.Uint64())})
		}
		if len(pool) > 120 {
			pool = pool[len(pool)-120:]
		}
		if len(held) == 0 || rng.IntN(10) < 7 {
			live := append([]*modelBlock{final}, held...)
			parent := live[rng.IntN(len(live))]
			parentRef := model.ZeroID
			if parent != root {
				parentRef = mainID(parent.refHeight)
			}
			refHeight := min(parent.refHeight+uint64(rng.IntN(5)), mainFinal)
			view, err := x.Fork(parent.id)
			if err != nil {
				fail("step %d: fork of a live block: %v", step, err)
			}
			// Every decision on a single transaction matches the model.
			for range 10 {
				tx := pool[rng.IntN(len(pool))]
				_, err := rules.Check(m, parentRef, payloadOf(refHeight, tx), view)
				h := heights(tx.Ref)
				var want error
				switch {
				case h > refHeight:
					want = collection.ErrRefAhead
				case h+expiry < refHeight:
					want = collection.ErrExpired
				case parent.holds(tx.ID()):
					want = collection.ErrSeen
				}
				if (err == nil) != (want == nil) || (want != nil && !errors.Is(err, want)) {
					fail("step %d: tx with reference %d in a payload at %d, on the fork: %v; Check says %v, model %v",
						step, h, refHeight, parent.holds(tx.ID()), err, want)
				}
			}
			// The proposer builds the block.
			cands := append([]collection.Tx(nil), pool...)
			rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
			sel, err := rules.Select(m, parentRef, mainID(refHeight), cands, view, x.Room())
			if err != nil {
				fail("step %d: Select: %v", step, err)
			}
			b := &modelBlock{id: blockID(fmt.Sprint(step)), parent: parent, refHeight: refHeight, txs: map[model.Identifier]uint64{}}
			for _, e := range sel.Entries {
				if parent.holds(e.ID) {
					fail("step %d: transaction %v accepted twice on one fork", step, e.ID)
				}
				b.txs[e.ID] = e.RefHeight
			}
			if _, err := rules.Check(m, parentRef, sel.Payload, view); err != nil {
				fail("step %d: Check refuses Select's payload: %v", step, err)
			}
			if err := x.Add(b.id, parent.id, refHeight, sel.Entries); err != nil {
				fail("step %d: Add: %v", step, err)
			}
			held = append(held, b)
		} else {
			b := held[rng.IntN(len(held))]
			if err := x.Finalize(b.id); err != nil {
				fail("step %d: Finalize: %v", step, err)
			}
			var kept []*modelBlock
			for _, h := range held {
				if h.descendsFrom(b) {
					kept = append(kept, h)
				} else if h != b {
					if _, err := x.Fork(h.id); !errors.Is(err, collection.ErrUnknownBlock) {
						fail("step %d: a lost block is still held (%v)", step, err)
					}
				}
			}
			final, held = b, kept
		}
		// The index holds exactly what can still matter: the held blocks'
		// transactions and the finalized ones whose window is open.
		want := 0
		for _, h := range held {
			want += len(h.txs)
		}
		for p := final; p != nil; p = p.parent {
			for _, h := range p.txs {
				if h+expiry >= final.refHeight {
					want++
				}
			}
		}
		if x.Len() != want || x.Len() > capacity {
			fail("step %d: index holds %d entries, model %d, capacity %d", step, x.Len(), want, capacity)
		}
	}
}

func TestIndexPending(t *testing.T) {
	root := model.Identifier{1}
	x := collection.NewIndex(root, 0, 0, 10, 0)
	a, b, c := model.Identifier{2}, model.Identifier{3}, model.Identifier{4}
	if err := x.Add(a, root, 1, []collection.Entry{{ID: model.Identifier{9}, RefHeight: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := x.Add(b, a, 1, nil); err != nil {
		t.Fatal(err)
	}
	if !x.Pending(b) || !x.Pending(a) {
		t.Fatal("a block above an unfinalized collection is not pending")
	}
	if err := x.Finalize(a); err != nil {
		t.Fatal(err)
	}
	if !x.Final(model.Identifier{9}) || x.Final(model.Identifier{8}) {
		t.Fatal("Final does not tell the finalized transaction")
	}
	if x.Pending(b) || x.Pending(root) || x.Pending(c) {
		t.Fatal("pending with only empty blocks above the finalized one")
	}
}

// Unfinalized counts the transactions of a block's unfinalized ancestry
// only.
func TestIndexUnfinalized(t *testing.T) {
	root := model.Identifier{1}
	x := collection.NewIndex(root, 0, 0, 10, 0)
	a, b := model.Identifier{2}, model.Identifier{3}
	e := func(i byte) collection.Entry { return collection.Entry{ID: model.Identifier{i}, RefHeight: 1} }
	if err := x.Add(a, root, 1, []collection.Entry{e(9), e(8)}); err != nil {
		t.Fatal(err)
	}
	if err := x.Add(b, a, 1, []collection.Entry{e(7)}); err != nil {
		t.Fatal(err)
	}
	if got := x.Unfinalized(b); got != 3 {
		t.Fatalf("Unfinalized(b) = %d, want 3", got)
	}
	if err := x.Finalize(a); err != nil {
		t.Fatal(err)
	}
	if got, gotRoot := x.Unfinalized(b), x.Unfinalized(root); got != 1 || gotRoot != 0 {
		t.Fatalf("after finalizing a: Unfinalized(b) = %d, (root) = %d; want 1, 0", got, gotRoot)
	}
}

// Ancestor walks a block's unfinalized ancestry down to the finalized
// block, and knows nothing of other forks or heights below the finalized
// block.
func TestIndexAncestor(t *testing.T) {
	root := model.Identifier{1}
	x := collection.NewIndex(root, 5, 0, 10, 0)
	a, b, c, other := model.Identifier{2}, model.Identifier{3}, model.Identifier{4}, model.Identifier{5}
	for _, add := range []struct {
		id, parent model.Identifier
		height     uint64
	}{{a, root, 6}, {b, a, 7}, {c, b, 8}, {other, root, 6}} {
		if err := x.Add(add.id, add.parent, add.height, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		from   model.Identifier
		height uint64
		want   model.Identifier
		ok     bool
	}{
		{c, 8, c, true}, {c, 7, b, true}, {c, 6, a, true}, {c, 5, root, true},
		{c, 4, model.ZeroID, false}, {c, 9, model.ZeroID, false},
		{other, 6, other, true}, {model.Identifier{9}, 6, model.ZeroID, false},
	} {
		got, ok := x.Ancestor(tc.from, tc.height)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Ancestor(%v, %d) = %v %v, want %v %v", tc.from, tc.height, got, ok, tc.want, tc.ok)
		}
	}
}
