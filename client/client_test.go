package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/mempool"
)

func serve(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return New(srv.URL)
}

func TestNewNormalizesURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080":         "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/": "http://127.0.0.1:8080",
		"https://node.example":   "https://node.example",
	} {
		if got := New(in).BaseURL(); got != want {
			t.Errorf("New(%q).BaseURL() = %q, want %q", in, got, want)
		}
	}
	if New("x").HTTPClient().Timeout != DefaultTimeout {
		t.Error("default client has no timeout")
	}
}

func TestErrorStatusCarriesMessage(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/status":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"node is starting"}`)
		default:
			http.Error(w, "plain text failure", http.StatusTeapot)
		}
	})
	_, err := c.Status(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Status != 503 || e.Message != "node is starting" {
		t.Fatalf("status: %v", err)
	}
	if !IsStatus(err, 503) || IsStatus(err, 404) || err.Error() != "HTTP 503: node is starting" {
		t.Fatalf("error %q", err)
	}
	_, err = c.Tx(context.Background(), "ab")
	if !errors.As(err, &e) || e.Status != http.StatusTeapot || e.Message != "plain text failure" {
		t.Fatalf("plain error: %v", err)
	}
}

// A refused batch still returns the per-item results.
func TestSubmitRefusalKeepsResults(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/transactions" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != api.ContentTypeBinary {
			t.Errorf("content type %q", ct)
		}
		body, _ := io.ReadAll(r.Body)
		txs, err := mempool.DecodePayload(body, 10)
		if err != nil || len(txs) != 2 {
			t.Errorf("body: %v %d", err, len(txs))
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"accepted":0,"rejected":2,"results":[{"index":0,"error":"mempool full","code":"full"},{"index":1,"error":"mempool full","code":"full"}],"error":"nothing accepted"}`)
	})
	resp, err := c.SubmitBinary(context.Background(), [][]byte{[]byte("a"), []byte("b")})
	if !IsStatus(err, 503) || !strings.Contains(err.Error(), "nothing accepted") {
		t.Fatalf("err %v", err)
	}
	if resp.Rejected != 2 || len(resp.Results) != 2 || resp.Results[1].Code != api.CodeFull {
		t.Fatalf("resp %+v", resp)
	}
}

func TestOversizedBodyRefused(t *testing.T) {
	big := `{"chain_id":"` + strings.Repeat("x", 2000) + `"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			fmt.Fprint(w, strings.Repeat("# padding\n", 300))
			return
		}
		fmt.Fprint(w, big)
	}))
	defer srv.Close()
	c := New(srv.URL, WithMaxResponseBytes(1000))
	if _, err := c.Status(context.Background()); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("oversized status: %v", err)
	}
	if _, _, err := c.Metric(context.Background(), "x"); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("oversized metrics: %v", err)
	}
	// Exactly at the bound is fine.
	c = New(srv.URL, WithMaxResponseBytes(int64(len(big))))
	if st, err := c.Status(context.Background()); err != nil || len(st.ChainID) != 2000 {
		t.Fatalf("status at the bound: %v", err)
	}
}

func TestHappyPathsDecode(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path + "?" + r.URL.RawQuery {
		case "/v1/status?":
			fmt.Fprint(w, `{"chain_id":"c","view":7,"finalized_height":5}`)
		case "/v1/transactions?":
			body, _ := io.ReadAll(r.Body)
			if string(body) != `{"txs":["6869","00ff"]}` {
				t.Errorf("submit body %s", body)
			}
			fmt.Fprint(w, `{"accepted":2,"rejected":0,"results":[{"index":0,"id":"a"},{"index":1,"id":"b"}]}`)
		case "/v1/transactions/abcd?":
			fmt.Fprint(w, `{"id":"abcd","status":"finalized","height":3}`)
		case "/v1/blocks/3?tx_ids=1":
			fmt.Fprint(w, `{"id":"b3","height":3,"tx_ids":["abcd"]}`)
		case "/v1/chain?from=2&limit=64":
			fmt.Fprint(w, `{"blocks":[{},{}]}`)
		case "/metrics?":
			fmt.Fprint(w, "# HELP floe_timeouts_total x\nfloe_timeouts_total_other 9\nfloe_timeouts_total 42\n")
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			http.NotFound(w, r)
		}
	})
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || st.ChainID != "c" || st.View != 7 || st.FinalizedHeight != 5 {
		t.Fatalf("status %+v %v", st, err)
	}
	sub, err := c.Submit(ctx, [][]byte{[]byte("hi"), {0, 0xff}})
	if err != nil || sub.Accepted != 2 || sub.Results[1].ID != "b" {
		t.Fatalf("submit %+v %v", sub, err)
	}
	tx, err := c.Tx(ctx, "abcd")
	if err != nil || tx.Status != "finalized" || tx.Height == nil || *tx.Height != 3 {
		t.Fatalf("tx %+v %v", tx, err)
	}
	b, err := c.Block(ctx, 3, BlockQuery{TxIDs: true})
	if err != nil || b.ID != "b3" || len(b.TxIDs) != 1 {
		t.Fatalf("block %+v %v", b, err)
	}
	blocks, err := c.Chain(ctx, 2, 64)
	if err != nil || len(blocks) != 2 {
		t.Fatalf("chain %d %v", len(blocks), err)
	}
	v, ok, err := c.Metric(ctx, "floe_timeouts_total")
	if err != nil || !ok || v != 42 {
		t.Fatalf("metric %v %v %v", v, ok, err)
	}
	if _, ok, err := c.Metric(ctx, "floe_missing"); err != nil || ok {
		t.Fatalf("missing metric %v %v", ok, err)
	}
}

func TestStream(t *testing.T) {
	long := strings.Repeat("a", 3<<20) // longer than the reader's buffer
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/blocks/stream" || r.URL.RawQuery != "tx_ids=1" {
			t.Errorf("stream request %s", r.URL)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": hello\n\nevent: block\ndata: {\"height\":1}\n\nevent: block\ndata: "+long+"\n\n")
		fmt.Fprint(w, "event: dropped\ndata: {}\n\n")
	})
	var got []StreamEvent
	connected := false
	stop := errors.New("stop")
	err := c.Stream(context.Background(), BlockQuery{TxIDs: true}, func() { connected = true }, func(ev StreamEvent) error {
		got = append(got, ev)
		if ev.Event == "dropped" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !connected || len(got) != 3 {
		t.Fatalf("err %v connected %v events %d", err, connected, len(got))
	}
	if got[0].Event != "block" || string(got[0].Data) != `{"height":1}` || len(got[1].Data) != len(long) {
		t.Fatalf("events %q %d", got[0].Data, len(got[1].Data))
	}
	// An event beyond the bound ends the stream.
	small := New(c.BaseURL(), WithMaxResponseBytes(1<<20))
	err = small.Stream(context.Background(), BlockQuery{TxIDs: true}, nil, func(StreamEvent) error { return nil })
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("oversized event: %v", err)
	}
}

func TestStreamEndsWithContextOrEOF(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hold") == "" {
			fmt.Fprint(w, "event: block\ndata: {}\n\n")
			return // the stream ends
		}
	})
	err := c.Stream(context.Background(), BlockQuery{}, nil, func(StreamEvent) error { return nil })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ended stream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	hold := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	if err := hold.Stream(ctx, BlockQuery{}, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled stream: %v", err)
	}
	h := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"too many subscribers"}`, http.StatusServiceUnavailable)
	})
	if err := h.Stream(context.Background(), BlockQuery{}, nil, nil); !IsStatus(err, 503) || !strings.Contains(err.Error(), "too many subscribers") {
		t.Fatalf("refused stream: %v", err)
	}
}
