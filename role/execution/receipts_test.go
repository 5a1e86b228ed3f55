package execution

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/payload"
)

// receiptServer is a consensus node's POST /v1/receipts that verifies
// every receipt against the executor's key and the main chain, records
// the heights it accepted, holds the first request until released, and
// answers 503 to the first busy requests.
type receiptServer struct {
	*httptest.Server
	mu       sync.Mutex
	heights  []uint64
	bad      []error
	busy     int
	arrived  chan uint64 // each request's height, as it arrives
	release  chan struct{}
	holdNext bool
}

func newReceiptServer(t *testing.T, chain model.ChainID, keys *genesis.NodeKeys, busy int, hold bool) *receiptServer {
	s := &receiptServer{busy: busy, arrived: make(chan uint64, 64), release: make(chan struct{}), holdNext: hold}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/receipts" {
			http.Error(w, "no route", http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		rc, err := payload.DecodeReceipt(b)
		if err == nil {
			err = rc.Verify(chain, keys.Staking.PublicKey())
		}
		s.mu.Lock()
		if err != nil {
			s.bad = append(s.bad, err)
			s.mu.Unlock()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		hold := s.holdNext
		s.holdNext = false
		busy := s.busy > 0
		if busy {
			s.busy--
		}
		s.mu.Unlock()
		s.arrived <- rc.Height
		if hold {
			<-s.release
		}
		if busy {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		s.heights = append(s.heights, rc.Height)
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *receiptServer) accepted() ([]uint64, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.heights...), append([]error(nil), s.bad...)
}

// Receipts are signed by the executor over (main chain, block, height,
// root) for the block and root of the executed height; each consensus
// node gets the newest: heights executed while a submission was pending
// are superseded, not queued, and a busy node gets the newest on retry.
func TestReceiptsSignedNewestWins(t *testing.T) {
	k, err := genesis.KeysFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	chain := model.MainChain("receipts")
	blockOf := func(h uint64) model.Identifier { return model.Identifier{0xB, byte(h)} }
	rootOf := func(h uint64) model.Identifier { return model.Identifier{0xA, byte(h)} }
	source := func(h uint64) (model.Identifier, model.Identifier, error) { return blockOf(h), rootOf(h), nil }
	held := newReceiptServer(t, chain, k, 0, true)
	busy := newReceiptServer(t, chain, k, 2, false)
	m := newMetrics(nil)
	s := newReceiptSender(ReceiptConfig{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}, k.Staking, chain, k.NodeID(),
		[]string{held.URL, busy.URL}, source, nil, m, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); close(held.release); wg.Wait() }()
	s.run(ctx, func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() })

	s.Executed(1)
	if h := <-held.arrived; h != 1 {
		t.Fatalf("first receipt for height %d", h)
	}
	for h := uint64(2); h <= 5; h++ {
		s.Executed(h)
	}
	waitFor(t, func() bool { return s.signed.Load() == 5 })
	held.release <- struct{}{}
	waitFor(t, func() bool {
		a, _ := held.accepted()
		b, _ := busy.accepted()
		return len(a) == 2 && len(b) >= 1 && b[len(b)-1] == 5
	})
	got, bad := held.accepted()
	if len(bad) != 0 || got[0] != 1 || got[1] != 5 {
		t.Fatalf("held node accepted heights %v (refused %v), want [1 5]: 2..4 superseded", got, bad)
	}
	if got, bad := busy.accepted(); len(bad) != 0 || !slices.IsSorted(got) || len(got) != len(slices.Compact(slices.Clone(got))) {
		t.Fatalf("busy node accepted %v (refused %v): each receipt newer than the last", got, bad)
	}

	// The receipt itself: executor, block, root, and a signature over the
	// main chain that holds for no other chain.
	sl := s.slots[0]
	r := sl.next()
	if r != nil {
		t.Fatalf("slot still holds height %d after it was accepted", r.Height)
	}
	sl.mu.Lock()
	r = sl.r
	sl.mu.Unlock()
	if r.Height != 5 || r.Block != blockOf(5) || r.Root != rootOf(5) || r.Executor != k.NodeID() {
		t.Fatalf("receipt %+v", r)
	}
	if err := r.Verify(chain, k.Staking.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(model.MainChain("other"), k.Staking.PublicKey()); err == nil {
		t.Fatal("receipt verifies for another chain")
	}
	if sent := testutil.ToFloat64(m.receiptsSent); sent < 3 {
		t.Fatalf("receipts sent %v", sent)
	}
	if f := testutil.ToFloat64(m.receiptFailures); f != 2 {
		t.Fatalf("receipt failures %v, want the 2 busy answers", f)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
