package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSubmitTxRefusalIsRejectedError(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"accepted":0,"rejected":1,"results":[{"index":0,"error":"mempool full","code":"full"}],"error":"nothing accepted"}`)
	})
	id, err := c.SubmitTx(context.Background(), []byte("k=v"))
	var re *RejectedError
	if !errors.As(err, &re) || re.ID != id || re.Reason != "mempool full" || len(id) != 64 {
		t.Fatalf("id %s, err %v", id, err)
	}
}

// WaitFinalized waits out 404s and pending answers, then returns the
// finalized status; WriteFinalized reports it.
func TestWaitFinalized(t *testing.T) {
	var calls atomic.Int64
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, `{"error":"unknown"}`, http.StatusNotFound)
		case 2:
			fmt.Fprint(w, `{"id":"ab","status":"pending"}`)
		default:
			fmt.Fprint(w, `{"id":"ab","status":"finalized","height":7,"view":9,"index":2,"ok":false,"error":"bad"}`)
		}
	})
	st, err := c.WaitFinalized(context.Background(), "ab")
	if err != nil || st.Status != "finalized" || calls.Load() != 3 {
		t.Fatalf("status %+v, err %v, %d calls", st, err, calls.Load())
	}
	var b bytes.Buffer
	err = WriteFinalized(&b, st, 1500*time.Microsecond)
	if err == nil || !strings.Contains(err.Error(), "transaction ab failed: bad") ||
		b.String() != "finalized at height 7 (view 9, index 2) after 2ms: failed: bad\n" {
		t.Fatalf("report %q, err %v", b.String(), err)
	}
	// Never finalized: the deadline ends the wait with the last status.
	c = serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"id":"ab","status":"pending"}`) })
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	if _, err := c.WaitFinalized(ctx, "ab"); err == nil || !strings.Contains(err.Error(), `not finalized after`) ||
		!strings.Contains(err.Error(), `"pending"`) {
		t.Fatalf("pending forever: %v", err)
	}
}
