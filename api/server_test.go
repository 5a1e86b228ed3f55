package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/app"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/storage"
)

// testPayload is the fake's payload format: a uint32 count, then each
// transaction as a uint32 length and its bytes. The API never assumes a
// format; it is handed one through Options.DecodeTxs.
func encodeTestPayload(txs [][]byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(txs)))
	for _, tx := range txs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(tx)))
		b = append(b, tx...)
	}
	return b
}

func decodeTestPayload(p []byte) ([][]byte, error) {
	if len(p) < 4 {
		return nil, errors.New("short payload")
	}
	n := binary.BigEndian.Uint32(p)
	p = p[4:]
	var txs [][]byte
	for range n {
		if len(p) < 4 {
			return nil, errors.New("short payload")
		}
		l := binary.BigEndian.Uint32(p)
		p = p[4:]
		if uint32(len(p)) < l {
			return nil, errors.New("short payload")
		}
		txs = append(txs, p[:l])
		p = p[l:]
	}
	return txs, nil
}

// fakeBackend is an in-memory Backend recording what the API asked of it.
type fakeBackend struct {
	mu          sync.Mutex
	submitCalls int
	submitted   [][]byte
	// reject decides each submitted transaction's error (nil: accept).
	reject func(tx []byte) error
	txs    map[model.Identifier]TxStatus
	blocks []*model.Block
	state  map[string][]byte
	status Status
	// subs receives the channel of every new subscription.
	subs      chan chan ledger.FinalizedBlock
	panicking bool
}

func newFake(t *testing.T) *fakeBackend {
	t.Helper()
	f := &fakeBackend{
		txs:   map[model.Identifier]TxStatus{},
		state: map[string][]byte{"alice": []byte("42")},
		subs:  make(chan chan ledger.FinalizedBlock, 4),
	}
	root, err := model.NewRootBlock(testChain, 0, 0, 1_700_000_000_000, []byte("floe genesis:test"))
	if err != nil {
		t.Fatal(err)
	}
	f.blocks = []*model.Block{root}
	for h := 1; h <= 3; h++ {
		txs := [][]byte{[]byte(fmt.Sprintf("tx-%d-a", h)), []byte(fmt.Sprintf("tx-%d-b", h))}
		f.blocks = append(f.blocks, testBlock(t, f.blocks[h-1], txs, h == 3))
	}
	f.status = Status{
		NodeID: crypto.Sum([]byte("n0")), Name: "node0", ChainID: "test", View: 7,
		FinalizedHeight: 3, FinalizedID: f.blocks[3].ID(), ExecutedHeight: 3,
		MempoolTxs: 5, MempoolBytes: 500,
		Committee: []CommitteeMember{{ID: crypto.Sum([]byte("n0")), Name: "node0", Weight: 1}},
		Peers:     []PeerState{{ID: crypto.Sum([]byte("n1")), Name: "node1", Address: "127.0.0.1:1", Connected: true}},
	}
	return f
}

// testBlock builds a child of parent; withTC makes it skip a view.
func testBlock(t *testing.T, parent *model.Block, txs [][]byte, withTC bool) *model.Block {
	t.Helper()
	signers, _ := model.NewSignerSet(4)
	signers.Set(0)
	signers.Set(1)
	signers.Set(2)
	qc, err := model.NewQC(parent.View, parent.ID(), signers, []byte{1})
	if err != nil {
		t.Fatal(err)
	}
	payload := encodeTestPayload(txs)
	h := model.Header{ChainID: parent.ChainID, View: parent.View + 1, Height: parent.Height + 1, ParentID: parent.ID(), QC: qc,
		ProposerID: crypto.Sum([]byte("n1")), Timestamp: parent.Timestamp + 1000, PayloadHash: model.PayloadHash(payload)}
	if withTC {
		h.View = parent.View + 2
		tc, err := model.NewTC(h.View-1, qc, []model.View{parent.View, parent.View, parent.View}, signers, []byte{2})
		if err != nil {
			t.Fatal(err)
		}
		h.TC = tc
	}
	b, err := model.NewBlock(h, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var errFull = fmt.Errorf("%w: 100000 transactions held", mempool.ErrFull)

func (f *fakeBackend) SubmitTxs(txs [][]byte) []Submission {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submitCalls++
	out := make([]Submission, len(txs))
	for i, tx := range txs {
		f.submitted = append(f.submitted, tx)
		out[i].ID = crypto.Sum(tx)
		if f.reject != nil {
			out[i].Error = f.reject(tx)
		}
	}
	return out
}

func (f *fakeBackend) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.submitCalls
}

func (f *fakeBackend) TxStatus(id model.Identifier) (TxStatus, error) {
	if st, ok := f.txs[id]; ok {
		return st, nil
	}
	return TxStatus{ID: id, Status: "unknown"}, nil
}

func (f *fakeBackend) BlockByHeight(h uint64) (*model.Block, error) {
	if h >= uint64(len(f.blocks)) {
		return nil, fmt.Errorf("height %d: %w", h, storage.ErrNotFound)
	}
	return f.blocks[h], nil
}

func (f *fakeBackend) LatestBlock() (*model.Block, error) { return f.blocks[len(f.blocks)-1], nil }

func (f *fakeBackend) Status() Status {
	if f.panicking {
		panic("status exploded")
	}
	return f.status
}

func (f *fakeBackend) State(_ context.Context, key []byte) (ledger.StateValue, error) {
	v := f.state[string(key)]
	return ledger.StateValue{Key: key, Value: v, Proof: []byte("proof:" + string(key)), Height: 3, Root: [32]byte{9}}, nil
}

func (f *fakeBackend) SubscribeFinalized(ctx context.Context) (<-chan ledger.FinalizedBlock, error) {
	ch := make(chan ledger.FinalizedBlock, 16)
	f.subs <- ch
	return ch, nil
}

// do runs one request against a fresh server over f.
func do(t *testing.T, h http.Handler, method, target, body string) (*http.Response, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, target, err, rec.Body.String())
	}
	return resp, m
}

func newTestServer(f *fakeBackend) *Server {
	return New(f, Options{DecodeTxs: decodeTestPayload})
}

func idOf(s string) model.Identifier { return crypto.Sum([]byte(s)) }

func hexOf(s string) string { return hex.EncodeToString([]byte(s)) }

func TestSubmitSingleAndBatch(t *testing.T) {
	f := newFake(t)
	s := newTestServer(f)
	resp, m := do(t, s, "POST", "/v1/transactions", `{"tx":"`+hexOf("hello")+`"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %v", resp.StatusCode, m)
	}
	res := m["results"].([]any)
	id := idOf("hello")
	if len(res) != 1 || res[0].(map[string]any)["id"] != id.Hex() {
		t.Fatalf("results = %v", res)
	}
	if _, ok := res[0].(map[string]any)["error"]; ok {
		t.Fatalf("accepted tx has an error: %v", res)
	}

	resp, m = do(t, s, "POST", "/v1/transactions", `{"txs":["`+hexOf("a")+`","`+hexOf("b")+`","`+hexOf("c")+`"]}`)
	if resp.StatusCode != http.StatusAccepted || m["accepted"] != 3.0 || m["rejected"] != 0.0 {
		t.Fatalf("status %d: %v", resp.StatusCode, m)
	}
	if got := len(m["results"].([]any)); got != 3 {
		t.Fatalf("%d results", got)
	}
	if f.calls() != 2 || len(f.submitted) != 4 || string(f.submitted[3]) != "c" {
		t.Fatalf("backend saw %d calls, %q", f.calls(), f.submitted)
	}
}

func TestSubmitRejections(t *testing.T) {
	f := newFake(t)
	s := newTestServer(f)
	invalid := fmt.Errorf("%w: bad nonce", app.ErrInvalidTx)

	// Partial: 202 with the failure reported per item.
	f.reject = func(tx []byte) error {
		if string(tx) == "bad" {
			return invalid
		}
		return nil
	}
	resp, m := do(t, s, "POST", "/v1/transactions", `{"txs":["`+hexOf("good")+`","`+hexOf("bad")+`"]}`)
	if resp.StatusCode != http.StatusAccepted || m["accepted"] != 1.0 || m["rejected"] != 1.0 {
		t.Fatalf("partial: status %d: %v", resp.StatusCode, m)
	}
	item := m["results"].([]any)[1].(map[string]any)
	if !strings.Contains(item["error"].(string), "bad nonce") || item["code"] != CodeInvalid {
		t.Fatalf("per-item error = %v", item)
	}

	// All invalid: 400.
	f.reject = func([]byte) error { return invalid }
	resp, m = do(t, s, "POST", "/v1/transactions", `{"txs":["`+hexOf("x")+`","`+hexOf("y")+`"]}`)
	if resp.StatusCode != http.StatusBadRequest || m["error"] == nil || len(m["results"].([]any)) != 2 {
		t.Fatalf("all invalid: status %d: %v", resp.StatusCode, m)
	}

	// All refused for a transient reason: 503 with Retry-After.
	f.reject = func([]byte) error { return errFull }
	resp, m = do(t, s, "POST", "/v1/transactions", `{"tx":"`+hexOf("z")+`"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(m["error"].(string), "mempool full") || m["results"].([]any)[0].(map[string]any)["code"] != CodeFull {
		t.Fatalf("full: status %d: %v", resp.StatusCode, m)
	}
}

func TestSubmitBadRequests(t *testing.T) {
	tooMany := make([]string, DefaultMaxBatchTxs+1)
	for i := range tooMany {
		tooMany[i] = "00"
	}
	manyJSON, _ := json.Marshal(map[string]any{"txs": tooMany})
	huge := `{"tx":"` + strings.Repeat("ab", DefaultMaxBodyBytes/2+1) + `"}`
	cases := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"empty body", "", 400, "empty body"},
		{"not json", "hello", 400, "malformed JSON"},
		{"truncated", `{"txs":["00"`, 400, "malformed JSON"},
		{"wrong type", `{"tx":5}`, 400, "malformed JSON"},
		{"array", `["00"]`, 400, "malformed JSON"},
		{"unknown field", `{"transaction":"00"}`, 400, "unknown field"},
		{"trailing data", `{"tx":"00"} {"tx":"01"}`, 400, "trailing data"},
		{"neither", `{}`, 400, "no transactions"},
		{"null txs", `{"txs":null}`, 400, "no transactions"},
		{"empty txs", `{"txs":[]}`, 400, "empty"},
		{"empty tx", `{"tx":""}`, 400, "transaction 0 is empty"},
		{"empty tx in batch", `{"txs":["00",""]}`, 400, "transaction 1 is empty"},
		{"both", `{"tx":"00","txs":["01"]}`, 400, "not both"},
		{"bad hex", `{"tx":"zz"}`, 400, "invalid hex"},
		{"odd hex", `{"txs":["00","abc"]}`, 400, "transaction 1: invalid hex"},
		{"too many", string(manyJSON), 400, "at most 10000"},
		{"too large", huge, 413, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			s := newTestServer(f)
			resp, m := do(t, s, "POST", "/v1/transactions", c.body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, c.status, m)
			}
			msg, _ := m["error"].(string)
			if !strings.Contains(msg, c.msg) {
				t.Fatalf("error %q does not mention %q", msg, c.msg)
			}
			if f.calls() != 0 {
				t.Fatalf("a rejected request reached SubmitTxs")
			}
		})
	}
}

func TestTxStatus(t *testing.T) {
	f := newFake(t)
	s := newTestServer(f)
	fin := idOf("fin")
	pend := idOf("pend")
	f.txs[fin] = TxStatus{ID: fin, Status: "finalized",
		Result: &storage.TxResult{ID: fin, Height: 2, View: 2, Index: 1, OK: false, Error: "no such key"}}
	f.txs[pend] = TxStatus{ID: pend, Status: "pending"}

	resp, m := do(t, s, "GET", "/v1/transactions/"+fin.Hex(), "")
	if resp.StatusCode != 200 || m["status"] != "finalized" || m["height"] != 2.0 || m["view"] != 2.0 ||
		m["index"] != 1.0 || m["ok"] != false || m["error"] != "no such key" || m["id"] != fin.Hex() {
		t.Fatalf("finalized: %d %v", resp.StatusCode, m)
	}
	resp, m = do(t, s, "GET", "/v1/transactions/"+pend.Hex(), "")
	if resp.StatusCode != 200 || m["status"] != "pending" {
		t.Fatalf("pending: %d %v", resp.StatusCode, m)
	}
	if _, ok := m["height"]; ok {
		t.Fatalf("pending tx has a height: %v", m)
	}
	resp, m = do(t, s, "GET", "/v1/transactions/"+idOf("nope").Hex(), "")
	if resp.StatusCode != 404 || m["status"] != "unknown" || m["error"] == nil {
		t.Fatalf("unknown: %d %v", resp.StatusCode, m)
	}
	for _, bad := range []string{"xyz", "00", strings.Repeat("g", 64), strings.Repeat("0", 66)} {
		resp, m = do(t, s, "GET", "/v1/transactions/"+bad, "")
		if resp.StatusCode != 400 || m["error"] == nil {
			t.Fatalf("bad id %q: %d %v", bad, resp.StatusCode, m)
		}
	}
}

func TestBlocks(t *testing.T) {
	f := newFake(t)
	s := newTestServer(f)
	resp, m := do(t, s, "GET", "/v1/blocks/2", "")
	b2 := f.blocks[2]
	if resp.StatusCode != 200 || m["id"] != b2.ID().Hex() || m["height"] != 2.0 || m["view"] != float64(b2.View) ||
		m["parent"] != f.blocks[1].ID().Hex() || m["proposer"] != b2.ProposerID.Hex() ||
		m["timestamp"] != float64(b2.Timestamp) || m["payload_hash"] != b2.PayloadHash.Hex() || m["tx_count"] != 2.0 {
		t.Fatalf("block 2: %d %v", resp.StatusCode, m)
	}
	if qc := m["qc"].(map[string]any); qc["signers"] != 3.0 || qc["view"] != float64(b2.QC.View) {
		t.Fatalf("qc = %v", qc)
	}
	if _, ok := m["tc"]; ok {
		t.Fatalf("block 2 has no TC: %v", m)
	}
	if _, ok := m["txs"]; ok {
		t.Fatalf("txs without ?txs=1: %v", m)
	}

	_, m = do(t, s, "GET", "/v1/blocks/latest?txs=1&tx_ids=true", "")
	if m["height"] != 3.0 || m["tc"].(map[string]any)["view"] != float64(f.blocks[3].TC.View) {
		t.Fatalf("latest: %v", m)
	}
	txs := m["txs"].([]any)
	if len(txs) != 2 || txs[0] != hexOf("tx-3-a") {
		t.Fatalf("txs = %v", txs)
	}
	if ids := m["tx_ids"].([]any); ids[1] != idOf("tx-3-b").Hex() {
		t.Fatalf("tx_ids = %v", ids)
	}

	resp, m = do(t, s, "GET", "/v1/blocks/0", "")
	if resp.StatusCode != 200 || m["height"] != 0.0 || m["qc"] != nil || m["tx_count"] != 0.0 {
		t.Fatalf("genesis: %d %v", resp.StatusCode, m)
	}
	resp, m = do(t, s, "GET", "/v1/blocks/4", "")
	if resp.StatusCode != 404 || m["error"] == nil {
		t.Fatalf("beyond finalized: %d %v", resp.StatusCode, m)
	}
	for _, bad := range []string{"-1", "abc", "1.5", "0x10", "99999999999999999999999", "2?txs=maybe"} {
		resp, m = do(t, s, "GET", "/v1/blocks/"+bad, "")
		if resp.StatusCode != 400 || m["error"] == nil {
			t.Fatalf("%q: %d %v", bad, resp.StatusCode, m)
		}
	}

	// Without a payload decoder the block is still served, minus txs.
	s2 := New(f, Options{})
	resp, m = do(t, s2, "GET", "/v1/blocks/1?txs=1", "")
	if resp.StatusCode != 200 || m["txs"] != nil || m["tx_count"] != nil {
		t.Fatalf("no decoder: %d %v", resp.StatusCode, m)
	}
}

func TestStatus(t *testing.T) {
	f := newFake(t)
	resp, m := do(t, newTestServer(f), "GET", "/v1/status", "")
	if resp.StatusCode != 200 || m["view"] != 7.0 || m["finalized_height"] != 3.0 ||
		m["finalized_id"] != f.blocks[3].ID().Hex() || m["chain_id"] != "test" || m["mempool_txs"] != 5.0 ||
		m["syncing"] != false {
		t.Fatalf("status: %d %v", resp.StatusCode, m)
	}
	if c := m["committee"].([]any); len(c) != 1 || c[0].(map[string]any)["name"] != "node0" {
		t.Fatalf("committee = %v", c)
	}
	if p := m["peers"].([]any); len(p) != 1 || p[0].(map[string]any)["connected"] != true {
		t.Fatalf("peers = %v", p)
	}
}

func TestState(t *testing.T) {
	f := newFake(t)
	s := newTestServer(f)
	for _, target := range []string{"/v1/state/" + hexOf("alice"), "/v1/state?key=alice"} {
		resp, m := do(t, s, "GET", target, "")
		if resp.StatusCode != 200 || m["value"] != hexOf("42") || m["found"] != true ||
			m["proof"] != hexOf("proof:alice") || m["height"] != 3.0 || m["key"] != hexOf("alice") {
			t.Fatalf("%s: %d %v", target, resp.StatusCode, m)
		}
	}
	resp, m := do(t, s, "GET", "/v1/state?key=bob", "")
	if resp.StatusCode != 404 || m["found"] != false || m["proof"] != hexOf("proof:bob") || m["error"] == nil ||
		m["root"] == nil {
		t.Fatalf("absent: %d %v", resp.StatusCode, m)
	}
	for _, bad := range []string{"/v1/state/zz", "/v1/state/abc", "/v1/state", "/v1/state?key=", "/v1/state/00?key=a"} {
		resp, m = do(t, s, "GET", bad, "")
		if resp.StatusCode != 400 || m["error"] == nil {
			t.Fatalf("%s: %d %v", bad, resp.StatusCode, m)
		}
	}
}

func TestRoutingErrors(t *testing.T) {
	s := newTestServer(newFake(t))
	for _, c := range []struct {
		method, target string
		status         int
	}{
		{"GET", "/nope", 404},
		{"GET", "/v1/", 404},
		{"GET", "/v1/transactions", 405},
		{"DELETE", "/v1/transactions/00", 405},
		{"POST", "/v1/status", 405},
		{"PUT", "/v1/blocks/1", 405},
		{"GET", "/metrics", 404}, // no Gatherer configured
	} {
		resp, m := do(t, s, c.method, c.target, "")
		if resp.StatusCode != c.status || m["error"] == nil {
			t.Fatalf("%s %s: %d %v, want %d", c.method, c.target, resp.StatusCode, m, c.status)
		}
		if c.status == 405 && resp.Header.Get("Allow") == "" {
			t.Fatalf("%s %s: 405 without Allow", c.method, c.target)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: content type %q", c.method, c.target, ct)
		}
	}
}

func TestPanicRecovered(t *testing.T) {
	f := newFake(t)
	f.panicking = true
	resp, m := do(t, newTestServer(f), "GET", "/v1/status", "")
	if resp.StatusCode != 500 || m["error"] != "internal error" {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
}

func TestMetricsAndDebug(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_timeouts_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	s := New(newFake(t), Options{Gatherer: reg})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "floe_timeouts_total 3") {
		t.Fatalf("/metrics: %d\n%s", rec.Code, rec.Body.String())
	}

	rec = httptest.NewRecorder()
	DebugHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatalf("pprof index: %d", rec.Code)
	}
	// pprof must not leak onto the API.
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
	if rec.Code != 404 {
		t.Fatalf("pprof on the API address: %d", rec.Code)
	}
}

// sseEvent is one parsed server-sent event.
type sseEvent struct{ id, event, data string }

func readEvent(t *testing.T, r *bufio.Reader) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading stream: %v (partial event %+v)", err, ev)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

func TestStream(t *testing.T) {
	f := newFake(t)
	ts := httptest.NewServer(newTestServer(f))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/v1/blocks/stream?tx_ids=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var ch chan ledger.FinalizedBlock
	select {
	case ch = <-f.subs:
	case <-ctx.Done():
		t.Fatal("no subscription")
	}
	now := time.Now()
	for h := 1; h <= 3; h++ {
		ch <- ledger.FinalizedBlock{Block: f.blocks[h], TxCount: 2, StateRoot: [32]byte{byte(h)}, Time: now}
	}
	br := bufio.NewReader(resp.Body)
	for h := 1; h <= 3; h++ {
		ev := readEvent(t, br)
		if ev.event != "block" || ev.id != fmt.Sprint(h) {
			t.Fatalf("event %+v", ev)
		}
		var b BlockResponse
		if err := json.Unmarshal([]byte(ev.data), &b); err != nil {
			t.Fatal(err)
		}
		if b.Height != uint64(h) || b.ID != f.blocks[h].ID().Hex() || *b.TxCount != 2 || len(b.TxIDs) != 2 ||
			b.StateRoot != hex.EncodeToString(append([]byte{byte(h)}, make([]byte, 31)...)) || b.ExecutedAt == nil {
			t.Fatalf("event data %+v", b)
		}
	}
	// A dropped subscription ends the stream with a "dropped" event.
	close(ch)
	if ev := readEvent(t, br); ev.event != "dropped" {
		t.Fatalf("after close: %+v", ev)
	}
	if _, err := io.ReadAll(br); err != nil {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
}

// The stream's handler must return (and release its subscription context)
// when the client goes away.
func TestStreamClientDisconnect(t *testing.T) {
	f := newFake(t)
	done := make(chan struct{})
	s := newTestServer(f)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r)
		close(done)
	}))
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/v1/blocks/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-f.subs
	cancel()
	resp.Body.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stream handler still running after the client left")
	}
}

func FuzzParseSubmitBody(f *testing.F) {
	for _, seed := range []string{
		`{"tx":"00"}`, `{"txs":["00","0102"]}`, `{"txs":[]}`, `{}`, `{"tx":""}`, `{"tx":"0"}`,
		`{"tx":"00","txs":["01"]}`, `{"txs":null}`, `[]`, `null`, ``, `{"tx":"00"} x`, `{"txs":["00",1]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		txs, err := ParseSubmitBody(bytes.NewReader(body), 16)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		if len(txs) == 0 || len(txs) > 16 {
			t.Fatalf("%d transactions accepted", len(txs))
		}
		hexes := make([]string, len(txs))
		for i, tx := range txs {
			if len(tx) == 0 {
				t.Fatal("empty transaction accepted")
			}
			hexes[i] = hex.EncodeToString(tx)
		}
		// What was accepted re-encodes to a body that parses the same.
		again, err := json.Marshal(SubmitRequest{Txs: hexes})
		if err != nil {
			t.Fatal(err)
		}
		txs2, err := ParseSubmitBody(bytes.NewReader(again), 16)
		if err != nil || len(txs2) != len(txs) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range txs {
			if !bytes.Equal(txs[i], txs2[i]) {
				t.Fatalf("round trip changed transaction %d", i)
			}
		}
	})
}

// The server timeouts meant for ordinary requests (floe start sets both)
// must not end a stream.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	f := newFake(t)
	ts := httptest.NewUnstartedServer(newTestServer(f))
	ts.Config.ReadTimeout = 300 * time.Millisecond
	ts.Config.WriteTimeout = 300 * time.Millisecond
	ts.Start()
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/v1/blocks/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ch := <-f.subs
	time.Sleep(time.Second)
	ch <- ledger.FinalizedBlock{Block: f.blocks[1], TxCount: 2}
	if ev := readEvent(t, bufio.NewReader(resp.Body)); ev.event != "block" || ev.id != "1" {
		t.Fatalf("event %+v", ev)
	}
}

// The binary format: a payload-encoded batch in, only rejections out.
func TestSubmitBinary(t *testing.T) {
	b := &binaryFake{}
	srv := New(b, Options{})
	req := httptest.NewRequest(http.MethodPost, "/v1/transactions", bytes.NewReader(mempool.EncodePayload([][]byte{{'a'}, {'b'}})))
	req.Header.Set("Content-Type", ContentTypeBinary)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var resp SubmitResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Accepted != 1 || resp.Rejected != 1 || len(resp.Results) != 1 || resp.Results[0].Index != 1 {
		t.Fatalf("want one accepted and only the rejected one listed with its index, got %+v", resp)
	}
	bad := httptest.NewRequest(http.MethodPost, "/v1/transactions", bytes.NewReader([]byte{9}))
	bad.Header.Set("Content-Type", ContentTypeBinary)
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, bad)
	if rec.Code != http.StatusBadRequest || b.calls != 1 {
		t.Fatalf("garbage binary batch: status %d, backend calls %d", rec.Code, b.calls)
	}
}

// binaryFake accepts the first transaction of a batch and rejects the rest.
type binaryFake struct {
	fakeBackend
	calls int
}

func (f *binaryFake) SubmitTxs(txs [][]byte) []Submission {
	f.calls++
	out := make([]Submission, len(txs))
	for i := 1; i < len(txs); i++ {
		out[i].Error = fmt.Errorf("%w: test", app.ErrInvalidTx)
	}
	return out
}

// testChain is the chain these tests' blocks and messages belong to.
var testChain = model.MainChain("test")
