package execution

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
)

// An execution node assembles from a pipeline genesis: it follows and
// sends receipts to the consensus members' genesis APIs by default, takes
// no transactions, answers GET /v1/execution/status, and places a
// guarantee's signers through its ledger (the reference block's epoch,
// the cluster of the guarantee's chain), refusing one whose reference
// block it does not hold.
func TestNodeAssembles(t *testing.T) {
	n := newClusterNet(t, func(i int) string { return "http://collector.invalid/" + string(rune('a'+i)) })
	var execKeys *genesis.NodeKeys
	for i := 0; i < 6; i++ {
		seed := make([]byte, 32)
		seed[31] = byte(i + 1)
		k, err := genesis.KeysFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		if n.g.Validators[i].Role == "execution" {
			execKeys = k
		}
	}
	if _, err := New(Config{Genesis: n.g, DataDir: t.TempDir()}); err == nil {
		t.Fatal("a node without a staking key")
	}
	noAPI := *n.g
	noAPI.Validators = append([]genesis.Validator(nil), n.g.Validators...)
	noAPI.Validators[0].API = ""
	if _, err := New(Config{Genesis: &noAPI, DataDir: t.TempDir(), StakingKey: execKeys.Staking}); !errors.Is(err, ErrNoConsensusAPI) {
		t.Fatalf("no consensus API: %v", err)
	}

	node, err := New(Config{Genesis: n.g, DataDir: t.TempDir(), StakingKey: execKeys.Staking, Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer node.Stop()
	if got := node.cfg.Upstreams; len(got) != 1 || got[0] != "http://consensus.invalid" || node.cfg.ReceiptTargets[0] != got[0] {
		t.Fatalf("upstreams %v, receipt targets %v", got, node.cfg.ReceiptTargets)
	}
	// The defaults reach the execution loop (a zero retention pruned every
	// pack and state version at once: found by the container runner).
	if node.runner.retain != DefaultRetain || node.runner.sync.Behind != DefaultSyncBehind {
		t.Fatalf("execution loop retains %d heights, syncs beyond %d", node.runner.retain, node.runner.sync.Behind)
	}
	if subs := node.SubmitTxs([][]byte{{1}}); !errors.Is(subs[0].Error, ErrExecution) {
		t.Fatalf("submission: %v", subs[0].Error)
	}
	if st := node.Status(); st.Name != "execution" || st.NodeID != execKeys.NodeID() {
		t.Fatalf("status %+v", st)
	}

	mux := http.NewServeMux()
	node.Routes(func(p string, h http.HandlerFunc) { mux.HandleFunc(p, h) })
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/execution/status", nil))
	var st StatusResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != http.StatusOK || len(st.Receipts) != 1 ||
		st.Receipts[0].URL != "http://consensus.invalid" {
		t.Fatalf("status endpoint: %d %s", rec.Code, rec.Body)
	}

	root, err := node.led.BlockByHeight(0)
	if err != nil {
		t.Fatal(err)
	}
	g := n.guarantee(t, collection.NewCollection(nil), 1, 3)
	g.Ref = root.ID()
	resolve := ledgerResolver(node.led, n.g.APIs())
	gs, err := resolve(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].ID != n.members[1].ID() || gs[1].ID != n.members[3].ID() || gs[1].URL != "http://collector.invalid/d" {
		t.Fatalf("guarantors %+v", gs)
	}
	g.Ref = model.Identifier{0xEE}
	if _, err := resolve(g); !errors.Is(err, ErrUnplaceable) {
		t.Fatalf("unknown reference block: %v", err)
	}
	g.Ref, g.Chain = root.ID(), model.ClusterChain(n.main, 0, 5)
	if _, err := resolve(g); !errors.Is(err, ErrUnplaceable) {
		t.Fatalf("unknown cluster: %v", err)
	}
}
