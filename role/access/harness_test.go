package access

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// ---- a synthetic finalized main chain ----

type fakeChain struct {
	mu     sync.Mutex
	blocks []*model.Block
}

var testMain = model.MainChain("access-test")

func newFakeChain(t testing.TB, height uint64) *fakeChain {
	c := &fakeChain{}
	for range height + 1 {
		c.add(t, nil)
	}
	return c
}

// add finalizes the next block with payload p (nil: empty).
func (c *fakeChain) add(t testing.TB, p *payload.Payload) *model.Block {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	h := uint64(len(c.blocks))
	var enc []byte
	if p != nil {
		enc = p.Encode()
	}
	b, err := model.NewRootBlock(testMain, model.View(h), h, int64(h), enc)
	if err != nil {
		t.Fatal(err)
	}
	c.blocks = append(c.blocks, b)
	return b
}

func (c *fakeChain) BlockByHeight(h uint64) (*model.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h >= uint64(len(c.blocks)) {
		return nil, fmt.Errorf("no block %d", h)
	}
	return c.blocks[h], nil
}

func (c *fakeChain) LatestBlock() (*model.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocks[len(c.blocks)-1], nil
}

// ---- collectors that record what they receive ----

type fakeCollector struct {
	srv *httptest.Server
	url string

	mu        sync.Mutex
	got       map[model.Identifier]int
	batches   int
	busy      bool          // answer every batch 503
	hold      chan struct{} // non-nil: a batch waits for it to close
	entered   chan struct{} // told when a batch arrives
	collected map[model.Identifier]model.Identifier
	cols      map[model.Identifier][]byte // served collections, encoded
}

func newFakeCollector(t testing.TB) *fakeCollector {
	f := &fakeCollector{got: map[model.Identifier]int{}, collected: map[model.Identifier]model.Identifier{}, cols: map[model.Identifier][]byte{}, entered: make(chan struct{}, 1024)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/collector/transactions", f.submit)
	mux.HandleFunc("GET /v1/collector/transactions/{id}", f.status)
	mux.HandleFunc("GET /v1/collections/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := model.ParseIdentifier(r.PathValue("id"))
		f.mu.Lock()
		b, ok := f.cols[id]
		f.mu.Unlock()
		if !ok {
			api.WriteError(w, http.StatusNotFound, "no such collection")
			return
		}
		w.Header().Set("Content-Type", api.ContentTypeBinary)
		_, _ = w.Write(b)
	})
	f.srv = httptest.NewServer(mux)
	f.url = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCollector) submit(w http.ResponseWriter, r *http.Request) {
	f.entered <- struct{}{}
	f.mu.Lock()
	hold, busy := f.hold, f.busy
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if busy {
		w.Header().Set("Retry-After", "1")
		api.WriteJSON(w, http.StatusServiceUnavailable, api.SubmitResponse{Error: "pool full"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	raws, err := mempool.DecodePayload(body, 10_000)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches++
	for _, raw := range raws {
		tx, err := collection.DecodeTx(raw, collection.DefaultLimits())
		if err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		f.got[tx.ID()]++
	}
	api.WriteJSON(w, http.StatusAccepted, api.SubmitResponse{Accepted: len(raws)})
}

func (f *fakeCollector) status(w http.ResponseWriter, r *http.Request) {
	id, err := model.ParseIdentifier(r.PathValue("id"))
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := api.CollectorTxResponse{ID: id.Hex(), Status: "unknown"}
	if c, ok := f.collected[id]; ok {
		resp.Status, resp.Collection, resp.Chain = api.TxCollected, c.Hex(), "cluster-chain"
	} else if f.got[id] > 0 {
		resp.Status = api.TxPending
	}
	api.WriteJSON(w, http.StatusOK, resp)
}

func (f *fakeCollector) received(id model.Identifier) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got[id]
}

func (f *fakeCollector) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.got {
		n += c
	}
	return n
}

func (f *fakeCollector) collect(id, coll model.Identifier) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.collected[id] = coll
}

// ---- one epoch with k clusters of real identities ----

func testIdentity(t testing.TB, i int, role epoch.Role) epoch.Identity {
	t.Helper()
	seed := crypto.Sum([]byte("access test staking"), binary.BigEndian.AppendUint64(nil, uint64(i)))
	sk, err := crypto.Fast().KeyFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	pop, err := sk.ProvePossession()
	if err != nil {
		t.Fatal(err)
	}
	netSeed := crypto.Sum([]byte("access test network"), binary.BigEndian.AppendUint64(nil, uint64(i)))
	return epoch.Identity{
		Name: fmt.Sprintf("n%d", i), Role: role, Weight: 1,
		StakingKey: sk.PublicKey().Bytes(), Possession: pop,
		NetworkKey: ed25519.NewKeyFromSeed(netSeed[:]).Public().(ed25519.PublicKey),
		Address:    fmt.Sprintf("10.0.0.%d:7000", i+1),
	}
}

type harness struct {
	t          testing.TB
	chain      *fakeChain
	state      *epoch.State
	collectors map[string]*fakeCollector // by URL
	byID       map[model.NodeID]*fakeCollector
	svc        *Service
	api        *httptest.Server
	executor   *fakeExecutor   // executors[0]
	executors  []*fakeExecutor // in the epoch's order of execution members
}

// fakeExecutor answers GET /v1/transactions/{id} as an execution node
// does for the results it holds, and GET /v1/execution/state/{key} from
// the register states it holds by height, honestly or with the fault
// stateFault names.
type fakeExecutor struct {
	srv     *httptest.Server
	mu      sync.Mutex
	results map[string]api.TxResponse
	asked   int

	states     map[uint64]*registerState
	stateFault string // "", "down", "wrong_value", "other_root", "raw_key", "wrong_height", "absent", "other_owner"
	stateAsked int

	// accounts answers POST /v1/execution/registers from its newest
	// version, for whatever height is asked (accounts_test.go); forged
	// answers from forged instead.
	accounts *state.Store
	forged   *state.Store
}

func newFakeExecutor(t testing.TB) *fakeExecutor {
	f := &fakeExecutor{results: map[string]api.TxResponse{}, states: map[uint64]*registerState{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/transactions/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		f.mu.Lock()
		defer f.mu.Unlock()
		f.asked++
		res, ok := f.results[id]
		if !ok {
			api.WriteJSON(w, http.StatusNotFound, api.TxResponse{ID: id, Status: "unknown"})
			return
		}
		api.WriteJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("GET /v1/execution/state/{key}", f.serveState)
	mux.HandleFunc("POST /v1/execution/registers", f.serveRegisters)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// set records an executed transaction's outcome, with a result and
// events of payloadBytes bytes.
func (f *fakeExecutor) set(id model.Identifier, ok bool, msg string) { f.setSized(id, ok, msg, 4) }

func (f *fakeExecutor) setSized(id model.Identifier, ok bool, msg string, payloadBytes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x := &api.TxExecution{Result: id.Hex()[:16] + "-result", Chunk: 2, Computation: 7,
		Events: []api.EventInfo{{Type: "kv.set", Payload: strings.Repeat("ab", payloadBytes)}}}
	f.results[id.Hex()] = api.TxResponse{ID: id.Hex(), Status: "executed", OK: &ok, Error: msg, Execution: x}
}

func (f *fakeExecutor) serveState(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.stateAsked++
	if f.stateFault == "hang" { // answers nothing until the asker gives up
		f.mu.Unlock()
		<-r.Context().Done()
		return
	}
	defer f.mu.Unlock()
	key, err := hex.DecodeString(r.PathValue("key"))
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "bad key")
		return
	}
	height, _ := strconv.ParseUint(r.URL.Query().Get("height"), 10, 64)
	st, ok := f.states[height]
	switch {
	case f.stateFault == "down":
		api.WriteError(w, http.StatusInternalServerError, "disk on fire")
		return
	case !ok:
		api.WriteError(w, http.StatusNotFound, "height not executed here")
		return
	case f.stateFault == "other_root":
		// A consistent proof, of another state: the one a lying executor
		// computed.
		st = newRegisterState(map[string]string{string(key): "forged"})
	}
	resp := st.answer(key, height)
	switch f.stateFault {
	case "wrong_value":
		resp.Found, resp.Value = true, hex.EncodeToString([]byte("forged"))
	case "raw_key":
		resp.Proof = hex.EncodeToString(st.rawTree.Prove(merkle.KeyHash(key)).Encode())
	case "wrong_height":
		resp.Height++
	case "absent":
		resp.Found, resp.Value = false, ""
	case "other_owner": // the same key's register under another owner
		resp.Owner = "01"
	}
	api.WriteJSON(w, http.StatusOK, resp)
}

// registerState is an execution state of network-wide registers, as
// execution nodes commit it (paths over the register encoding), and the
// same values committed over raw keys (what a proof must not be).
type registerState struct {
	values  map[string][]byte
	tree    *merkle.Tree
	rawTree *merkle.Tree
}

func newRegisterState(values map[string]string) *registerState {
	s := &registerState{values: map[string][]byte{}, tree: merkle.New(), rawTree: merkle.New()}
	var ops, raw []merkle.Op
	for k, v := range values {
		s.values[k] = []byte(v)
		ops = append(ops, merkle.Op{Key: state.RegisterID{Key: k}.Path(), Value: merkle.ValueHash([]byte(v))})
		raw = append(raw, merkle.Op{Key: merkle.KeyHash([]byte(k)), Value: merkle.ValueHash([]byte(v))})
	}
	s.tree.Update(ops)
	s.rawTree.Update(raw)
	return s
}

func (s *registerState) root() model.Identifier { return model.Identifier(s.tree.Root()) }

// answer is an honest execution node's answer for key at height.
func (s *registerState) answer(key []byte, height uint64) api.ExecutionStateResponse {
	v := s.values[string(key)]
	resp := api.ExecutionStateResponse{
		Key: hex.EncodeToString(key), Found: v != nil,
		Proof:  hex.EncodeToString(s.tree.Prove(state.RegisterID{Key: string(key)}.Path()).Encode()),
		Height: height, EndState: s.root().Hex(),
	}
	if v != nil {
		resp.Value = hex.EncodeToString(v)
	}
	return resp
}

type harnessOpts struct {
	collectors, k int
	executors     int // default 1
	height        uint64
	limits        *api.Limits
	tweak         func(*Config)
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, chain: newFakeChain(t, o.height), collectors: map[string]*fakeCollector{}, byID: map[model.NodeID]*fakeCollector{}}
	ids := []epoch.Identity{testIdentity(t, 0, epoch.RoleConsensus)}
	apis := map[model.NodeID]string{}
	for i := range o.collectors {
		m := testIdentity(t, i+1, epoch.RoleCollection)
		ids = append(ids, m)
		f := newFakeCollector(t)
		h.collectors[f.url] = f
		h.byID[m.ID()] = f
		apis[m.ID()] = f.url
	}
	for i := range max(o.executors, 1) {
		f := newFakeExecutor(t)
		exe := testIdentity(t, 100+i, epoch.RoleExecution)
		ids = append(ids, exe)
		apis[exe.ID()] = f.srv.URL
		h.executors = append(h.executors, f)
	}
	seed := crypto.Sum([]byte("access test seed"))
	clusters, err := epoch.AssignClusters(ids, seed, o.k)
	if err != nil {
		t.Fatal(err)
	}
	gov := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	p := epoch.Params{Chain: crypto.Sum([]byte("genesis")), ChainID: testMain, Scheme: crypto.Fast(), Authorities: []ed25519.PublicKey{gov}}
	if h.state, err = epoch.Genesis(p, ids, seed, clusters); err != nil {
		t.Fatal(err)
	}
	// Order the fakes as the directory lists the epoch's executors.
	byURL := map[string]*fakeExecutor{}
	for _, f := range h.executors {
		byURL[f.srv.URL] = f
	}
	h.executors = h.executors[:0]
	for _, m := range h.state.Schedule().Last().Members(epoch.RoleExecution) {
		h.executors = append(h.executors, byURL[apis[m.ID()]])
	}
	h.executor = h.executors[0]
	cfg := Config{
		Chain:        h.chain,
		Directory:    ScheduleDirectory{Schedule: h.state.Schedule, APIs: apis, Main: testMain},
		PollInterval: 20 * time.Millisecond,
		BatchWait:    time.Millisecond,
		Logger:       nil,
	}
	if o.tweak != nil {
		o.tweak(&cfg)
	}
	if h.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.svc.Stop)
	h.api = httptest.NewServer(api.New(testBackend{h.svc}, api.Options{Limits: o.limits}))
	t.Cleanup(h.api.Close)
	return h
}

// cluster returns the members of the cluster that must collect id, and
// its index, as the epoch deals them.
func (h *harness) cluster(id model.Identifier) (int, []*fakeCollector) {
	e := h.state.Schedule().Last()
	i := e.ClusterOfTx(id)
	members, _ := e.Cluster(i, testMain)
	out := make([]*fakeCollector, len(members))
	for j, m := range members {
		out[j] = h.byID[m.ID()]
	}
	return i, out
}

// finalize adds a block and waits until the service applied it.
func (h *harness) finalize(p *payload.Payload) *model.Block {
	h.t.Helper()
	b := h.chain.add(h.t, p)
	h.svc.Finalized(b.Height)
	h.eventually("block applied", func() bool {
		l, ok := h.svc.refs.latestHeight()
		return ok && l >= b.Height
	})
	// The tracker applies a block right after refs record it.
	h.eventually("tracker applied", func() bool {
		h.svc.tr.mu.Lock()
		defer h.svc.tr.mu.Unlock()
		return h.svc.tr.latest >= b.Height
	})
	return b
}

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// tx builds a transaction with body n referencing ref.
func tx(ref model.Identifier, n int) collection.Tx {
	return collection.Tx{Ref: ref, Body: []byte(fmt.Sprintf("transfer %d", n))}
}

// txInCluster grinds bodies from n up until the transaction falls in
// cluster want.
func (h *harness) txInCluster(ref model.Identifier, n *int, want int) collection.Tx {
	for {
		x := tx(ref, *n)
		*n++
		if i, _ := h.cluster(x.ID()); i == want {
			return x
		}
	}
}

// testBackend serves the Service behind the real API server; the read
// methods are the observer's in a Node and play no part here.
type testBackend struct{ s *Service }

func (b testBackend) SubmitTxs(txs [][]byte) []api.Submission { return b.s.Submit(txs) }
func (b testBackend) TxStatus(id model.Identifier) (api.TxStatus, error) {
	return b.s.TxStatus(id), nil
}
func (b testBackend) BlockByHeight(h uint64) (*model.Block, error) {
	return b.s.cfg.Chain.BlockByHeight(h)
}
func (b testBackend) LatestBlock() (*model.Block, error) { return b.s.cfg.Chain.LatestBlock() }
func (b testBackend) Status() api.Status                 { return api.Status{} }
func (b testBackend) State(ctx context.Context, key []byte) (ledger.StateValue, error) {
	return b.s.State(ctx, key)
}
func (b testBackend) SubscribeFinalized(context.Context) (<-chan ledger.FinalizedBlock, error) {
	return nil, fmt.Errorf("not served")
}
func (b testBackend) Routes(handle func(string, http.HandlerFunc)) { b.s.Routes(handle) }
