package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A 429 from the node's admission control is retried after its
// Retry-After; the request then succeeds, and a persistent 429 ends as the
// error once the context is done.
func TestRetriesAfterTooManyRequests(t *testing.T) {
	var calls atomic.Int32
	refuse := atomic.Int32{}
	refuse.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if refuse.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":"rate limit: slow down"}`))
			return
		}
		w.Write([]byte(`{"node_id":"ab"}`))
	}))
	defer srv.Close()
	c := New(srv.URL)
	st, err := c.Status(context.Background())
	if err != nil || st.NodeID != "ab" || calls.Load() != 3 {
		t.Fatalf("after two 429s: %v, %+v, %d calls; want success on the third", err, st, calls.Load())
	}
	refuse.Store(1000)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := c.Status(ctx); !IsStatus(err, http.StatusTooManyRequests) {
		t.Fatalf("persistent 429: %v, want the 429", err)
	}
}
