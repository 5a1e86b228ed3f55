package storage

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
)

func TestInitLoadRoundtrip(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		if _, ok, err := h.s.LoadState(); ok || err != nil {
			t.Fatalf("fresh store: ok=%v err=%v, want false, nil", ok, err)
		}
		g := genesisAt(5, 3)
		g.Blocks = chainOf(g.Root, 6, 8)
		h.init(g)
		for round := 0; round < 2; round++ {
			if err := diffState(h.load(), g); err != nil {
				t.Fatal(err)
			}
			if got, err := h.s.FinalizedHeight(); got != 3 || err != nil {
				t.Fatalf("FinalizedHeight = %d, %v; want 3", got, err)
			}
			if b, err := h.s.FinalizedByHeight(3); err != nil || !sameBlock(b, g.Root) {
				t.Fatalf("FinalizedByHeight(3): %v", err)
			}
			h.reopen()
		}
	})
}

func TestInitTwiceFails(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		h.init(genesis())
		other := genesisAt(1, 1)
		if err := h.s.Init(other); !errors.Is(err, ErrInvalid) {
			t.Fatalf("second Init: %v, want ErrInvalid", err)
		}
		h.reopen()
		if err := h.s.Init(other); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Init after reopen: %v, want ErrInvalid", err)
		}
		if err := diffState(h.load(), genesis()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestInitRejectsBadState(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		g := genesisAt(5, 0)
		low := g
		low.Blocks = []*model.Block{child(g.Root, 6, 1)}
		low.Root = must(model.NewRootBlock(testChain, 6, 0, 0, nil)) // block 6 no longer above it
		noQC := g
		noQC.Liveness.NewestQC = nil
		for name, st := range map[string]consensus.State{"no root": {}, "block below root": low, "no newest QC": noQC} {
			if err := h.s.Init(st); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
		if _, ok, err := h.s.LoadState(); ok || err != nil {
			t.Fatalf("after refused Inits: ok=%v err=%v", ok, err)
		}
	})
}

func TestCommitThenReopen(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		g := genesis()
		h.init(g)
		bs := chainOf(g.Root, 1, 2, 4)
		fork := child(g.Root, 3, 8)
		h.commit(Commit{Safety: safetyAt(5, bs[2]), Liveness: livenessAt(5, bs[2]), Blocks: append(bs, fork)})
		// Nil safety/liveness leave them unchanged.
		b5 := child(bs[2], 5, 8)
		h.commit(Commit{Blocks: []*model.Block{b5}})
		want := g
		want.Blocks = append(bs, fork, b5)
		want.Safety, want.Liveness = *safetyAt(5, bs[2]), *livenessAt(5, bs[2])
		if err := diffState(h.load(), want); err != nil {
			t.Fatal(err)
		}
		h.reopen()
		if err := diffState(h.load(), want); err != nil {
			t.Fatalf("after reopen: %v", err)
		}
		for _, b := range want.Blocks {
			if got, err := h.s.Block(b.ID()); err != nil || !sameBlock(got, b) {
				t.Fatalf("Block(view %d): %v", b.View, err)
			}
		}
		if err := h.s.Commit(Commit{}); err != nil {
			t.Fatalf("empty commit: %v", err)
		}
	})
}

// Finalizing prunes the fork below the new root, keeps every finalized block
// and leaves only blocks above the root for LoadState.
func TestFinalizationPrunes(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		g := genesis()
		h.init(g)
		chain := chainOf(g.Root, 1, 3, 4, 5, 6)
		forkA := child(g.Root, 2, 8)   // below the new root: pruned
		forkB := child(chain[0], 7, 8) // above the new root: kept until passed
		h.commit(Commit{Blocks: append(append([]*model.Block{}, chain...), forkA, forkB)})

		// Finalize views 1, 3, 4 (heights 1..3); the new root is view 4.
		late := child(g.Root, 2, 9) // arrives with the finalization, already dead
		h.commit(Commit{Finalized: chain[:3], Blocks: []*model.Block{late}, Safety: safetyAt(7, chain[4]), Liveness: livenessAt(7, chain[4])})
		for round := 0; round < 2; round++ {
			st := h.load()
			if !sameBlock(st.Root, chain[2]) {
				t.Fatalf("root view %d, want 4", st.Root.View)
			}
			if got, want := viewsOf(st.Blocks), []model.View{5, 6, 7}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("blocks above root: views %v, want %v", got, want)
			}
			for _, b := range []*model.Block{forkA, late} {
				if _, err := h.s.Block(b.ID()); !errors.Is(err, ErrNotFound) {
					t.Fatalf("pruned block of view %d: %v, want ErrNotFound", b.View, err)
				}
			}
			for i, b := range append([]*model.Block{g.Root}, chain[:3]...) {
				got, err := h.s.FinalizedByHeight(uint64(i))
				if err != nil || !sameBlock(got, b) {
					t.Fatalf("FinalizedByHeight(%d): %v", i, err)
				}
				if got, err := h.s.Block(b.ID()); err != nil || !sameBlock(got, b) {
					t.Fatalf("finalized Block(view %d): %v", b.View, err)
				}
			}
			if fh, err := h.s.FinalizedHeight(); fh != 3 || err != nil {
				t.Fatalf("FinalizedHeight = %d, %v; want 3", fh, err)
			}
			h.reopen()
		}

		// Finalize past forkB's view (7) in a commit that also brings the
		// finalized blocks themselves: forkB goes, the chain stays.
		b8 := child(chain[4], 8, 8)
		b9 := child(b8, 9, 8)
		h.commit(Commit{Blocks: []*model.Block{b8, b9}, Finalized: []*model.Block{chain[3], chain[4], b8}})
		st := h.load()
		if !sameBlock(st.Root, b8) || fmt.Sprint(viewsOf(st.Blocks)) != "[9]" {
			t.Fatalf("root view %d, blocks %v; want root 8, blocks [9]", st.Root.View, viewsOf(st.Blocks))
		}
		if _, err := h.s.Block(forkB.ID()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("pruned fork: %v", err)
		}
		all, err := h.s.FinalizedRange(0, 100, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(viewsOf(all)); got != "[0 1 3 4 5 6 8]" {
			t.Fatalf("finalized chain views %s", got)
		}
	})
}

func TestCommitRejectsBadFinalization(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		g := genesis()
		if err := h.s.Commit(Commit{Safety: safetyAt(2, g.Root)}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("commit before Init: %v, want ErrInvalid", err)
		}
		h.init(g)
		bs := chainOf(g.Root, 1, 2, 3)
		other := chainOf(must(model.NewRootBlock(testChain, 0, 0, 1, nil)), 1)
		noQC := *livenessAt(1, g.Root)
		noQC.NewestQC = nil
		cases := map[string]Commit{
			"gap":             {Finalized: []*model.Block{bs[0], bs[2]}},
			"not from root":   {Finalized: bs[1:]},
			"other chain":     {Finalized: other},
			"nil block":       {Blocks: []*model.Block{nil}},
			"nil newest QC":   {Liveness: &noQC},
			"nil final block": {Finalized: []*model.Block{nil}},
		}
		for name, c := range cases {
			c.Safety = safetyAt(9, bs[2]) // must not be written either
			if err := h.s.Commit(c); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
		if err := diffState(h.load(), g); err != nil {
			t.Fatalf("refused commits changed the state: %v", err)
		}
		// Re-finalizing what is already final is refused too.
		h.commit(Commit{Finalized: bs[:1]})
		if err := h.s.Commit(Commit{Finalized: bs[:1]}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("refinalize: %v", err)
		}
	})
}

func TestFinalizedRange(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		g := genesisAt(10, 5) // a snapshot root: heights below 5 are not stored
		h.init(g)
		var views []model.View
		for v := model.View(11); v <= 30; v++ {
			views = append(views, v)
		}
		bs := chainOf(g.Root, views...) // heights 6..25
		h.commit(Commit{Blocks: bs})
		h.commit(Commit{Finalized: bs[:10]}) // heights 6..15 final
		h.reopen()
		heights := func(blocks []*model.Block) string {
			var hs []uint64
			for _, b := range blocks {
				hs = append(hs, b.Height)
			}
			return fmt.Sprint(hs)
		}
		cases := []struct {
			from, to uint64
			max      int
			want     string
		}{
			{5, 15, 100, "[5 6 7 8 9 10 11 12 13 14 15]"},
			{6, 9, 100, "[6 7 8 9]"},
			{6, 100, 3, "[6 7 8]"},
			{13, 100, 100, "[13 14 15]"}, // clamped at the finalized height
			{15, 15, 1, "[15]"},
			{16, 20, 10, "[]"}, // above the finalized height
			{9, 8, 10, "[]"},
		}
		for _, c := range cases {
			got, err := h.s.FinalizedRange(c.from, c.to, c.max)
			if err != nil || heights(got) != c.want {
				t.Errorf("FinalizedRange(%d, %d, %d) = %s, %v; want %s", c.from, c.to, c.max, heights(got), err, c.want)
			}
			for _, b := range got {
				if want, _ := h.s.FinalizedByHeight(b.Height); !sameBlock(b, want) {
					t.Errorf("height %d differs from FinalizedByHeight", b.Height)
				}
			}
		}
		for _, c := range [][2]uint64{{0, 10}, {4, 4}, {0, 2}} {
			if _, err := h.s.FinalizedRange(c[0], c[1], 10); !errors.Is(err, ErrNotFound) {
				t.Errorf("FinalizedRange(%d, %d) below the snapshot root: %v, want ErrNotFound", c[0], c[1], err)
			}
		}
		if _, err := h.s.FinalizedRange(6, 9, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("maxBlocks 0: %v, want ErrInvalid", err)
		}
		for _, hgt := range []uint64{4, 16, 1 << 40} {
			if _, err := h.s.FinalizedByHeight(hgt); !errors.Is(err, ErrNotFound) {
				t.Errorf("FinalizedByHeight(%d): %v, want ErrNotFound", hgt, err)
			}
		}
	})
}

func TestNotFound(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		unknown := model.Identifier{1, 2, 3}
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", what, err)
			}
		}
		_, err := h.s.FinalizedHeight()
		check("FinalizedHeight before Init", err)
		_, err = h.s.FinalizedRange(0, 1, 1)
		check("FinalizedRange before Init", err)
		if eh, err := h.s.ExecutedHeight(); eh != 0 || err != nil {
			t.Errorf("ExecutedHeight of a fresh store = %d, %v; want 0, nil", eh, err)
		}
		h.init(genesis())
		_, err = h.s.Block(unknown)
		check("Block", err)
		_, err = h.s.FinalizedByHeight(1)
		check("FinalizedByHeight", err)
		_, err = h.s.TxResult(unknown)
		check("TxResult", err)
		_, err = h.s.StateRoot(1)
		check("StateRoot", err)
		_, err = h.s.Get([]byte("k"))
		check("Get", err)
	})
}

func TestSaveExecution(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		tx := func(i byte) model.Identifier { return model.Identifier{0xee, i} }
		r1 := []TxResult{
			{ID: tx(1), Height: 1, View: 1, Index: 0, OK: true},
			{ID: tx(2), Height: 1, View: 1, Index: 1, OK: false, Error: "insufficient funds"},
		}
		w1 := []KV{{Key: []byte("b"), Value: []byte("2")}, {Key: []byte("a"), Value: []byte("1")},
			{Key: []byte("c"), Value: []byte{}}, {Key: []byte{}, Value: []byte("empty key")}}
		if err := h.s.SaveExecution(1, [32]byte{1}, r1, w1); err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("x", MaxTxErrorLen+100)
		r2 := []TxResult{{ID: tx(3), Height: 2, View: 3, Index: 0, Error: long}}
		w2 := []KV{{Key: []byte("a"), Value: nil}, {Key: []byte("b"), Value: []byte("22")}, {Key: []byte("zz"), Value: nil}}
		if err := h.s.SaveExecution(2, [32]byte{2}, r2, w2); err != nil {
			t.Fatal(err)
		}
		// Going back (or repeating a height) is refused and changes nothing.
		for _, hgt := range []uint64{2, 1} {
			bad := []KV{{Key: []byte("b"), Value: []byte("bad")}}
			if err := h.s.SaveExecution(hgt, [32]byte{9}, []TxResult{{ID: tx(1), Error: "bad"}}, bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("SaveExecution(%d) again: %v, want ErrInvalid", hgt, err)
			}
		}
		for round := 0; round < 2; round++ {
			if eh, err := h.s.ExecutedHeight(); eh != 2 || err != nil {
				t.Fatalf("ExecutedHeight = %d, %v", eh, err)
			}
			for hgt, want := range map[uint64][32]byte{1: {1}, 2: {2}} {
				if got, err := h.s.StateRoot(hgt); got != want || err != nil {
					t.Fatalf("StateRoot(%d) = %x, %v", hgt, got[:1], err)
				}
			}
			want := append(append([]TxResult{}, r1...), r2[0])
			want[2].Error = long[:MaxTxErrorLen]
			for _, w := range want {
				if got, err := h.s.TxResult(w.ID); got != w || err != nil {
					t.Fatalf("TxResult = %+v, %v; want %+v", got, err, w)
				}
			}
			if _, err := h.s.Get([]byte("a")); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleted key: %v", err)
			}
			if v, err := h.s.Get([]byte("c")); err != nil || v == nil || len(v) != 0 {
				t.Fatalf("empty value: %q, %v", v, err)
			}
			var got []string
			err := h.s.Iterate(func(k, v []byte) error {
				got = append(got, fmt.Sprintf("%s=%s", k, v))
				return nil
			})
			if err != nil || fmt.Sprint(got) != "[=empty key b=22 c=]" {
				t.Fatalf("Iterate: %v, %v", got, err)
			}
			h.reopen()
		}
		// Returned values belong to the caller.
		v, _ := h.s.Get([]byte("b"))
		v[0] = 'X'
		if v2, _ := h.s.Get([]byte("b")); string(v2) != "22" {
			t.Fatalf("mutating a returned value changed the store: %q", v2)
		}
		stop := errors.New("stop")
		n := 0
		if err := h.s.Iterate(func(k, v []byte) error { n++; return stop }); err != stop || n != 1 {
			t.Fatalf("Iterate stop: %v after %d", err, n)
		}
	})
}

// Readers and writers in parallel (run with -race): every read sees a
// whole batch, never half of one.
func TestConcurrentUse(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		g := genesis()
		h.init(g)
		bs := chainOf(g.Root, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)
		var wg sync.WaitGroup
		errc := make(chan error, 8)
		wg.Add(3)
		go func() {
			defer wg.Done()
			for i, b := range bs {
				c := Commit{Blocks: []*model.Block{b}, Safety: safetyAt(b.View+1, b)}
				if i >= 2 {
					c.Finalized = bs[i-2 : i-1]
				}
				if err := h.s.Commit(c); err != nil {
					errc <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for hgt := uint64(1); hgt <= 50; hgt++ {
				key := []byte("k")
				val := []byte(fmt.Sprint(hgt))
				if err := h.s.SaveExecution(hgt, [32]byte{byte(hgt)}, nil, []KV{{Key: key, Value: val}, {Key: []byte("h"), Value: val}}); err != nil {
					errc <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, _, err := h.s.LoadState(); err != nil {
					errc <- err
					return
				}
				if fh, err := h.s.FinalizedHeight(); err != nil {
					errc <- err
					return
				} else if _, err := h.s.FinalizedRange(0, fh, 5); err != nil {
					errc <- err
					return
				}
				var vals [][]byte
				if err := h.s.Iterate(func(k, v []byte) error { vals = append(vals, v); return nil }); err != nil {
					errc <- err
					return
				}
				if len(vals) == 2 && !bytes.Equal(vals[0], vals[1]) {
					errc <- fmt.Errorf("half a batch visible: %q", vals)
					return
				}
			}
		}()
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		if fh, _ := h.s.FinalizedHeight(); fh != 18 {
			t.Fatalf("finalized height %d, want 18", fh)
		}
	})
}

// SaveResults makes results and roots readable at once without moving the
// executed height; a later SaveExecution (the state flush) moves it.
func TestSaveResultsThenFlush(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		id := model.Identifier{0xab, 1}
		if err := h.s.SaveResults(1, [32]byte{1}, []TxResult{{ID: id, Height: 1, OK: true}}); err != nil {
			t.Fatal(err)
		}
		if err := h.s.SaveResults(2, [32]byte{2}, nil); err != nil {
			t.Fatal(err)
		}
		if r, err := h.s.TxResult(id); err != nil || r.Height != 1 || !r.OK {
			t.Fatalf("result after SaveResults: %+v, %v", r, err)
		}
		if root, err := h.s.StateRoot(2); err != nil || root != ([32]byte{2}) {
			t.Fatalf("root after SaveResults: %x, %v", root, err)
		}
		if e, err := h.s.ExecutedHeight(); err != nil || e != 0 {
			t.Fatalf("SaveResults moved the executed height to %d (%v)", e, err)
		}
		if err := h.s.SaveExecution(2, [32]byte{2}, nil, []KV{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
			t.Fatal(err)
		}
		if e, _ := h.s.ExecutedHeight(); e != 2 {
			t.Fatalf("flush did not move the executed height: %d", e)
		}
		if err := h.s.SaveResults(2, [32]byte{2}, nil); !errors.Is(err, ErrInvalid) {
			t.Fatalf("results for a flushed height: %v, want ErrInvalid", err)
		}
	})
}
