package execution

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/follower"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/payload"
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
		u.receipts[rc.Height] = rc
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "no route", http.StatusNotFound)
	}
}

// An execution node follows a certified main chain whose blocks carry
// guarantees, fetches each collection from a signer that serves it (past
// one that answers 404 and one that serves another collection, never
// asking the member that did not sign), executes the bodies in block
// order, once each even when the chain repeats a guarantee, answers for
// transactions by envelope ID, and hands the consensus node a receipt for
// the newest executed height whose block and state root are the chain's
// and the direct execution's.
func TestNodeFollowsAndExecutesGuaranteedCollections(t *testing.T) {
	cols := testCollections(3)
	servers := []*guarantorServer{
		newGuarantorServer(t, notFound, cols),
		newGuarantorServer(t, serve, cols),
		newGuarantorServer(t, wrong, cols),
		newGuarantorServer(t, serve, cols), // not a signer
	}
	up := newUpstreamServer(t)
	n := newClusterNet(t, func(i int) string { return servers[i].URL })
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
	g := func(c *collection.Collection) *collection.Guarantee {
		gt := n.guarantee(t, c, 0, 1, 2)
		gt.Ref = root.ID()
		return gt
	}
	// Heights 1..6; 6 is certified, not finalized. Height 4 repeats c0.
	payloads := []*payload.Payload{
		{Guarantees: []*collection.Guarantee{g(cols[0]), g(cols[1])}},
		{Guarantees: []*collection.Guarantee{g(cols[2])}},
		{},
		{Guarantees: []*collection.Guarantee{g(cols[0])}},
		{}, {},
	}
	seg, err := tc.Extend(root, rootQC, len(payloads), func(i int) []byte { return payloads[i].Encode() })
	if err != nil {
		t.Fatal(err)
	}
	up.mu.Lock()
	up.seg, up.chain, up.exec = seg, model.MainChain(n.g.ChainID), keys[5].Staking.PublicKey()
	up.mu.Unlock()

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
			t.Fatalf("no receipt for height 5: executed %d, finalized %d, status %+v", node.led.ExecutedHeight(),
				node.led.FinalizedHeight(), node.ExecutionStatus())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The state the direct execution of the same bodies reaches.
	app, err := kvstore.New(func(func(k, v []byte) error) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	bodies := func(cs ...*collection.Collection) [][]byte {
		var out [][]byte
		for _, c := range cs {
			for _, tx := range c.Txs() {
				out = append(out, tx.Body)
			}
		}
		return out
	}
	var want [32]byte
	for h, txs := range [][][]byte{bodies(cols[0], cols[1]), bodies(cols[2]), nil, nil, nil} {
		if _, _, want, err = app.Execute(uint64(h+1), txs); err != nil {
			t.Fatal(err)
		}
	}
	up.mu.Lock()
	r, bad := up.receipts[5], up.bad
	up.mu.Unlock()
	if len(bad) != 0 || r.Block != seg.Blocks[4].ID() || r.Root != model.Identifier(want) || r.Executor != keys[5].NodeID() {
		t.Fatalf("receipt %+v (refused %v): want block %v, root %x", r, bad, seg.Blocks[4].ID(), want)
	}
	st, err := node.TxStatus(cols[2].TxIDs()[1])
	if err != nil || st.Result == nil || st.Result.Height != 2 || st.Result.Index != 1 || !st.Result.OK {
		t.Fatalf("status of an executed transaction by envelope ID: %+v %v", st, err)
	}
	if servers[3].asked.Load() != 0 {
		t.Fatal("a member that did not sign was asked")
	}
	if asked := servers[0].asked.Load() + servers[1].asked.Load() + servers[2].asked.Load(); asked < 3 {
		t.Fatalf("signers asked %d times for 3 collections", asked)
	}
	if st := node.ExecutionStatus(); len(st.Missing) != 0 || st.ExecutedHeight != 5 || st.Receipts[0].AcceptedHeight != 5 {
		t.Fatalf("execution status %+v", st)
	}
}
