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
// the heights it accepted, holds the first request until released,
// answers 503 to the first busy requests and 400 to the heights in
// refuse.
type receiptServer struct {
	*httptest.Server
	mu       sync.Mutex
	heights  []uint64
	results  map[uint64]model.Identifier
	bad      []error
	busy     int
	refuse   map[uint64]bool
	arrived  chan uint64 // each request's height, as it arrives
	release  chan struct{}
	holdNext bool
}

func newReceiptServer(t *testing.T, chain model.ChainID, keys *genesis.NodeKeys, busy int, hold bool, refuse ...uint64) *receiptServer {
	s := &receiptServer{busy: busy, arrived: make(chan uint64, 64), release: make(chan struct{}), holdNext: hold,
		refuse: map[uint64]bool{}, results: map[uint64]model.Identifier{}}
	for _, h := range refuse {
		s.refuse[h] = true
	}
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
		refused := s.refuse[rc.Height()]
		s.mu.Unlock()
		s.arrived <- rc.Height()
		if hold {
			<-s.release
		}
		if busy {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		if refused {
			http.Error(w, `{"error":"receipt older than the receipt window"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.heights = append(s.heights, rc.Height())
		s.results[rc.Height()] = rc.Result.ID()
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

// testResultAt is a result for height h chained onto h-1's.
func testResultAt(h uint64) *payload.ExecutionResult {
	r := &payload.ExecutionResult{Block: model.Identifier{0xB, byte(h)}, Height: h,
		Chunks: []payload.Chunk{{StartState: model.Identifier{0xA, byte(h - 1)}, EndState: model.Identifier{0xA, byte(h)}}}}
	if h > 1 {
		r.Previous = testResultAt(h - 1).ID()
	}
	return r
}

// Every consensus node gets a receipt for every executed height, in
// height order, each signed by the executor over the main chain and the
// result's ID: a node that held a request back gets the heights executed
// meanwhile after it, a busy node gets them on retry, and a height a node
// refuses for good is passed over. A restarted sender offers the recent
// heights again, signing them from the stored results.
func TestReceiptsEveryHeightInOrder(t *testing.T) {
	k, err := genesis.KeysFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	chain := model.MainChain("receipts")
	held := newReceiptServer(t, chain, k, 0, true)
	busy := newReceiptServer(t, chain, k, 2, false)
	picky := newReceiptServer(t, chain, k, 0, false, 3)
	m := newMetrics(nil)
	load := func(h uint64) (*payload.ExecutionResult, error) { return testResultAt(h), nil }
	s := newReceiptSender(ReceiptConfig{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}, k.Staking, chain, k.NodeID(),
		[]string{held.URL, busy.URL, picky.URL}, load, nil, m, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); close(held.release); wg.Wait() }()
	s.run(ctx, func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() })

	if err := s.Executed(testResultAt(1)); err != nil {
		t.Fatal(err)
	}
	if h := <-held.arrived; h != 1 {
		t.Fatalf("first receipt for height %d", h)
	}
	for h := uint64(2); h <= 5; h++ {
		if err := s.Executed(testResultAt(h)); err != nil {
			t.Fatal(err)
		}
	}
	held.release <- struct{}{}
	waitFor(t, func() bool {
		a, _ := held.accepted()
		b, _ := busy.accepted()
		c, _ := picky.accepted()
		return len(a) == 5 && len(b) == 5 && len(c) == 4
	})
	for name, srv := range map[string]*receiptServer{"held": held, "busy": busy} {
		if got, bad := srv.accepted(); len(bad) != 0 || !slices.Equal(got, []uint64{1, 2, 3, 4, 5}) {
			t.Fatalf("%s node accepted heights %v (refused %v), want 1..5 in order", name, got, bad)
		}
	}
	if got, _ := picky.accepted(); !slices.Equal(got, []uint64{1, 2, 4, 5}) {
		t.Fatalf("a node refusing height 3 accepted %v, want it passed over", got)
	}
	for h := uint64(1); h <= 5; h++ {
		if held.results[h] != testResultAt(h).ID() {
			t.Fatalf("height %d: receipt for result %v, want %v", h, held.results[h], testResultAt(h).ID())
		}
	}
	if f := testutil.ToFloat64(m.receiptFailures); f != 3 {
		t.Fatalf("receipt failures %v, want the 2 busy answers and the refusal", f)
	}
	if st := s.slots[2].AnsweredHeight(); st != 5 {
		t.Fatalf("the picky node answered up to %d", st)
	}

	// A restarted sender (nothing signed in memory) offers the last
	// heights again from the stored results.
	again := newReceiptServer(t, chain, k, 0, false)
	s2 := newReceiptSender(ReceiptConfig{MinBackoff: 5 * time.Millisecond}, k.Staking, chain, k.NodeID(),
		[]string{again.URL}, load, nil, newMetrics(nil), slog.New(slog.DiscardHandler))
	s2.start(7)
	s2.run(ctx, func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() })
	for _, sl := range s2.slots {
		notify(sl.signal)
	}
	waitFor(t, func() bool { a, _ := again.accepted(); return len(a) == 7 })
	if got, bad := again.accepted(); len(bad) != 0 || got[0] != 1 || got[6] != 7 {
		t.Fatalf("restarted sender delivered %v (refused %v)", got, bad)
	}
}

// When the chain stops carrying a node's receipts while its cursor is
// ahead (the consensus nodes lost what they took), the sender offers the
// heights above the newest carried one again.
func TestReceiptsOfferedAgainWhenNotCarried(t *testing.T) {
	k, err := genesis.KeysFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	chain := model.MainChain("receipts")
	srv := newReceiptServer(t, chain, k, 0, false)
	load := func(h uint64) (*payload.ExecutionResult, error) { return testResultAt(h), nil }
	s := newReceiptSender(ReceiptConfig{MinBackoff: 5 * time.Millisecond, RewindEvery: 30 * time.Millisecond}, k.Staking, chain, k.NodeID(),
		[]string{srv.URL}, load, nil, newMetrics(nil), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	s.run(ctx, func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() })
	for h := uint64(1); h <= 5; h++ {
		if err := s.Executed(testResultAt(h)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { a, _ := srv.accepted(); return len(a) == 5 })
	s.Carried(2) // the chain carried up to 2, and then nothing
	waitFor(t, func() bool { a, _ := srv.accepted(); return len(a) >= 8 })
	got, _ := srv.accepted()
	if !slices.Equal(got[5:8], []uint64{3, 4, 5}) {
		t.Fatalf("offered again %v, want 3, 4, 5", got[5:])
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
