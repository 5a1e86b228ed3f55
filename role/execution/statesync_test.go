package execution

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// A node that trails the finalized chain by more than SyncConfig.Behind
// does not re-execute the gap: it finds a result a finalized block
// incorporated, streams that height's state from another execution node,
// keeps it only because its registers hash to the result's end state
// (a peer serving a tampered snapshot is passed over), and executes on
// from there to the same results as the node that executed everything.
func TestStateSyncFromAnIncorporatedResult(t *testing.T) {
	cols := testCollections(3)
	servers := []*guarantorServer{newGuarantorServer(t, serve, cols), newGuarantorServer(t, serve, cols), newGuarantorServer(t, serve, cols)}
	env := newFollowEnv(t, func(i int) string {
		if i < len(servers) {
			return servers[i].URL
		}
		return servers[0].URL
	})
	g := env.guarantee
	first := []*payload.Payload{
		{Guarantees: []*collection.Guarantee{g(cols[0]), g(cols[1])}},
		{Guarantees: []*collection.Guarantee{g(cols[2])}},
		{}, {}, {}, {},
	}
	seg, err := env.tc.Extend(env.root, env.rootQC, len(first), func(i int) []byte { return first[i].Encode() })
	if err != nil {
		t.Fatal(err)
	}
	env.up.set(seg)
	fast := ReceiptConfig{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	a, err := New(Config{Genesis: env.n.g, DataDir: t.TempDir(), StakingKey: env.keys[5].Staking, PollInterval: 20 * time.Millisecond,
		Receipts: fast, Sync: SyncConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	waitFor(t, func() bool { env.up.mu.Lock(); defer env.up.mu.Unlock(); return env.up.receipts[5] != nil })

	// The chain goes on with a block carrying A's receipts for 1..5.
	env.up.mu.Lock()
	var carried []*payload.Receipt
	for h := uint64(1); h <= 5; h++ {
		carried = append(carried, env.up.receipts[h])
	}
	env.up.mu.Unlock()
	last := seg.Blocks[len(seg.Blocks)-1]
	more, err := env.tc.Extend(last, seg.TipQC, 4, func(i int) []byte {
		if i == 0 {
			res := payload.FromReceipts(payload.Result{}, carried)
			return (&payload.Payload{Result: &res, Receipts: carried}).Encode()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	env.up.set(testchain.Segment{Blocks: append(append([]*model.Block(nil), seg.Blocks...), more.Blocks...), TipQC: more.TipQC})
	waitFor(t, func() bool { return a.ExecutionStatus().ExecutedHeight == 9 })
	aSrv := httptest.NewServer(api.New(a, api.Options{}))
	defer aSrv.Close()

	// A peer that tampers with one value of the snapshot it relays.
	var liarAsked atomic.Int32
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		liarAsked.Add(1)
		resp, err := http.Get(aSrv.URL + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		size := binary.BigEndian.Uint32(body)
		chunk, err := state.DecodeSnapshotChunk(body[4 : 4+size])
		if err != nil || len(chunk) == 0 {
			http.Error(w, "no chunk to tamper with", http.StatusInternalServerError)
			return
		}
		chunk[0].Value = append(bytes.Clone(chunk[0].Value), 'x')
		enc := state.EncodeSnapshotChunk(chunk)
		out := binary.BigEndian.AppendUint32(nil, uint32(len(enc)))
		out = append(append(out, enc...), body[4+size:]...)
		_, _ = w.Write(out)
	}))
	defer liar.Close()

	b, err := New(Config{Genesis: env.n.g, DataDir: t.TempDir(), StakingKey: env.keys[5].Staking, PollInterval: 20 * time.Millisecond,
		Receipts: fast, Sync: SyncConfig{Behind: 2, Peers: []string{liar.URL, aSrv.URL}, Retry: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	waitFor(t, func() bool { return b.ExecutionStatus().ExecutedHeight == 9 })
	if got := testutil.ToFloat64(b.m.stateSyncs); got != 1 || liarAsked.Load() == 0 {
		t.Fatalf("%v state syncs (want 1), the tampering peer asked %d times (first in the list)", got, liarAsked.Load())
	}
	for h := uint64(5); h <= 9; h++ {
		ra, _, err := a.store.Result(h)
		if err != nil {
			t.Fatal(err)
		}
		rb, _, err := b.store.Result(h)
		if err != nil {
			t.Fatalf("height %d on the synced node: %v", h, err)
		}
		if ra.ID() != rb.ID() {
			t.Fatalf("height %d: synced node's result %v, the executing node's %v", h, rb.ID(), ra.ID())
		}
	}
	// It synced rather than executed: it has no outcome of the
	// transactions of height 1, and no result below the synced height.
	if _, err := b.TxStatus(cols[0].TxIDs()[0]); err == nil {
		t.Fatal("the synced node reports a transaction of a height it did not execute")
	}
	if _, _, err := b.store.Result(4); err == nil {
		t.Fatal("the synced node has a result below the height it synced to")
	}
	// State reads on the synced node are those of the executing node.
	va, err := a.State(context.Background(), []byte("c0-t0"))
	if err != nil || len(va.Value) == 0 {
		t.Fatalf("state read on the executing node: %+v, %v", va, err)
	}
	vb, err := b.State(context.Background(), []byte("c0-t0"))
	if err != nil || !bytes.Equal(va.Value, vb.Value) || va.Root != vb.Root {
		t.Fatalf("state read on the synced node %+v (%v), on the executing node %+v", vb, err, va)
	}
}
