package ledger_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/storage"
)

// shapeQC certifies b in shape only: the store does not check signatures.
func shapeQC(t *testing.T, b *model.Block) *model.QC {
	t.Helper()
	s, err := model.NewSignerSet(4)
	if err != nil {
		t.Fatal(err)
	}
	s.Set(0)
	return &model.QC{View: b.View, BlockID: b.ID(), Signers: s, Signature: []byte{1}}
}

// finalize appends one finalized block per payload to the store's chain.
func finalize(t *testing.T, st ledger.Store, payloads []*payload.Payload) {
	t.Helper()
	parent, err := st.FinalizedByHeight(mustHeight(t, st))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []*model.Block
	for _, pl := range payloads {
		enc := pl.Encode()
		b, err := model.NewBlock(model.Header{ChainID: parent.ChainID, View: parent.View + 1, Height: parent.Height + 1,
			ParentID: parent.ID(), QC: shapeQC(t, parent), ProposerID: model.Identifier{1},
			Timestamp: int64(parent.View+1) * 1000, PayloadHash: model.PayloadHash(enc)}, enc)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
		parent = b
	}
	if err := st.Commit(storage.Commit{Blocks: blocks, Finalized: blocks}); err != nil {
		t.Fatal(err)
	}
}

func mustHeight(t *testing.T, st ledger.Store) uint64 {
	t.Helper()
	h, err := st.FinalizedHeight()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// runUntil runs l's executor until it executed height, then stops it.
func runUntil(t *testing.T, l *ledger.Ledger, height uint64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	l.Finalized(height)
	deadline := time.Now().Add(10 * time.Second)
	for l.ExecutedHeight() < height && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := l.ExecutedHeight(); got != height {
		t.Fatalf("executed %d, want %d", got, height)
	}
}

// guaranteeOf names a collection; the ledger checks no signature (consensus
// nodes did), so a shape-valid one serves.
func guaranteeOf(t *testing.T, c *collection.Collection) *collection.Guarantee {
	t.Helper()
	s, err := model.NewSignerSet(4)
	if err != nil {
		t.Fatal(err)
	}
	s.Set(0)
	s.Set(1)
	s.Set(2)
	return &collection.Guarantee{CollectionID: c.ID(), Ref: model.Identifier{9}, Chain: model.Identifier{8}, Signers: s, Signature: make([]byte, 96)}
}

// collectionHook serves collections from a map, as an execution node's
// fetcher does from guarantors, and records what it was asked.
type collectionHook struct {
	mu    sync.Mutex
	cols  map[model.Identifier]*collection.Collection
	asked []model.Identifier
}

func (h *collectionHook) transactions(_ context.Context, _ *model.Block, pl *payload.Payload) ([][]byte, []model.Identifier, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var txs [][]byte
	var ids []model.Identifier
	for _, g := range pl.Guarantees {
		h.asked = append(h.asked, g.CollectionID)
		c, ok := h.cols[g.CollectionID]
		if !ok {
			return nil, nil, fmt.Errorf("collection %v not held", g.CollectionID)
		}
		for i, tx := range c.Txs() {
			txs = append(txs, tx.Body)
			ids = append(ids, c.TxIDs()[i])
		}
	}
	return txs, ids, nil
}

// A pipeline ledger (Hooks.Transactions) executes the bodies of the
// collections its blocks' guarantees name, in guarantee then collection
// order, and reaches the same state roots as a ledger executing those
// bodies directly; results are stored under the envelope IDs. A
// collection a (byzantine) chain names again, in a later block or twice in
// one, is neither fetched nor executed again, also after a restart (the
// window is rebuilt from the stored payloads).
func TestPipelineExecutesCollectionsOnceInOrder(t *testing.T) {
	g := testGenesis(t, "ledger-pipeline", 1)
	ref := model.Identifier{9}
	set := func(k, v string) collection.Tx {
		return collection.Tx{Ref: ref, Body: kvstore.EncodeSet([]byte(k), []byte(v), []byte(k+v))}
	}
	c1 := collection.NewCollection([]collection.Tx{set("a", "1"), set("k", "c1")})
	c2 := collection.NewCollection([]collection.Tx{set("k", "c2"), set("b", "2")}) // after c1: k = c2
	c3 := collection.NewCollection([]collection.Tx{set("k", "c3")})
	c4 := collection.NewCollection([]collection.Tx{set("d", "4")})
	c5 := collection.NewCollection([]collection.Tx{set("k", "c5")})
	hook := &collectionHook{cols: map[model.Identifier]*collection.Collection{}}
	for _, c := range []*collection.Collection{c1, c2, c3, c4, c5} {
		hook.cols[c.ID()] = c
	}
	gs := func(cs ...*collection.Collection) *payload.Payload {
		pl := &payload.Payload{}
		for _, c := range cs {
			pl.Guarantees = append(pl.Guarantees, guaranteeOf(t, c))
		}
		return pl
	}
	// Heights 1..4, then 5 after a restart. c1 comes back at 3 (a
	// repeat that would set k back to c1), c4 twice at 4, c3 at 5.
	pipeline := []*payload.Payload{gs(c1, c2), gs(c3), gs(c1, c4), gs(c4, c4, c5)}
	after := []*payload.Payload{gs(c3)}
	bodies := func(cs ...*collection.Collection) *payload.Payload {
		pl := &payload.Payload{}
		for _, c := range cs {
			for _, tx := range c.Txs() {
				pl.Transactions = append(pl.Transactions, tx.Body)
			}
		}
		return pl
	}
	direct := []*payload.Payload{bodies(c1, c2), bodies(c3), bodies(c4), bodies(c5), bodies()}

	// The reference: the bodies in the blocks themselves.
	refStore := storage.NewMemory()
	refLed, _, err := ledger.Open(ledger.Config{Genesis: g, Store: refStore})
	if err != nil {
		t.Fatal(err)
	}
	finalize(t, refStore, direct)
	runUntil(t, refLed, 5)

	st := storage.NewMemory()
	var executed [][]model.Identifier
	hooks := ledger.Hooks{Transactions: hook.transactions, Executed: func(_ uint64, ids []model.Identifier) {
		executed = append(executed, ids)
	}}
	led, _, err := ledger.Open(ledger.Config{Genesis: g, Store: st, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	finalize(t, st, pipeline)
	runUntil(t, led, 4)
	if err := led.Close(); err != nil {
		t.Fatal(err)
	}
	// Restart: the window comes back from the stored payloads.
	led, _, err = ledger.Open(ledger.Config{Genesis: g, Store: st, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	finalize(t, st, after)
	runUntil(t, led, 5)

	for h := uint64(1); h <= 5; h++ {
		want, err := refLed.ResultAt(h)
		if err != nil {
			t.Fatal(err)
		}
		got, err := led.ResultAt(h)
		if err != nil || got != want {
			t.Fatalf("height %d: state root %v (%v), executing the bodies directly gives %v", h, got, err, want)
		}
	}
	wantAsked := []model.Identifier{c1.ID(), c2.ID(), c3.ID(), c4.ID(), c5.ID()}
	if !slices.Equal(hook.asked, wantAsked) {
		t.Fatalf("hook asked for %v, want each collection once: %v", hook.asked, wantAsked)
	}
	if n := len(executed); n != 5 || len(executed[2]) != 1 || len(executed[4]) != 0 {
		t.Fatalf("executed per height: %v", executed)
	}
	// Results are under the envelope IDs, at the first height and index.
	for _, c := range []struct {
		col    *collection.Collection
		i      int
		height uint64
		index  uint32
	}{{c1, 1, 1, 1}, {c2, 0, 1, 2}, {c3, 0, 2, 0}, {c4, 0, 3, 0}, {c5, 0, 4, 0}} {
		id := c.col.TxIDs()[c.i]
		r, err := led.TxResult(id)
		if err != nil || !r.OK || r.Height != c.height || r.Index != c.index {
			t.Fatalf("result of %v: %+v (%v), want height %d index %d ok", id, r, err, c.height, c.index)
		}
	}
}

// Without the hook nothing changes: the payload's transactions run under
// their SHA-256 IDs (the rest of this package's tests cover the window).
func TestNoHookExecutesPayloadTransactions(t *testing.T) {
	g := testGenesis(t, "ledger-nohook", 1)
	st := storage.NewMemory()
	led, _, err := ledger.Open(ledger.Config{Genesis: g, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	tx := kvstore.EncodeSet([]byte("x"), []byte("1"), []byte("n"))
	finalize(t, st, []*payload.Payload{{Transactions: [][]byte{tx}}, {Transactions: [][]byte{tx}}})
	runUntil(t, led, 2)
	r, err := led.TxResult(crypto.Sum(tx))
	if err != nil || r.Height != 1 || !r.OK {
		t.Fatalf("result %+v %v", r, err)
	}
}
