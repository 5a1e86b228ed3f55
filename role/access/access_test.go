package access

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/payload"
)

// post submits txs as JSON and returns the status, the answer and its
// Retry-After.
func (h *harness) post(txs ...[]byte) (int, api.SubmitResponse, string) {
	h.t.Helper()
	req := api.SubmitRequest{}
	for _, x := range txs {
		req.Txs = append(req.Txs, hex.EncodeToString(x))
	}
	body, _ := json.Marshal(req)
	resp, err := http.Post(h.api.URL+"/v1/transactions", "application/json", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out api.SubmitResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, out, resp.Header.Get("Retry-After")
}

func (h *harness) getTx(id model.Identifier) (int, api.TxResponse) {
	h.t.Helper()
	resp, err := http.Get(h.api.URL + "/v1/transactions/" + id.Hex())
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out api.TxResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, out
}

func (h *harness) totalReceived() int {
	n := 0
	for _, f := range h.collectors {
		n += f.total()
	}
	return n
}

func (h *harness) ref(height uint64) model.Identifier {
	b, err := h.chain.BlockByHeight(height)
	if err != nil {
		h.t.Fatal(err)
	}
	return b.ID()
}

// Every transaction reaches Redundancy members of exactly the cluster
// txID mod k of its reference block's epoch, and no other collector; a
// member answering 503 is replaced by another member of the same cluster.
func TestRouting(t *testing.T) {
	for _, tc := range []struct {
		name string
		busy bool // one member of the 3-member cluster refuses every batch
	}{{"all up", false}, {"one busy member", true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{collectors: 7, k: 3, height: 5})
			var busy *fakeCollector
			if tc.busy {
				e := h.state.Schedule().Last()
				for i := range 3 {
					members, _ := e.Cluster(i, testMain)
					if len(members) == 3 {
						busy = h.byID[members[0].ID()]
					}
				}
				busy.mu.Lock()
				busy.busy = true
				busy.mu.Unlock()
			}
			ref := h.ref(5)
			var txs []collection.Tx
			var raws [][]byte
			for n := range 90 {
				x := tx(ref, n)
				txs = append(txs, x)
				raws = append(raws, x.Encode())
			}
			status, resp, _ := h.post(raws...)
			if status != http.StatusAccepted || resp.Accepted != len(raws) {
				t.Fatalf("submit: %d %+v", status, resp)
			}
			seen := map[int]bool{}
			for _, x := range txs {
				id := x.ID()
				i, members := h.cluster(id)
				seen[i] = true
				if uint32(i) != collection.ClusterOf(id, 3) {
					t.Fatalf("epoch deals tx %v to cluster %d, want %d", id, i, collection.ClusterOf(id, 3))
				}
				in := map[string]bool{}
				for _, m := range members {
					in[m.url] = true
				}
				h.eventually("tx delivered", func() bool {
					n := 0
					for _, m := range members {
						n += min(m.received(id), 1)
					}
					return n == 2
				})
				for url, f := range h.collectors {
					if f.received(id) > 0 && !in[url] {
						t.Fatalf("tx %v of cluster %d reached %s, not a member", id, i, url)
					}
					if f.received(id) > 1 {
						t.Fatalf("tx %v reached %s %d times", id, url, f.received(id))
					}
					if f == busy && f.received(id) > 0 {
						t.Fatalf("the busy member recorded tx %v", id)
					}
				}
			}
			if len(seen) != 3 {
				t.Fatalf("90 transactions fell in %d clusters, want all 3", len(seen))
			}
			if got := h.totalReceived(); got != 2*len(txs) {
				t.Fatalf("collectors received %d copies, want %d", got, 2*len(txs))
			}
			// The collectors count a copy before the forwarder reads their answer.
			h.eventually("forwarded metric", func() bool { return testutil.ToFloat64(h.svc.m.forwarded) == float64(2*len(txs)) })
		})
	}
}

// Bad input gets a 4xx, and nothing is forwarded or tracked.
func TestBadInput(t *testing.T) {
	const expiry = 10
	h := newHarness(t, harnessOpts{collectors: 4, k: 2, height: 30, tweak: func(c *Config) {
		c.Expiry = expiry
		c.TxLimits = collection.Limits{MaxTxs: 100, MaxBytes: 1 << 20, MaxTxBytes: 200}
		c.RefWait = 50 * time.Millisecond
	}})
	// Height 30 is latest: height 20 is the oldest reference not expired
	// (20 + 10 ≥ 30), 19 is expired (and still in the 20-height window,
	// so it is refused as expired, not unknown).
	unknown := model.Identifier(crypto.Sum([]byte("not a block")))
	for _, tc := range []struct {
		name, reason string
		raw          []byte
		status       int
		code         string
	}{
		{"malformed", reasonMalformed, []byte{1, 2, 3}, 400, api.CodeInvalid},
		{"no body", reasonMalformed, collection.Tx{Ref: h.ref(25)}.Encode(), 400, api.CodeInvalid},
		{"trailing bytes", reasonMalformed, append(tx(h.ref(25), 1).Encode(), 0), 400, api.CodeInvalid},
		{"oversize", reasonTooLarge, collection.Tx{Ref: h.ref(25), Body: make([]byte, 200)}.Encode(), 400, api.CodeTooLarge},
		{"unknown ref", reasonUnknown, tx(unknown, 1).Encode(), 400, api.CodeInvalid},
		{"expired ref", reasonExpired, tx(h.ref(19), 1).Encode(), 400, api.CodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(h.svc.m.refused.WithLabelValues(tc.reason))
			status, resp, _ := h.post(tc.raw)
			if status != tc.status || resp.Rejected != 1 || resp.Results[0].Code != tc.code {
				t.Fatalf("got %d %+v, want %d with code %s", status, resp, tc.status, tc.code)
			}
			if got := testutil.ToFloat64(h.svc.m.refused.WithLabelValues(tc.reason)); got != before+1 {
				t.Fatalf("refused{%s} went %v → %v", tc.reason, before, got)
			}
		})
	}
	// The edge of expiry is still accepted: the refusals above were the rule's.
	if status, resp, _ := h.post(tx(h.ref(20), 1).Encode()); status != http.StatusAccepted {
		t.Fatalf("reference at the expiry edge: %d %+v", status, resp)
	}
	h.eventually("the good one forwarded", func() bool { return h.totalReceived() == 2 })
	time.Sleep(50 * time.Millisecond) // a stray forward of a bad one would land by now
	if got := h.totalReceived(); got != 2 {
		t.Fatalf("collectors received %d copies, want only the good transaction's 2", got)
	}
	if got := h.svc.tr.size(); got != 1 {
		t.Fatalf("tracker holds %d transactions, want 1", got)
	}
	// A bad transaction next to a good one is refused alone: 202 with a
	// per-item error.
	status, resp, _ := h.post(tx(h.ref(26), 7).Encode(), tx(unknown, 8).Encode())
	if status != http.StatusAccepted || resp.Accepted != 1 || resp.Rejected != 1 || resp.Results[1].Code != api.CodeInvalid {
		t.Fatalf("mixed batch: %d %+v", status, resp)
	}
	if code, r := h.getTx(tx(unknown, 8).ID()); code != http.StatusNotFound || r.Status != "unknown" {
		t.Fatalf("refused transaction looked up: %d %+v", code, r)
	}
}

// A full cluster queue refuses with 503 + Retry-After and code "full",
// other clusters are unaffected, and the queue accepts again once drained.
func TestBusyQueue(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 4, k: 2, height: 5, tweak: func(c *Config) {
		c.QueueTxs = 3
		c.Redundancy = 1
	}})
	ref := h.ref(5)
	n := 0
	first := h.txInCluster(ref, &n, 0)
	_, members := h.cluster(first.ID())
	hold := make(chan struct{})
	for _, m := range members {
		m.mu.Lock()
		m.hold = hold
		m.mu.Unlock()
	}
	if status, resp, _ := h.post(first.Encode()); status != http.StatusAccepted {
		t.Fatalf("first: %d %+v", status, resp)
	}
	// The forwarder holds the first batch in flight at a held collector.
	var entered *fakeCollector
	h.eventually("batch in flight", func() bool {
		for _, m := range members {
			if len(m.entered) > 0 {
				entered = m
				return true
			}
		}
		return false
	})
	_ = entered
	var queued []collection.Tx
	for range 3 {
		x := h.txInCluster(ref, &n, 0)
		queued = append(queued, x)
		if status, resp, _ := h.post(x.Encode()); status != http.StatusAccepted {
			t.Fatalf("queued: %d %+v", status, resp)
		}
	}
	over := h.txInCluster(ref, &n, 0)
	status, resp, retry := h.post(over.Encode())
	if status != http.StatusServiceUnavailable || retry == "" || resp.Results[0].Code != api.CodeFull {
		t.Fatalf("over the queue: %d retry-after %q %+v", status, retry, resp)
	}
	if code, _ := h.getTx(over.ID()); code != http.StatusNotFound {
		t.Fatalf("a refused transaction is tracked: %d", code)
	}
	if got := testutil.ToFloat64(h.svc.m.refused.WithLabelValues(reasonBusy)); got != 1 {
		t.Fatalf("refused{busy} = %v", got)
	}
	// The other cluster's queue is its own.
	other := h.txInCluster(ref, &n, 1)
	if status, resp, _ := h.post(other.Encode()); status != http.StatusAccepted {
		t.Fatalf("other cluster: %d %+v", status, resp)
	}
	close(hold)
	for _, x := range append(queued, first) {
		h.eventually("queued delivered", func() bool {
			total := 0
			for _, m := range members {
				total += m.received(x.ID())
			}
			return total == 1
		})
	}
	if status, resp, _ := h.post(over.Encode()); status != http.StatusAccepted {
		t.Fatalf("after draining: %d %+v", status, resp)
	}
}

// A transaction goes pending → collected → finalized → executed, driven
// by the collectors' answers and finalized blocks' guarantees and results;
// the stages, the API answer and the event stream agree.
func TestTracking(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 4, k: 2, height: 5, tweak: func(c *Config) { c.Expiry = 20 }})
	events, unsubscribe, err := h.svc.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer unsubscribe()
	x := tx(h.ref(5), 1)
	id := x.ID()
	if status, _, _ := h.post(x.Encode()); status != http.StatusAccepted {
		t.Fatal(status)
	}
	_, members := h.cluster(id)
	h.eventually("delivered", func() bool { return members[0].received(id)+members[1].received(id) == 2 })
	if code, r := h.getTx(id); code != 200 || r.Status != api.TxPending || r.Stages == nil || r.Stages.RefHeight != 5 || r.Stages.SubmittedAt == 0 {
		t.Fatalf("pending: %d %+v", code, r)
	}
	coll := model.Identifier(crypto.Sum([]byte("collection 1")))
	members[1].collect(id, coll)
	h.eventually("collected", func() bool { st := h.svc.TxStatus(id); return st.Status == api.TxCollected })

	// A result that does not cover the guarantee's height executes nothing.
	h.finalize(&payload.Payload{Result: &payload.Result{Height: 5}})                 // 6
	h.finalize(&payload.Payload{Guarantees: []*collection.Guarantee{guar(t, coll)}}) // 7
	if st := h.svc.TxStatus(id); st.Status != api.TxFinalized || st.Stages.FinalizedHeight != 7 {
		t.Fatalf("after the guarantee: %+v %+v", st, st.Stages)
	}
	h.finalize(&payload.Payload{Result: &payload.Result{Height: 6}}) // 8
	if st := h.svc.TxStatus(id); st.Status != api.TxFinalized {
		t.Fatalf("executed by a result below its height: %+v", st)
	}
	h.finalize(&payload.Payload{Result: &payload.Result{Height: 7}}) // 9
	code, r := h.getTx(id)
	if code != 200 || r.Status != api.TxExecuted || r.Stages.ExecutedHeight != 7 || r.Stages.FinalizedHeight != 7 ||
		r.Stages.Collection != coll.Hex() || r.Stages.ClusterChain != "cluster-chain" ||
		r.Stages.CollectedAt < r.Stages.SubmittedAt || r.Stages.FinalizedAt < r.Stages.CollectedAt || r.Stages.ExecutedAt < r.Stages.FinalizedAt {
		t.Fatalf("executed: %d %+v %+v", code, r, r.Stages)
	}
	// The outcome comes from an execution node when first asked, once it
	// has it; asking again does not ask it again.
	if r.Stages.OK != nil {
		t.Fatalf("an outcome before any execution node had one: %+v", r.Stages)
	}
	h.executor.set(id, false, "boom")
	if _, r := h.getTx(id); r.Stages.OK == nil || *r.Stages.OK || r.Stages.ExecError != "boom" ||
		r.Execution == nil || r.Execution.Result != id.Hex()[:16]+"-result" || len(r.Execution.Events) != 1 {
		t.Fatalf("outcome %+v %+v", r.Stages, r.Execution)
	}
	h.executor.mu.Lock()
	asked := h.executor.asked
	h.executor.mu.Unlock()
	if _, r := h.getTx(id); r.Stages.ExecError != "boom" || asked != 2 {
		t.Fatalf("outcome %+v after %d requests, want 2", r.Stages, asked)
	}
	h.executor.mu.Lock()
	defer h.executor.mu.Unlock()
	if h.executor.asked != asked {
		t.Fatalf("the recorded outcome was fetched again")
	}
	want := []struct {
		status string
		height uint64
	}{{api.TxPending, 0}, {api.TxCollected, 0}, {api.TxFinalized, 7}, {api.TxExecuted, 7}}
	for _, w := range want {
		select {
		case ev := <-events:
			if ev.ID != id.Hex() || ev.Status != w.status || ev.Height != w.height || ev.UnixNanos == 0 {
				t.Fatalf("event %+v, want %s at %d", ev, w.status, w.height)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s event", w.status)
		}
	}
	if got := testutil.ToFloat64(h.svc.m.txs.WithLabelValues(api.TxExecuted)); got != 1 {
		t.Fatalf("tracked{executed} = %v", got)
	}
}

// A transaction whose collector answers only after the collection's
// guarantee was finalized is finalized at that height at once; one whose
// result is already finalized too goes straight on to executed.
func TestCollectedAfterGuarantee(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5})
	x := tx(h.ref(5), 1)
	id := x.ID()
	if status, _, _ := h.post(x.Encode()); status != http.StatusAccepted {
		t.Fatal(status)
	}
	coll := model.Identifier(crypto.Sum([]byte("collection")))
	h.finalize(&payload.Payload{Guarantees: []*collection.Guarantee{guar(t, coll)}}) // 6
	h.finalize(&payload.Payload{Result: &payload.Result{Height: 6}})                 // 7
	for _, f := range h.collectors {
		f.collect(id, coll)
	}
	h.eventually("executed", func() bool { return h.svc.TxStatus(id).Status == api.TxExecuted })
	if st := h.svc.TxStatus(id).Stages; st.FinalizedHeight != 6 || st.ExecutedHeight != 6 {
		t.Fatalf("stages %+v", st)
	}
}

// A transaction no cluster collected expires exactly when its reference
// is Expiry blocks below the finalized height.
func TestExpired(t *testing.T) {
	const expiry = 10
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, tweak: func(c *Config) { c.Expiry = expiry }})
	x := tx(h.ref(5), 1)
	if status, _, _ := h.post(x.Encode()); status != http.StatusAccepted {
		t.Fatal(status)
	}
	for h.chain.blocks[len(h.chain.blocks)-1].Height < 5+expiry {
		h.finalize(nil)
	}
	if st := h.svc.TxStatus(x.ID()); st.Status != api.TxPending {
		t.Fatalf("at height ref+expiry: %s, want still pending", st.Status)
	}
	h.finalize(nil) // 16: 5 + 10 < 16
	code, r := h.getTx(x.ID())
	if code != 200 || r.Status != api.TxExpired || r.Stages.ExpiredAt == 0 {
		t.Fatalf("after expiry: %d %+v", code, r)
	}
	// Expired is final: a late guarantee of nothing it knows changes nothing.
	h.finalize(&payload.Payload{Result: &payload.Result{Height: 16}})
	if st := h.svc.TxStatus(x.ID()); st.Status != api.TxExpired {
		t.Fatalf("expired moved on to %s", st.Status)
	}
}

// The per-client submission rate (api.Limits.SubmitTxRate, floe.toml's
// [api] submit_tx_rate) applies to the access node: the excess gets 429
// and is neither forwarded nor tracked.
func TestRateLimit(t *testing.T) {
	lim := api.DefaultLimits()
	lim.SubmitTxRate, lim.SubmitTxBurst = 0.001, 3
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, limits: &lim})
	ref := h.ref(5)
	if status, resp, _ := h.post(tx(ref, 1).Encode(), tx(ref, 2).Encode(), tx(ref, 3).Encode()); status != http.StatusAccepted {
		t.Fatalf("within the burst: %d %+v", status, resp)
	}
	extra := tx(ref, 4)
	if status, _, _ := h.post(extra.Encode()); status != http.StatusTooManyRequests {
		t.Fatalf("over the rate: %d, want 429", status)
	}
	h.eventually("burst forwarded", func() bool { return h.totalReceived() == 6 })
	time.Sleep(30 * time.Millisecond)
	if got := h.totalReceived(); got != 6 {
		t.Fatalf("collectors received %d copies, want 6", got)
	}
	if code, _ := h.getTx(extra.ID()); code != http.StatusNotFound {
		t.Fatalf("rate-limited transaction tracked: %d", code)
	}
}

func guar(t testing.TB, coll model.Identifier) *collection.Guarantee {
	t.Helper()
	set, err := model.NewSignerSet(2)
	if err != nil {
		t.Fatal(err)
	}
	set.Set(0)
	return &collection.Guarantee{CollectionID: coll, Ref: model.Identifier{9}, Chain: model.ChainID{5}, Signers: set, Signature: bytes.Repeat([]byte{1}, 96)}
}

// When no member of the cluster takes a batch, its transactions end
// failed (a final status, with the reason), not pending forever.
func TestForwardFailed(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, tweak: func(c *Config) { c.ForwardRetries = -1 }})
	for _, f := range h.collectors {
		f.busy = true
	}
	x := tx(h.ref(5), 1)
	if status, _, _ := h.post(x.Encode()); status != http.StatusAccepted {
		t.Fatal(status)
	}
	h.eventually("failed", func() bool { return h.svc.TxStatus(x.ID()).Status == api.TxFailed })
	st := h.svc.TxStatus(x.ID()).Stages
	if st.Error == "" || st.FailedAt == 0 {
		t.Fatalf("stages %+v", st)
	}
	if got := testutil.ToFloat64(h.svc.m.fwdFailed); got != 1 {
		t.Fatalf("forward_failed = %v", got)
	}
	for _, f := range h.collectors {
		if len(f.entered) != 1 {
			t.Fatalf("collector %s asked %d times, want once (no retries)", f.url, len(f.entered))
		}
	}
	// Resubmitted once the collectors take transactions again, it starts over.
	for _, f := range h.collectors {
		f.mu.Lock()
		f.busy = false
		f.mu.Unlock()
	}
	if status, _, _ := h.post(x.Encode()); status != http.StatusAccepted {
		t.Fatal(status)
	}
	h.eventually("forwarded again", func() bool { return h.totalReceived() == 2 })
	if st := h.svc.TxStatus(x.ID()); st.Status != api.TxPending || st.Stages.Error != "" {
		t.Fatalf("resubmitted: %+v %+v", st, st.Stages)
	}
	if got := testutil.ToFloat64(h.svc.m.txs.WithLabelValues(api.TxFailed)); got != 0 {
		t.Fatalf("tracked{failed} = %v after the resubmission", got)
	}
}

// The client helpers: a transaction referencing the node's latest block,
// waited for through collected and executed; an expired one ends the wait.
func TestClientHelpers(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, tweak: func(c *Config) { c.Expiry = 5 }})
	c := client.New(h.api.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := c.SubmitAccess(ctx, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := client.NewTx(h.ref(5), []byte("hello")); id != want {
		t.Fatalf("id %v, want the envelope's ID %v", id, want)
	}
	coll := model.Identifier(crypto.Sum([]byte("c")))
	for _, f := range h.collectors {
		f.collect(id, coll)
	}
	if st, err := c.WaitStatus(ctx, id, api.TxCollected); err != nil || st.Stages.Collection != coll.Hex() {
		t.Fatalf("collected: %+v %v", st, err)
	}
	h.finalize(&payload.Payload{Guarantees: []*collection.Guarantee{guar(t, coll)}, Result: &payload.Result{Height: 6}})
	if st, err := c.WaitStatus(ctx, id, api.TxExecuted); err != nil || st.Stages.ExecutedHeight != 6 {
		t.Fatalf("executed: %+v %v", st, err)
	}
	late, err := c.SubmitAccess(ctx, []byte("late"))
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		h.finalize(nil)
	}
	if _, err := c.WaitStatus(ctx, late, api.TxExecuted); !errors.Is(err, client.ErrTxDropped) {
		t.Fatalf("expired: %v", err)
	}
}

// GET /v1/access/events streams each transition as "event: tx" with a
// TxEvent; subscribers are bounded (503 beyond), and a subscriber that
// falls behind is dropped rather than slowing the tracker.
func TestEventStream(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, tweak: func(c *Config) {
		c.MaxSubscribers = 1
	}})
	resp, err := http.Get(h.api.URL + "/v1/access/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	second, err := http.Get(h.api.URL + "/v1/access/events")
	if err != nil {
		t.Fatal(err)
	}
	second.Body.Close()
	if second.StatusCode != http.StatusServiceUnavailable || second.Header.Get("Retry-After") == "" {
		t.Fatalf("second subscriber: %d", second.StatusCode)
	}
	x := tx(h.ref(5), 1)
	if status, _, _ := h.post(x.Encode()); status != http.StatusAccepted {
		t.Fatal(status)
	}
	sc := bufio.NewScanner(resp.Body)
	var ev api.TxEvent
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if ev.ID != x.ID().Hex() || ev.Status != api.TxPending || ev.UnixNanos == 0 {
		t.Fatalf("event %+v", ev)
	}
	if _, _, err := h.svc.Subscribe(); !errors.Is(err, ErrTooManySubscribers) {
		t.Fatalf("a second subscriber: %v", err)
	}
}

// A subscriber that reads nothing while more than its buffer happens is
// dropped (its channel closed); publishing never waits for it, and the
// others keep receiving.
func TestSlowSubscriberDropped(t *testing.T) {
	hb := newHub(2, 2)
	slow, err := hb.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	fast, err := hb.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		hb.publish(api.TxEvent{ID: fmt.Sprint(i)})
		<-fast
	}
	got := 0
	for range slow {
		got++
	}
	if got != 2 {
		t.Fatalf("slow subscriber got %d events before its channel closed, want its buffer of 2", got)
	}
	hb.publish(api.TxEvent{ID: "3"})
	if ev := <-fast; ev.ID != "3" {
		t.Fatalf("fast subscriber got %+v", ev)
	}
	if _, err := hb.subscribe(); err != nil {
		t.Fatalf("the dropped subscriber's slot was not freed: %v", err)
	}
}

// A cluster's forwarder of an epoch older than every reference in the
// window is retired once idle; the current epoch's stay.
func TestRetireForwarders(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5})
	old := h.svc.forwarderFor(Route{Epoch: 0, Cluster: 0, Members: []string{"http://127.0.0.1:1"}})
	cur := h.svc.forwarderFor(Route{Epoch: 3, Cluster: 0, Members: []string{"http://127.0.0.1:1"}})
	h.svc.retire(1)
	select {
	case <-old.stop:
	default:
		t.Fatal("the old epoch's forwarder was not stopped")
	}
	h.svc.fwdMu.Lock()
	_, oldKept := h.svc.forwarders[old.key]
	_, curKept := h.svc.forwarders[cur.key]
	h.svc.fwdMu.Unlock()
	if oldKept || !curKept {
		t.Fatalf("kept old %v, current %v", oldKept, curKept)
	}
}

// The tracker is bounded: full of unfinished transactions it refuses new
// ones as busy (503, nothing forwarded); once one finishes, the oldest
// finished is forgotten to make room.
func TestTrackerBound(t *testing.T) {
	const expiry = 3
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, tweak: func(c *Config) {
		c.TrackTxs, c.Expiry = 2, expiry
	}})
	a, b, c := tx(h.ref(5), 1), tx(h.ref(5), 2), tx(h.ref(5), 3)
	if status, _, _ := h.post(a.Encode(), b.Encode()); status != http.StatusAccepted {
		t.Fatal(status)
	}
	h.eventually("forwarded", func() bool { return h.totalReceived() == 4 })
	status, resp, retry := h.post(c.Encode())
	if status != http.StatusServiceUnavailable || retry == "" || resp.Results[0].Code != api.CodeFull {
		t.Fatalf("tracker full: %d %q %+v", status, retry, resp)
	}
	time.Sleep(20 * time.Millisecond)
	if got := h.totalReceived(); got != 4 {
		t.Fatalf("a refused transaction was forwarded: %d copies", got)
	}
	for range expiry + 1 {
		h.finalize(nil) // a and b expire at height 9
	}
	if st := h.svc.TxStatus(a.ID()); st.Status != api.TxExpired {
		t.Fatalf("a is %s", st.Status)
	}
	if status, _, _ := h.post(tx(h.ref(9), 3).Encode()); status != http.StatusAccepted {
		t.Fatalf("after a finished: %d", status)
	}
	if code, _ := h.getTx(a.ID()); code != http.StatusNotFound {
		t.Fatalf("the oldest finished transaction was kept: %d", code)
	}
	if code, r := h.getTx(b.ID()); code != 200 || r.Status != api.TxExpired {
		t.Fatalf("b: %d %+v", code, r)
	}
}

// Whatever bytes arrive, Submit never panics, answers once per
// transaction, and accepts only well-formed transactions with a known,
// unexpired reference; nothing refused is tracked.
func FuzzSubmit(f *testing.F) {
	h := newHarness(f, harnessOpts{collectors: 2, k: 1, height: 5})
	ref := h.ref(5)
	f.Add(tx(ref, 1).Encode())
	f.Add([]byte{})
	f.Add(collection.Tx{Ref: ref}.Encode())
	f.Add(append(tx(ref, 2).Encode(), 1))
	f.Fuzz(func(t *testing.T, raw []byte) {
		before := h.svc.tr.size()
		out := h.svc.Submit([][]byte{raw})
		if len(out) != 1 {
			t.Fatalf("%d answers", len(out))
		}
		x, derr := collection.DecodeTx(raw, collection.DefaultLimits())
		if out[0].Error == nil {
			if derr != nil || x.Ref != ref {
				t.Fatalf("accepted %x: decode %v", raw, derr)
			}
			return
		}
		if _, _, _, _, ok := h.svc.tr.lookup(x.ID()); derr != nil && ok {
			t.Fatal("a malformed transaction is tracked")
		}
		if h.svc.tr.size() != before && derr != nil {
			t.Fatal("a refusal changed the tracker")
		}
	})
}

// A finalized guarantee's collection, read from its guarantors, finalizes
// the pending transactions it carries at that block's height, without
// waiting for a collector poll; a collection that carries none of them
// changes nothing.
func TestFinalizedByCollection(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 4, k: 2, height: 5, tweak: func(c *Config) { c.PollInterval = time.Hour }})
	x, other := tx(h.ref(5), 1), tx(h.ref(5), 2)
	if status, _, _ := h.post(x.Encode()); status != http.StatusAccepted {
		t.Fatal(status)
	}
	i, members := h.cluster(x.ID())
	col := collection.NewCollection([]collection.Tx{other, x})
	unrelated := collection.NewCollection([]collection.Tx{other})
	for _, m := range members {
		m.mu.Lock()
		m.cols[col.ID()] = col.Encode()
		m.cols[unrelated.ID()] = unrelated.Encode()
		m.mu.Unlock()
	}
	chain := model.ClusterChain(testMain, 0, uint32(i))
	g1, g2 := guar(t, unrelated.ID()), guar(t, col.ID())
	g1.Chain, g2.Chain = chain, chain
	h.finalize(&payload.Payload{Guarantees: []*collection.Guarantee{g1}}) // 6
	h.eventually("the unrelated collection read", func() bool {
		return testutil.ToFloat64(h.svc.m.fetches.WithLabelValues("ok")) == 1
	})
	if st := h.svc.TxStatus(x.ID()); st.Status != api.TxPending {
		t.Fatalf("a collection without it moved it to %s", st.Status)
	}
	h.finalize(&payload.Payload{Guarantees: []*collection.Guarantee{g2}}) // 7
	h.eventually("finalized", func() bool { return h.svc.TxStatus(x.ID()).Status == api.TxFinalized })
	st := h.svc.TxStatus(x.ID()).Stages
	if st.FinalizedHeight != 7 || st.Collection != col.ID().Hex() || st.ClusterChain != chain.Hex() || st.CollectedAt == 0 {
		t.Fatalf("stages %+v", st)
	}
	if _, _, _, _, ok := h.svc.tr.lookup(other.ID()); ok {
		t.Fatal("a transaction of another node is tracked")
	}
}

// A reference block this node does not hold yet (another access node is a
// block ahead) is waited for up to RefWait: the submission is answered
// once the block arrives; one that never arrives is refused after it.
func TestRefWait(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, tweak: func(c *Config) { c.RefWait = 5 * time.Second }})
	next := h.chain.add(t, nil) // finalized upstream, not yet applied here
	type answer struct {
		status int
		at     time.Time
	}
	done := make(chan answer, 1)
	go func() {
		status, _, _ := h.post(tx(next.ID(), 1).Encode())
		done <- answer{status, time.Now()}
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case a := <-done:
		t.Fatalf("answered %d before the reference block arrived", a.status)
	default:
	}
	arrived := time.Now()
	h.svc.Finalized(next.Height)
	a := <-done
	if a.status != http.StatusAccepted || a.at.Before(arrived) {
		t.Fatalf("after the block arrived: %d", a.status)
	}
	h.eventually("forwarded", func() bool { return h.totalReceived() == 2 })

	h2 := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, tweak: func(c *Config) { c.RefWait = 100 * time.Millisecond }})
	start := time.Now()
	status, resp, _ := h2.post(tx(model.Identifier{1}, 1).Encode())
	if status != http.StatusBadRequest || resp.Results[0].Code != api.CodeInvalid || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("never-arriving reference: %d %+v after %v", status, resp, time.Since(start))
	}
	if got := testutil.ToFloat64(h2.svc.m.refused.WithLabelValues(reasonUnknown)); got != 1 {
		t.Fatalf("refused{unknown_ref} = %v, want 1 (counted once)", got)
	}
}
