package collector

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// consensusStub counts the guarantees it accepted per collection; it
// fails its first failFirst requests and refuses collection refuse.
type consensusStub struct {
	mu        sync.Mutex
	failFirst int
	refuse    model.Identifier
	requests  int
	accepted  map[model.Identifier]int
}

func (s *consensusStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.requests <= s.failFirst {
		w.Header().Set("Retry-After", "1")
		api.WriteError(w, http.StatusServiceUnavailable, "busy")
		return
	}
	b, _ := io.ReadAll(r.Body)
	gs, err := collection.DecodeGuarantees(b, 1000)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	var resp api.GuaranteesResponse
	for i, g := range gs {
		if g.CollectionID == s.refuse {
			resp.Rejected = append(resp.Rejected, api.RejectedEntry{Index: i, Error: "refused"})
			continue
		}
		s.accepted[g.CollectionID]++
		resp.Accepted++
	}
	api.WriteJSON(w, http.StatusOK, resp)
}

func testGuarantee(t *testing.T, i int, ref model.Identifier) *collection.Guarantee {
	t.Helper()
	signers, err := model.NewSignerSet(4)
	if err != nil {
		t.Fatal(err)
	}
	signers.Set(0)
	return &collection.Guarantee{CollectionID: crypto.Sum([]byte("collection"), binary.BigEndian.AppendUint64(nil, uint64(i))),
		Ref: ref, Chain: model.ChainID{9}, Signers: signers, Signature: []byte{1, 2, 3}}
}

// The hand-off delivers every guarantee to every consensus node exactly
// once, retrying a failing node with backoff (counted), and never holds
// more than its bound: guarantees handed off stay counted until the main
// chain includes them or they expire.
func TestHandoffDeliversRetriesAndStaysBounded(t *testing.T) {
	refs := NewRefs(1000)
	id := func(h uint64) model.Identifier { return crypto.Sum(binary.BigEndian.AppendUint64(nil, h)) }
	for h := uint64(1); h <= 10; h++ {
		if err := refs.Finalized(id(h), h, 0); err != nil {
			t.Fatal(err)
		}
	}
	gs := make([]*collection.Guarantee, 5)
	for i := range gs {
		gs[i] = testGuarantee(t, i, id(5))
	}
	flaky := &consensusStub{failFirst: 3, accepted: map[model.Identifier]int{}}
	strict := &consensusStub{refuse: gs[4].CollectionID, accepted: map[model.Identifier]int{}}
	a, b := httptest.NewServer(flaky), httptest.NewServer(strict)
	defer a.Close()
	defer b.Close()
	reg := prometheus.NewRegistry()
	m := newNodeMetrics(reg, func() float64 { return 0 })
	h := newHandoff([]string{a.URL, b.URL}, 5, 2, 50, refs, m, discardLogger())

	if h.room() != 5 {
		t.Fatalf("room %d, want 5", h.room())
	}
	h.add(gs)
	if h.room() != 0 {
		t.Fatalf("room %d after 5 of 5, want 0", h.room())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range h.targets {
		wg.Add(1)
		go func() { defer wg.Done(); h.run(ctx, i) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(m.guaranteesHandedOff) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("handed off %v of 5", testutil.ToFloat64(m.guaranteesHandedOff))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	for i, g := range gs {
		if flaky.accepted[g.CollectionID] != 1 {
			t.Fatalf("guarantee %d reached the flaky node %d times", i, flaky.accepted[g.CollectionID])
		}
		if want := map[bool]int{true: 0, false: 1}[i == 4]; strict.accepted[g.CollectionID] != want {
			t.Fatalf("guarantee %d reached the strict node %d times, want %d", i, strict.accepted[g.CollectionID], want)
		}
	}
	if f := testutil.ToFloat64(m.handoffFailures); f < 3 {
		t.Fatalf("%v failures counted, want at least 3", f)
	}
	if r := testutil.ToFloat64(m.guaranteesRejected); r != 1 {
		t.Fatalf("%v refusals counted, want 1", r)
	}
	// Handed off, not included: still no room.
	if h.room() != 0 {
		t.Fatalf("room %d with 5 handed off and none included", h.room())
	}
	h.included([]model.Identifier{gs[0].CollectionID, gs[1].CollectionID}, 11)
	if h.room() != 2 {
		t.Fatalf("room %d after 2 included, want 2", h.room())
	}
	// Past expiry the rest go.
	for x := uint64(11); x <= 60; x++ {
		if err := refs.Finalized(id(x), x, 0); err != nil {
			t.Fatal(err)
		}
	}
	h.sweep()
	if h.room() != 5 || testutil.ToFloat64(m.guaranteesExpired) != 3 {
		t.Fatalf("after expiry: room %d, expired %v", h.room(), testutil.ToFloat64(m.guaranteesExpired))
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The forging test fault breaks the copy it hands off, never the
// guarantee the node keeps (and serves to its cluster's aggregation).
func TestForgedLeavesTheOriginal(t *testing.T) {
	g := &collection.Guarantee{CollectionID: model.Identifier{1}, Signature: []byte{1, 2, 3}}
	f := forged(g)
	if string(g.Signature) != "\x01\x02\x03" || string(f.Signature) == string(g.Signature) || f.CollectionID != g.CollectionID {
		t.Fatalf("original %x, forged %x", g.Signature, f.Signature)
	}
}
