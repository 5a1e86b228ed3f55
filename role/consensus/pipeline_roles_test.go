package consensus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/network"
	"github.com/floe-bft/floe/role/collector"
	"github.com/floe-bft/floe/role/execution"
)

// lateHandler serves through a handler set after the server's address
// had to be known (a collector's API URL goes into the genesis file
// before the collector can be built from it).
type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

// TestPipelineRolesEndToEnd: the pipeline without its access nodes, every
// role real and in process: four consensus nodes, a cluster of four
// collectors (role/collector, following the main chain over the consensus
// nodes' APIs and handing them guarantees) and an execution node
// (role/execution, fetching collections from the guarantors' genesis api
// and handing receipts back). Transactions submitted to a collector are
// collected, guaranteed, ordered once by consensus, executed, and the
// chain comes to carry a receipt whose end state is the new state, and a
// block Result at least as high.
func TestPipelineRolesEndToEnd(t *testing.T) {
	pn := newPipeNet(t, 4, 4, 1)
	pn.gen.Params.IdleBlockIntervalMS = 100
	servers := make([]*httptest.Server, len(pn.others))
	late := make([]*lateHandler, len(pn.others))
	for i := range pn.others {
		late[i] = &lateHandler{}
		servers[i] = httptest.NewUnstartedServer(late[i])
		t.Cleanup(servers[i].Close)
		pn.gen.Validators[len(pn.nodes)+i].API = "http://" + servers[i].Listener.Addr().String()
	}
	pn.startAll()
	var urls []string
	for _, nd := range pn.nodes {
		urls = append(urls, serveAPI(t, nd).URL)
	}
	hub := network.NewMemoryNetwork()
	for i, k := range pn.others {
		cn, err := collector.NewNode(collector.NodeConfig{Genesis: pn.gen, Keys: k, DataDir: t.TempDir(),
			Upstreams: urls, Consensus: urls, Transport: hub.Transport(k.NodeID()), PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := cn.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cn.Stop)
		var h http.Handler = api.New(cn, api.Options{})
		late[i].h.Store(&h)
		servers[i].Start()
	}
	ex, err := execution.New(execution.Config{Genesis: pn.gen, DataDir: t.TempDir(), StakingKey: pn.executors[0].Staking,
		Upstreams: urls, ReceiptTargets: urls, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ex.Stop)

	waitFor(t, "the main chain", time.Minute, func() bool { return pn.finalized(0) >= 3 })
	ref, _ := pn.blockAt(t, 0, 2)
	var txs [][]byte
	for i := range 20 {
		txs = append(txs, collection.Tx{Ref: ref.ID(), Body: setTx(t, fmt.Sprintf("key%d", i), "value")}.Encode())
	}
	col := client.New(servers[0].URL)
	waitFor(t, "a collector taking transactions", time.Minute, func() bool {
		resp, err := col.SubmitCollector(context.Background(), txs)
		return err == nil && resp.Accepted == len(txs)
	})
	genesisRoot, err := ledger.GenesisRegisterRoot(pn.gen)
	if err != nil {
		t.Fatal(err)
	}
	// Ordered (exactly once, checked below), executed, and the executor's
	// receipt for a height at or above the guarantee's carried.
	var includedAt uint64
	waitFor(t, "a receipt with the executed state", 2*time.Minute, func() bool {
		for h := uint64(1); h <= pn.finalized(0); h++ {
			_, pl := pn.blockAt(t, 0, h)
			if len(pl.Guarantees) > 0 && includedAt == 0 {
				includedAt = h
			}
			for _, r := range pl.Receipts {
				if includedAt > 0 && r.Height() >= includedAt && r.Result.EndState() != genesisRoot {
					return pl.Result.Height >= r.Height()
				}
			}
		}
		return false
	})
	inc := pn.included(t, 0)
	if len(inc) == 0 {
		t.Fatal("no collection ordered")
	}
	for id, n := range inc {
		if n != 1 {
			t.Fatalf("collection %v ordered %d times", id, n)
		}
	}
	if d := pn.nodes[0].Disagreements(); len(d.Disagreements) != 0 {
		t.Fatalf("one honest executor disagrees with itself: %+v", d)
	}
	if got := metric(t, pn.regs[0], "floe_guarantees_refused_total"); got != 0 {
		t.Fatalf("consensus node 0 refused %v guarantees of honest collectors", got)
	}
}
