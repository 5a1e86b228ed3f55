package access

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/light"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// getState reads GET /v1/state/{hex key} from the access node's API.
func (h *harness) getState(key []byte) (int, api.StateResponse, http.Header) {
	h.t.Helper()
	resp, err := http.Get(h.api.URL + "/v1/state/" + hex.EncodeToString(key))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out api.StateResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, out, resp.Header
}

// proves reports whether r proves key's value (nil: absence) against root
// over the register encoding.
func proves(r api.StateResponse, root model.Identifier, key, want []byte) error {
	value, err := hex.DecodeString(r.Value)
	if err != nil {
		return err
	}
	if want == nil {
		value = nil
	} else if string(value) != string(want) {
		return fmt.Errorf("value %q, want %q", value, want)
	}
	proof, err := hex.DecodeString(r.Proof)
	if err != nil {
		return err
	}
	return merkle.Verify(merkle.Hash(root), state.RegisterID{Key: string(key)}.Encode(), value, proof)
}

// A state read on an access node is proven against the Result of its
// newest finalized block: execution nodes whose answers do not verify
// against that Result's root (a forged value, a proof of another state,
// a proof over the raw key) are passed over for the next, and the answer
// names the result's height and root, the block that carries it, and
// says the result is not sealed. An absent register is proven absent.
func TestStateProvenAgainstFinalizedResult(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, executors: 4})
	st := newRegisterState(map[string]string{"alpha": "1", "beta": "22"})
	faults := []string{"wrong_value", "other_root", "raw_key", ""}
	for i, f := range h.executors {
		f.states[4] = st
		f.stateFault = faults[i]
	}
	b := h.finalize(&payload.Payload{Result: &payload.Result{Height: 4, Root: st.root()}}) // 6

	code, r, _ := h.getState([]byte("alpha"))
	if code != http.StatusOK || !r.Found || r.Height != 4 || r.Root != st.root().Hex() || r.BlockHeight != b.Height ||
		r.Sealed == nil || *r.Sealed {
		t.Fatalf("read: %d %+v", code, r)
	}
	if err := proves(r, st.root(), []byte("alpha"), []byte("1")); err != nil {
		t.Fatalf("served proof: %v", err)
	}
	if bad := testutil.ToFloat64(h.svc.m.stateAnswers.WithLabelValues("bad_proof")); bad != 3 {
		t.Fatalf("bad proofs counted %v, want 3", bad)
	}
	code, r, _ = h.getState([]byte("gamma"))
	if code != http.StatusNotFound || r.Found || r.Height != 4 {
		t.Fatalf("absent: %d %+v", code, r)
	}
	if err := proves(r, st.root(), []byte("gamma"), nil); err != nil {
		t.Fatalf("absence proof: %v", err)
	}
	if code, _, _ := h.getState([]byte(strings.Repeat("k", state.MaxKeySize+1))); code != http.StatusBadRequest {
		t.Fatalf("a key no register can have: %d", code)
	}
}

// No answer that fails to verify is ever served: with every execution
// node down, lying or answering for another height, the read is 503 with
// Retry-After and no value, after asking each of them.
func TestStateNeverServesAnUnprovenAnswer(t *testing.T) {
	for _, fault := range []string{"down", "wrong_value", "other_root", "raw_key", "wrong_height", "absent", "other_owner"} {
		t.Run(fault, func(t *testing.T) {
			h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, executors: 2})
			st := newRegisterState(map[string]string{"alpha": "1"})
			for _, f := range h.executors {
				f.states[4], f.stateFault = st, fault
			}
			h.finalize(&payload.Payload{Result: &payload.Result{Height: 4, Root: st.root()}})
			code, r, hdr := h.getState([]byte("alpha"))
			if code != http.StatusServiceUnavailable || r.Value != "" || r.Proof != "" || hdr.Get("Retry-After") == "" {
				t.Fatalf("%d %+v", code, r)
			}
			for i, f := range h.executors {
				f.mu.Lock()
				asked := f.stateAsked
				f.mu.Unlock()
				if asked != 1 {
					t.Fatalf("executor %d asked %d times", i, asked)
				}
			}
		})
	}
}

// A state read stops asking executors when its request ends: a client
// that goes away does not hold the access node's requests for the
// per-executor timeout (5 s) each.
func TestStateReadEndsWithItsRequest(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, executors: 2})
	st := newRegisterState(map[string]string{"alpha": "1"})
	for _, f := range h.executors {
		f.states[4] = st
		f.stateFault = "hang"
	}
	h.finalize(&payload.Payload{Result: &payload.Result{Height: 4, Root: st.root()}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.svc.State(ctx, []byte("alpha"))
	if !errors.Is(err, ErrUnproven) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read of a cancelled request: %v", err)
	}
	// Two executors at 5 s each would be 10 s; the request's end stops both.
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("the read went on for %v after its request ended", d)
	}
}

// Until a finalized block names an executed result (height 0: the
// genesis state), there is nothing to prove a read against: 503.
func TestStateBeforeAnyResult(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5})
	if code, _, _ := h.getState([]byte("alpha")); code != http.StatusServiceUnavailable {
		t.Fatalf("no result: %d", code)
	}
	h.finalize(&payload.Payload{Result: &payload.Result{Height: 0, Root: model.Identifier(merkle.Empty)}})
	_, err := h.svc.State(context.Background(), []byte("alpha"))
	if !errors.Is(err, ErrNoResult) {
		t.Fatalf("genesis result: %v", err)
	}
}

// The light source of an access node builds state proofs from a finalized
// block's Result and the execution node's proof it checked: the opening
// proves the Result against the block's payload hash, the Merkle proof
// the value against its root over the register encoding. A block whose
// executors prove nothing gives ErrUnavailable, never a proof.
func TestLightStateFromExecutors(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, executors: 2})
	st := newRegisterState(map[string]string{"alpha": "1"})
	h.executors[0].stateFault = "other_root"
	for _, f := range h.executors {
		f.states[4] = st
	}
	res := &payload.Result{Height: 4, Root: st.root()}
	for range 4 {
		h.finalize(&payload.Payload{Result: res}) // 6..9
	}
	src := NewLightSource(nil, h.svc)
	ctx := context.Background()
	for _, height := range []uint64{0, 6} {
		p, err := src.State(ctx, []byte("alpha"), height)
		if err != nil {
			t.Fatalf("height %d: %v", height, err)
		}
		// The fake chain's blocks carry no QCs, so the segment is found by
		// its first header's hash (the block ID), not verified.
		first := model.Identifier(sha256.Sum256(p.Segment.Blocks[0].Header))
		var b *model.Block
		for _, c := range h.chain.blocks {
			if c.ID() == first {
				b = c
			}
		}
		if b == nil || (height != 0 && b.Height != height) || (height == 0 && b.Height != 7) {
			t.Fatalf("segment starts at block %v, asked height %d (newest provable: 7)", b, height)
		}
		got, err := p.Result.Verify(b.PayloadHash)
		if err != nil || got.Height != 4 || got.Root != st.root() {
			t.Fatalf("opening: %+v %v", got, err)
		}
		if err := merkle.Verify(merkle.Hash(got.Root), state.RegisterID{Key: "alpha"}.Encode(), p.Value, p.Proof); err != nil || string(p.Value) != "1" {
			t.Fatalf("value %q: %v", p.Value, err)
		}
	}
	h.executors[1].stateFault = "wrong_value"
	if _, err := src.State(ctx, []byte("alpha"), 0); !errors.Is(err, light.ErrUnavailable) {
		t.Fatalf("no executor proves it: %v", err)
	}
	if _, err := src.State(ctx, make([]byte, state.MaxKeySize+1), 0); !errors.Is(err, light.ErrBadRequest) {
		t.Fatalf("oversized key: %v", err)
	}
}

// An executed transaction's answer carries the result ID, chunk,
// computation and events an execution node reported. Records are kept
// within a byte budget: one that does not fit is still answered, fetched
// again on each read, while kept ones are not fetched again; forgetting a
// transaction frees its share.
func TestExecutionRecordsBounded(t *testing.T) {
	h := newHarness(t, harnessOpts{collectors: 2, k: 1, height: 5, tweak: func(c *Config) { c.TrackTxs = 3 }})
	var ids []model.Identifier
	for n := range 3 {
		x := tx(h.ref(5), n)
		if status, _, _ := h.post(x.Encode()); status != http.StatusAccepted {
			t.Fatal(status)
		}
		ids = append(ids, x.ID())
	}
	coll := model.Identifier(crypto.Sum([]byte("collection")))
	h.finalize(&payload.Payload{Guarantees: []*collection.Guarantee{guar(t, coll)}}) // 6
	h.finalize(&payload.Payload{Result: &payload.Result{Height: 6}})                 // 7
	for _, id := range ids {
		for _, f := range h.collectors {
			f.collect(id, coll)
		}
	}
	for _, id := range ids {
		h.eventually("executed", func() bool { return h.svc.TxStatus(id).Status == api.TxExecuted })
	}
	h.executor.set(ids[0], true, "")
	h.executor.setSized(ids[1], true, "", maxTxExecutionBytes) // over one record's bound
	h.executor.set(ids[2], false, "boom")
	h.svc.tr.mu.Lock()
	h.svc.tr.maxExecBytes = 200 // one small record (133 bytes)
	h.svc.tr.mu.Unlock()

	asked := func() int {
		h.executor.mu.Lock()
		defer h.executor.mu.Unlock()
		return h.executor.asked
	}
	for round := range 2 {
		for i, id := range ids {
			before := asked()
			code, r := h.getTx(id)
			x := r.Execution
			if code != 200 || x == nil || x.Result != id.Hex()[:16]+"-result" || x.Chunk != 2 || x.Computation != 7 ||
				len(x.Events) != 1 || x.Events[0].Type != "kv.set" || r.Stages.OK == nil {
				t.Fatalf("round %d, tx %d: %d %+v %+v", round, i, code, r, x)
			}
			fetched := asked() - before
			wantFetch := 1 // first round: every record is fetched
			if round == 1 && i == 0 {
				wantFetch = 0 // kept
			}
			if fetched != wantFetch {
				t.Fatalf("round %d, tx %d: fetched %d times, want %d", round, i, fetched, wantFetch)
			}
		}
	}
	h.svc.tr.mu.Lock()
	used := h.svc.tr.execBytes
	h.svc.tr.mu.Unlock()
	if used == 0 || used > 200 {
		t.Fatalf("kept %d bytes of records, budget 200", used)
	}
	if got := testutil.ToFloat64(h.svc.m.execInfo.WithLabelValues("kept")); got != 1 {
		t.Fatalf("kept %v records", got)
	}
	// Three new transactions evict the three finished ones, and their
	// records go with them.
	for n := 100; n < 103; n++ {
		if status, _, _ := h.post(tx(h.ref(5), n).Encode()); status != http.StatusAccepted {
			t.Fatal(status)
		}
	}
	if _, _, _, _, ok := h.svc.tr.lookup(ids[0]); ok {
		t.Fatal("the finished transaction with a kept record is still tracked")
	}
	h.svc.tr.mu.Lock()
	used = h.svc.tr.execBytes
	h.svc.tr.mu.Unlock()
	if used != 0 {
		t.Fatalf("%d bytes of records after their transaction was forgotten", used)
	}
}

// testchainView is a testchain as the access node's Chain and Directory:
// one epoch's worth of routing, with the execution nodes at executors.
type testchainView struct {
	c         *testchain.EpochChain
	executors []string
}

func (v testchainView) BlockByHeight(h uint64) (*model.Block, error) { return v.c.FinalizedByHeight(h) }
func (v testchainView) LatestBlock() (*model.Block, error) {
	return v.c.FinalizedByHeight(v.c.FinalizedHeight())
}
func (v testchainView) EpochOf(model.View) (uint64, error) { return 0, nil }
func (v testchainView) Route(uint64, model.Identifier) (Route, error) {
	return Route{}, ErrNoRoute
}
func (v testchainView) Executors(uint64) []string           { return v.executors }
func (v testchainView) ChainMembers(model.ChainID) []string { return nil }

// A light client of a pipeline network verifies, end to end, the state
// proofs an access node builds from execution nodes' answers over a
// chain with real QCs: finality of the block, its Result, and the
// register's value over the register encoding. A lying execution node
// listed first changes nothing.
func TestLightClientVerifiesAccessStateProofs(t *testing.T) {
	c, err := testchain.NewEpochChain(testchain.EpochChainConfig{Epochs: 1, Registers: true})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(lie bool) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, _ := hex.DecodeString(strings.TrimPrefix(r.URL.Path, "/v1/execution/state/"))
			height, _ := strconv.ParseUint(r.URL.Query().Get("height"), 10, 64)
			value, proof, err := c.ProveState(key, height)
			if err != nil {
				api.WriteError(w, http.StatusNotFound, err.Error())
				return
			}
			if lie {
				value = []byte("forged")
			}
			resp := api.ExecutionStateResponse{Key: hex.EncodeToString(key), Found: value != nil, Proof: hex.EncodeToString(proof), Height: height}
			if value != nil {
				resp.Value = hex.EncodeToString(value)
			}
			api.WriteJSON(w, http.StatusOK, resp)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	view := testchainView{c: c, executors: []string{serve(true), serve(false)}}
	svc, err := New(Config{Chain: view, Directory: view})
	if err != nil {
		t.Fatal(err)
	}
	base, err := c.LightSource()
	if err != nil {
		t.Fatal(err)
	}
	src := NewLightSource(base, svc)
	cl, err := light.New(c.LightGenesis())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cl.FastForward(ctx, src, nil); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"latest", "absent"} {
		p, err := src.State(ctx, []byte(key), 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := cl.VerifyState(p, []byte(key), 0)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		want, _, _ := c.ProveState([]byte(key), r.Height)
		if string(r.Value) != string(want) || r.Found() != (key != "absent") || r.Root != c.Root(r.Height) {
			t.Fatalf("%s at %d: %q, want %q", key, r.Height, r.Value, want)
		}
	}
}
