package execution

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/follower"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// upstreamServer serves a certified segment as a consensus node's sync
// API does (status and ranges; no live stream), and takes receipts.
type upstreamServer struct {
	*httptest.Server
	mu       sync.Mutex
	seg      testchain.Segment
	chain    model.ChainID
	exec     crypto.PublicKey
	receipts map[uint64]*payload.Receipt
	bad      []error
}

func newUpstreamServer(t *testing.T) *upstreamServer {
	u := &upstreamServer{receipts: map[uint64]*payload.Receipt{}}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *upstreamServer) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	blocks := u.seg.Blocks
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/status":
		_ = json.NewEncoder(w).Encode(map[string]uint64{"finalized_height": uint64(len(blocks))})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/sync/range":
		from, err := strconv.Atoi(r.URL.Query().Get("from"))
		if err != nil || from < 1 || from > len(blocks) {
			http.Error(w, "no such range", http.StatusNotFound)
			return
		}
		_, _ = w.Write(follower.EncodeRange(blocks[from-1:], u.seg.TipQC))
	case r.Method == http.MethodPost && r.URL.Path == "/v1/receipts":
		b, _ := io.ReadAll(r.Body)
		rc, err := payload.DecodeReceipt(b)
		if err == nil {
			err = rc.Verify(u.chain, u.exec)
		}
		if err != nil {
			u.bad = append(u.bad, err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u.receipts[rc.Height()] = rc
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "no route", http.StatusNotFound)
	}
}

// followEnv is a pipeline genesis whose consensus member's API is an
// upstreamServer, the members' keys, a test chain from the genesis root
// signed by the consensus member, and a guarantee maker.
type followEnv struct {
	n         *clusterNet
	up        *upstreamServer
	keys      []*genesis.NodeKeys
	tc        *testchain.Chain
	root      *model.Block
	rootQC    *model.QC
	guarantee func(c *collection.Collection) *collection.Guarantee
}

func newFollowEnv(t *testing.T, urls func(i int) string) *followEnv {
	t.Helper()
	up := newUpstreamServer(t)
	n := newClusterNet(t, urls)
	n.g.Validators[0].API = up.URL
	n.g.Params.LeaderReputation = nil // the test chain's leaders are the plain schedule's
	keys := make([]*genesis.NodeKeys, 6)
	for i := range keys {
		seed := make([]byte, 32)
		seed[31] = byte(i + 1)
		k, err := genesis.KeysFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	root, rootQC, err := n.g.Root(1)
	if err != nil {
		t.Fatal(err)
	}
	leaderSeed, err := hex.DecodeString(n.g.LeaderSeed)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := testchain.FromKeys(crypto.BLS(), []crypto.PrivateKey{keys[0].Staking}, [32]byte(leaderSeed), nil)
	if err != nil {
		t.Fatal(err)
	}
	tc = tc.WithRoot(root, rootQC)
	env := &followEnv{n: n, up: up, keys: keys, tc: tc, root: root, rootQC: rootQC}
	env.guarantee = func(c *collection.Collection) *collection.Guarantee {
		gt := n.guarantee(t, c, 0, 1, 2)
		gt.Ref = root.ID()
		return gt
	}
	up.mu.Lock()
	up.chain, up.exec = model.MainChain(n.g.ChainID), keys[5].Staking.PublicKey()
	up.mu.Unlock()
	return env
}

// set makes seg the chain the upstream serves.
func (u *upstreamServer) set(seg testchain.Segment) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seg = seg
}

// An execution node follows a certified main chain whose blocks carry
// guarantees, fetches each collection from a signer that serves it (past
// one that answers 404 and one that serves another collection, never
// asking the member that did not sign), executes the bodies in block
// order, once each even when the chain repeats a guarantee, answers for
// transactions by envelope ID with their result and events, and hands the
// consensus node a receipt for every executed height: results that chain
// from the genesis result, one chunk per executed collection plus the
// system chunk, ending in the state the direct execution of the same
// bodies reaches.
func TestNodeFollowsAndExecutesGuaranteedCollections(t *testing.T) {
	cols := testCollections(3)
	servers := []*guarantorServer{
		newGuarantorServer(t, notFound, cols),
		newGuarantorServer(t, serve, cols),
		newGuarantorServer(t, wrong, cols),
		newGuarantorServer(t, serve, cols), // not a signer
	}
	env := newFollowEnv(t, func(i int) string { return servers[i].URL })
	n, up, keys, g, root := env.n, env.up, env.keys, env.guarantee, env.root
	// Heights 1..6; 6 is certified, not finalized. Height 4 repeats c0.
	payloads := []*payload.Payload{
		{Guarantees: []*collection.Guarantee{g(cols[0]), g(cols[1])}},
		{Guarantees: []*collection.Guarantee{g(cols[2])}},
		{},
		{Guarantees: []*collection.Guarantee{g(cols[0])}},
		{}, {},
	}
	seg, err := env.tc.Extend(root, env.rootQC, len(payloads), func(i int) []byte { return payloads[i].Encode() })
	if err != nil {
		t.Fatal(err)
	}
	up.set(seg)

	node, err := New(Config{Genesis: n.g, DataDir: t.TempDir(), StakingKey: keys[5].Staking, PollInterval: 20 * time.Millisecond,
		Fetch:    FetchConfig{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond},
		Receipts: ReceiptConfig{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer node.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		up.mu.Lock()
		_, done := up.receipts[5]
		up.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no receipt for height 5: finalized %d, status %+v",
				node.led.FinalizedHeight(), node.ExecutionStatus())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The state the direct execution of the same bodies reaches, committed
	// over register paths.
	app, err := kvstore.New(func(func(k, v []byte) error) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	final := map[string][]byte{}
	for h, cs := range [][]*collection.Collection{{cols[0], cols[1]}, {cols[2]}} {
		var txs [][]byte
		for _, c := range cs {
			for _, tx := range c.Txs() {
				txs = append(txs, tx.Body)
			}
		}
		_, writes, _, err := app.Execute(uint64(h+1), txs)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range writes {
			final[string(w.Key)] = w.Value
		}
	}
	var ops []merkle.Op
	for k, v := range final {
		if v != nil {
			ops = append(ops, merkle.Op{Key: state.RegisterID{Key: k}.Path(), Value: merkle.ValueHash(v)})
		}
	}
	slices.SortFunc(ops, func(a, b merkle.Op) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	want := merkle.New().Update(ops)

	up.mu.Lock()
	receipts, bad := up.receipts, up.bad
	up.mu.Unlock()
	if len(bad) != 0 {
		t.Fatalf("receipts refused: %v", bad)
	}
	genesisResult, err := node.led.GenesisResult()
	if err != nil {
		t.Fatal(err)
	}
	prev := genesisResult
	wantChunks := []int{3, 2, 1, 1, 1} // height 4 repeats c0: not executed again
	for h := uint64(1); h <= 5; h++ {
		r := receipts[h]
		if r == nil {
			t.Fatalf("no receipt for height %d", h)
		}
		res := &r.Result
		if res.Block != seg.Blocks[h-1].ID() || res.Previous != prev.ID() || res.StartState() != prev.EndState() ||
			len(res.Chunks) != wantChunks[h-1] || r.Executor != keys[5].NodeID() {
			t.Fatalf("height %d: result %+v does not chain onto %v or has %d chunks (want %d)", h, res, prev.ID(), len(res.Chunks), wantChunks[h-1])
		}
		prev = res
	}
	if c := receipts[1].Result.Chunks; c[0].CollectionID != cols[0].ID() || c[1].CollectionID != cols[1].ID() || c[0].TxCount != uint32(cols[0].Len()) {
		t.Fatalf("chunks of height 1: %+v", c)
	}
	if got := receipts[5].Result.EndState(); got != model.Identifier(want) {
		t.Fatalf("end state %v, direct execution gives %x", got, want)
	}
	st, err := node.TxStatus(cols[2].TxIDs()[1])
	if err != nil || st.Result == nil || st.Result.Height != 2 || st.Result.Index != 1 || !st.Result.OK ||
		st.Execution == nil || st.Execution.Result != receipts[2].Result.ID().Hex() || len(st.Execution.Events) != 1 {
		t.Fatalf("status of an executed transaction by envelope ID: %+v %+v %v", st, st.Execution, err)
	}
	if servers[3].asked.Load() != 0 {
		t.Fatal("a member that did not sign was asked")
	}
	if asked := servers[0].asked.Load() + servers[1].asked.Load() + servers[2].asked.Load(); asked < 3 {
		t.Fatalf("signers asked %d times for 3 collections", asked)
	}
	if st := node.ExecutionStatus(); len(st.Missing) != 0 || st.ExecutedHeight != 5 || st.Receipts[0].AnsweredHeight != 5 ||
		st.EndState != model.Identifier(want).Hex() {
		t.Fatalf("execution status %+v", st)
	}
	checkStateReads(t, node, receipts, final)
	checkPackAuthorization(t, node, keys, receipts)
}
