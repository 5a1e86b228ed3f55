package collector_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/network"
	"github.com/floe-bft/floe/role/collector"
	node "github.com/floe-bft/floe/role/consensus"
	"github.com/floe-bft/floe/storage"
)

// pipenet is a pipeline network in one process: one real consensus node
// (a committee of one, so the main chain runs fast) serving its API over
// HTTP, collectors of params.clusters clusters as full nodes, and a fake
// consensus endpoint that takes guarantees and verifies each against its
// cluster.
type pipenet struct {
	t       *testing.T
	g       *genesis.Genesis
	colKeys []*genesis.NodeKeys
	dirs    []string
	hub     *network.MemoryNetwork
	cons    *node.Node
	consAPI *httptest.Server
	fake    *fakeConsensus
	// tls: collectors talk over the real TLS transport on loopback
	// (their genesis addresses) instead of the in-memory network.
	tls bool
}

func keysFrom(t *testing.T, n uint64) *genesis.NodeKeys {
	t.Helper()
	seed := make([]byte, 32)
	binary.BigEndian.PutUint64(seed, n)
	k, err := genesis.KeysFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newPipenet(t *testing.T, collectors, clusters int) *pipenet {
	t.Helper()
	return newPipenetOn(t, collectors, clusters, false, nil)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newPipenetOn(t *testing.T, collectors, clusters int, tls bool, tweak func(*genesis.Genesis)) *pipenet {
	t.Helper()
	p := &pipenet{t: t, hub: network.NewMemoryNetwork(), tls: tls}
	g := &genesis.Genesis{ProtocolVersion: model.ProtocolVersion, ChainID: "collector-test", GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		LeaderSeed: fmt.Sprintf("%064x", 9), Params: genesis.DefaultParams()}
	g.Params.TimeoutMinMS = 400
	g.Params.IdleBlockIntervalMS = 100
	g.Params.Clusters = clusters
	consKeys := keysFrom(t, 1)
	v, err := consKeys.Validator("cons0", "127.0.0.1:1", 1)
	if err != nil {
		t.Fatal(err)
	}
	g.Validators = append(g.Validators, v)
	for i := 0; i < collectors; i++ {
		k := keysFrom(t, uint64(10+i))
		addr := fmt.Sprintf("127.0.0.1:%d", 2+i)
		if tls {
			addr = freePort(t)
		}
		v, err := k.Validator(fmt.Sprintf("col%d", i), addr, 1)
		if err != nil {
			t.Fatal(err)
		}
		v.Role = "collection"
		g.Validators = append(g.Validators, v)
		p.colKeys = append(p.colKeys, k)
		p.dirs = append(p.dirs, t.TempDir())
	}
	if tweak != nil {
		tweak(g)
	}
	p.g = g
	p.fake = newFakeConsensus(t, g)
	cons, err := node.New(node.Config{Genesis: g, Keys: consKeys, Store: storage.NewMemory(),
		Transport: p.hub.Transport(consKeys.NodeID())})
	if err != nil {
		t.Fatal(err)
	}
	if err := cons.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.cons = cons
	t.Cleanup(func() {
		cons.Stop()
		if err := cons.Err(); err != nil {
			t.Errorf("consensus node stopped with %v", err)
		}
	})
	p.consAPI = httptest.NewServer(api.New(cons, api.Options{}))
	t.Cleanup(p.consAPI.Close)
	return p
}

// collectorNode is one running collector with its API.
type collectorNode struct {
	n   *collector.Node
	api *httptest.Server
	cl  *client.Client
	reg *prometheus.Registry
}

func (p *pipenet) startCollector(i int, tweak func(*collector.NodeConfig)) *collectorNode {
	p.t.Helper()
	reg := prometheus.NewRegistry()
	cfg := collector.NodeConfig{
		Genesis: p.g, Keys: p.colKeys[i], DataDir: p.dirs[i],
		Upstreams:    []string{p.consAPI.URL},
		Consensus:    []string{p.fake.srv.URL + fmt.Sprintf("/c%d", i)},
		Transport:    p.hub.Transport(p.colKeys[i].NodeID()),
		PollInterval: 100 * time.Millisecond, Metrics: reg,
	}
	if os.Getenv("FLOE_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("col", i)
	}
	if p.tls {
		cfg.Transport = nil // the TLS transport on the genesis address
	}
	if tweak != nil {
		tweak(&cfg)
	}
	n, err := collector.NewNode(cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		p.t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(n, api.Options{}))
	cn := &collectorNode{n: n, api: srv, cl: client.New(srv.URL), reg: reg}
	p.t.Cleanup(func() { cn.stop(p.t) })
	return cn
}

func (c *collectorNode) stop(t *testing.T) {
	c.api.Close()
	c.n.Stop()
	if err := c.n.Err(); err != nil {
		t.Errorf("collector stopped with %v", err)
	}
}

// fakeConsensus takes POST <base>/c<i>/v1/guarantees, verifies every
// guarantee against the committee of its cluster and counts, per
// collector, each collection it was handed.
type fakeConsensus struct {
	t        *testing.T
	srv      *httptest.Server
	clusters map[model.ChainID]*committee.Committee

	mu     sync.Mutex
	got    map[model.Identifier]*collection.Guarantee
	byFrom map[string]map[model.Identifier]int
	bad    []string
}

func newFakeConsensus(t *testing.T, g *genesis.Genesis) *fakeConsensus {
	st, err := g.EpochState()
	if err != nil {
		t.Fatal(err)
	}
	e := st.Schedule().Last()
	f := &fakeConsensus{t: t, clusters: map[model.ChainID]*committee.Committee{},
		got: map[model.Identifier]*collection.Guarantee{}, byFrom: map[string]map[model.Identifier]int{}}
	for i := range e.Clusters {
		members, chain := e.Cluster(i, model.MainChain(g.ChainID))
		com, err := collector.ClusterCommittee(crypto.BLS(), members, chain)
		if err != nil {
			t.Fatal(err)
		}
		f.clusters[chain] = com
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeConsensus) serve(w http.ResponseWriter, r *http.Request) {
	from, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok || rest != "v1/guarantees" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	gs, err := collection.DecodeGuarantees(b, 1000)
	if err != nil {
		f.mu.Lock()
		f.bad = append(f.bad, "undecodable batch: "+err.Error())
		f.mu.Unlock()
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	resp := api.GuaranteesResponse{}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byFrom[from] == nil {
		f.byFrom[from] = map[model.Identifier]int{}
	}
	for i, g := range gs {
		com, ok := f.clusters[g.Chain]
		if !ok {
			f.bad = append(f.bad, fmt.Sprintf("guarantee of unknown chain %v", g.Chain))
			resp.Rejected = append(resp.Rejected, api.RejectedEntry{Index: i, Error: "unknown cluster"})
			continue
		}
		if err := collection.Verify(crypto.BLS(), g, g.Chain, com); err != nil {
			f.bad = append(f.bad, fmt.Sprintf("guarantee of %v does not verify: %v", g.CollectionID, err))
			resp.Rejected = append(resp.Rejected, api.RejectedEntry{Index: i, Error: err.Error()})
			continue
		}
		f.byFrom[from][g.CollectionID]++
		f.got[g.CollectionID] = g
		resp.Accepted++
	}
	api.WriteJSON(w, http.StatusOK, resp)
}

func (f *fakeConsensus) guarantee(id model.Identifier) (*collection.Guarantee, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.got[id]
	return g, ok
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reference waits until every collector followed the consensus node's
// finalized block at height >= h and returns its ID.
func (p *pipenet) reference(t *testing.T, h uint64, cols ...*collectorNode) model.Identifier {
	t.Helper()
	var ref *model.Block
	waitUntil(t, "the main chain to grow", 30*time.Second, func() bool {
		b, err := p.cons.LatestBlock()
		if err == nil && b.Height >= h {
			ref = b
			return true
		}
		return false
	})
	waitUntil(t, "the collectors to follow the main chain", 30*time.Second, func() bool {
		for _, c := range cols {
			if _, _, ok := c.n.Main().RefHeight(ref.ID()); !ok {
				return false
			}
			if _, ok := c.n.Running(); !ok {
				return false
			}
		}
		return true
	})
	return ref.ID()
}

func encodeTxs(txs []collection.Tx) [][]byte {
	out := make([][]byte, len(txs))
	for i, tx := range txs {
		out[i] = tx.Encode()
	}
	return out
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
		return sum
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// Four collectors of one cluster, each a full node following a real
// consensus node over HTTP: transactions submitted over HTTP to different
// collectors are all collected once and guaranteed; the consensus endpoint
// receives every collection's guarantee, valid, from each guarantor at
// most once; every collector serves every collection by ID; a restarted
// collector keeps its cluster chain and its retained collections and
// collects again.
func TestCollectorsGuaranteeOverHTTPAndSurviveRestart(t *testing.T) {
	p := newPipenet(t, 4, 1)
	cols := make([]*collectorNode, 4)
	for i := range cols {
		cols[i] = p.startCollector(i, nil)
	}
	ref := p.reference(t, 2, cols...)

	const n = 120
	txs := make([]collection.Tx, n)
	for i := range txs {
		txs[i] = collection.Tx{Ref: ref, Body: []byte(fmt.Sprintf("tx %d", i))}
	}
	ctx := context.Background()
	for start := 0; start < n; start += 10 {
		// Each batch goes to one collector, and every third batch to a
		// second one too (as access nodes send to two members).
		batch := encodeTxs(txs[start : start+10])
		c := cols[(start/10)%4]
		resp, err := c.cl.SubmitCollector(ctx, batch)
		if err != nil || resp.Accepted != 10 {
			t.Fatalf("submit batch %d: %+v, %v", start/10, resp, err)
		}
		if (start/10)%3 == 0 {
			other := cols[(start/10+1)%4]
			if _, err := other.cl.SubmitCollector(ctx, batch); err != nil {
				t.Fatalf("second submission of batch %d: %v", start/10, err)
			}
		}
	}

	collOf := map[model.Identifier]model.Identifier{}
	waitUntil(t, "every transaction collected and guaranteed", 60*time.Second, func() bool {
		for i, tx := range txs {
			c := cols[(i/10)%4]
			st, err := c.cl.CollectorTx(ctx, tx.ID())
			if err != nil || st.Status != "collected" || !st.Guaranteed {
				return false
			}
			id, err := model.ParseIdentifier(st.Collection)
			if err != nil {
				t.Fatalf("status of %v names collection %q", tx.ID(), st.Collection)
			}
			collOf[tx.ID()] = id
		}
		return true
	})
	chain, _ := cols[0].n.Running()
	colls := map[model.Identifier]bool{}
	for _, id := range collOf {
		colls[id] = true
	}
	waitUntil(t, "every guarantee at the consensus endpoint", 30*time.Second, func() bool {
		for id := range colls {
			if _, ok := p.fake.guarantee(id); !ok {
				return false
			}
		}
		return true
	})
	p.fake.mu.Lock()
	if len(p.fake.bad) > 0 {
		t.Fatalf("consensus endpoint got bad input: %v", p.fake.bad)
	}
	for from, m := range p.fake.byFrom {
		for id, k := range m {
			if k > 1 {
				t.Errorf("collector %s handed collection %v off %d times", from, id, k)
			}
		}
	}
	p.fake.mu.Unlock()

	// Every transaction is in exactly one collection, and every collector
	// serves every collection, verified against its ID.
	seen := map[model.Identifier]model.Identifier{}
	for id := range colls {
		g, _ := p.fake.guarantee(id)
		if g.Chain != chain {
			t.Fatalf("guarantee of chain %v, the cluster runs %v", g.Chain, chain)
		}
		for i, c := range cols {
			col, err := c.cl.Collection(ctx, id, collection.DefaultLimits())
			if err != nil {
				t.Fatalf("collector %d does not serve collection %v: %v", i, id, err)
			}
			if i > 0 {
				continue
			}
			for _, tx := range col.TxIDs() {
				if prev, ok := seen[tx]; ok && prev != id {
					t.Fatalf("transaction %v collected twice: %v and %v", tx, prev, id)
				}
				seen[tx] = id
			}
		}
	}
	t.Logf("%d transactions in %d collections, guaranteed by chain %v", len(seen), len(colls), chain)
	if len(seen) != n {
		t.Fatalf("%d distinct transactions in the guaranteed collections, want %d", len(seen), n)
	}
	if v := metricValue(t, cols[0].reg, "floe_collector_collections_finalized_total"); v < float64(len(colls)) {
		t.Fatalf("collections finalized metric %v, want at least %d", v, len(colls))
	}
	if v := metricValue(t, cols[0].reg, "floe_collector_guarantees_handed_off_total"); v == 0 {
		t.Fatal("no guarantee counted as handed off")
	}

	// Restart collector 0: same chain, no lower finalized height, the same
	// collections served and its transactions still known as collected.
	before := cols[0].n.Cluster().FinalizedHeight()
	cols[0].stop(t)
	cols[0] = p.startCollector(0, nil)
	waitUntil(t, "the restarted collector to run its cluster", 30*time.Second, func() bool {
		_, ok := cols[0].n.Running()
		return ok
	})
	if again, _ := cols[0].n.Running(); again != chain {
		t.Fatalf("restarted collector runs chain %v, want %v", again, chain)
	}
	if h := cols[0].n.Cluster().FinalizedHeight(); h < before {
		t.Fatalf("restarted cluster chain at finalized height %d, was %d", h, before)
	}
	for id := range colls {
		if _, err := cols[0].cl.Collection(ctx, id, collection.DefaultLimits()); err != nil {
			t.Fatalf("restarted collector lost collection %v: %v", id, err)
		}
	}
	if st, err := cols[0].cl.CollectorTx(ctx, txs[0].ID()); err != nil || st.Status != "collected" {
		t.Fatalf("restarted collector's status of a collected transaction: %+v, %v", st, err)
	}
	// It collects again with the others.
	ref = p.reference(t, 2, cols...)
	late := collection.Tx{Ref: ref, Body: []byte("after the restart")}
	if resp, err := cols[0].cl.SubmitCollector(ctx, encodeTxs([]collection.Tx{late})); err != nil || resp.Accepted != 1 {
		t.Fatalf("submit after restart: %+v, %v", resp, err)
	}
	waitUntil(t, "the late transaction guaranteed", 60*time.Second, func() bool {
		st, err := cols[0].cl.CollectorTx(ctx, late.ID())
		return err == nil && st.Status == "collected" && st.Guaranteed
	})
}

// Three collectors of one cluster over the real TLS transport (pinned
// network keys, frames tagged by chain) collect and guarantee what they
// are sent, and the guarantees reach the consensus endpoint valid.
func TestCollectorsOverTLS(t *testing.T) {
	p := newPipenetOn(t, 3, 1, true, nil)
	cols := make([]*collectorNode, 3)
	for i := range cols {
		cols[i] = p.startCollector(i, nil)
	}
	ref := p.reference(t, 2, cols...)
	ctx := context.Background()
	txs := make([]collection.Tx, 30)
	for i := range txs {
		txs[i] = collection.Tx{Ref: ref, Body: []byte(fmt.Sprintf("tls tx %d", i))}
	}
	for i := 0; i < 3; i++ {
		if resp, err := cols[i].cl.SubmitCollector(ctx, encodeTxs(txs[10*i:10*i+10])); err != nil || resp.Accepted != 10 {
			t.Fatalf("submit to collector %d: %+v, %v", i, resp, err)
		}
	}
	waitUntil(t, "every transaction guaranteed and handed off", 60*time.Second, func() bool {
		for i, tx := range txs {
			st, err := cols[i/10].cl.CollectorTx(ctx, tx.ID())
			if err != nil || st.Status != "collected" || !st.Guaranteed {
				return false
			}
			id, _ := model.ParseIdentifier(st.Collection)
			if _, ok := p.fake.guarantee(id); !ok {
				return false
			}
		}
		return true
	})
	p.fake.mu.Lock()
	defer p.fake.mu.Unlock()
	if len(p.fake.bad) > 0 {
		t.Fatalf("consensus endpoint got bad input: %v", p.fake.bad)
	}
}

// A transaction naming the root block (height 0), the newest finalized
// block a client sees before height 1, is collected: the collector knows
// the root as a reference like every finalized block (it used to wait
// unresolved for it forever).
func TestTransactionReferencingTheRootIsCollected(t *testing.T) {
	p := newPipenet(t, 1, 1)
	c := p.startCollector(0, nil)
	root, err := p.cons.BlockByHeight(0)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the collector to know the root", 30*time.Second, func() bool {
		h, _, ok := c.n.Main().RefHeight(root.ID())
		return ok && h == 0
	})
	ctx := context.Background()
	tx := collection.Tx{Ref: root.ID(), Body: []byte("names the root")}
	waitUntil(t, "the transaction accepted (the cluster running)", 30*time.Second, func() bool {
		resp, err := c.cl.SubmitCollector(ctx, encodeTxs([]collection.Tx{tx}))
		return err == nil && resp.Accepted == 1
	})
	waitUntil(t, "the transaction collected", 30*time.Second, func() bool {
		st, err := c.cl.CollectorTx(ctx, tx.ID())
		return err == nil && st.Status == "collected"
	})
}
