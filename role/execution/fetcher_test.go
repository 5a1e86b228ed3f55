package execution

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/payload"
)

// Guarantor behaviours of the test servers.
const (
	serve    = iota // the collection asked for
	notFound        // 404
	wrong           // another collection
)

// guarantorServer is a collector's GET /v1/collections/{id} over a set of
// collections, with a switchable behaviour, counting what it is asked and
// the requests in flight.
type guarantorServer struct {
	*httptest.Server
	behaviour atomic.Int32
	asked     atomic.Int64
	flight    *flightCounter // shared by the servers of a test
	delay     time.Duration
	mu        sync.Mutex
	cols      map[string]*collection.Collection
	other     *collection.Collection
}

// flightCounter tracks the requests in flight across servers and their
// maximum.
type flightCounter struct {
	now, max atomic.Int64
}

func (c *flightCounter) enter() (leave func()) {
	n := c.now.Add(1)
	for m := c.max.Load(); n > m && !c.max.CompareAndSwap(m, n); m = c.max.Load() {
	}
	return func() { c.now.Add(-1) }
}

func newGuarantorServer(t *testing.T, behaviour int32, cols []*collection.Collection) *guarantorServer {
	s := &guarantorServer{cols: map[string]*collection.Collection{},
		other: collection.NewCollection([]collection.Tx{{Ref: model.Identifier{1}, Body: []byte("not the one")}})}
	for _, c := range cols {
		s.cols[c.ID().Hex()] = c
	}
	s.behaviour.Store(behaviour)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutPrefix(r.URL.Path, "/v1/collections/")
		if !ok || r.Method != http.MethodGet {
			http.Error(w, `{"error":"no route"}`, http.StatusNotFound)
			return
		}
		s.asked.Add(1)
		if s.flight != nil {
			defer s.flight.enter()()
		}
		time.Sleep(s.delay)
		s.mu.Lock()
		c, held := s.cols[id]
		s.mu.Unlock()
		switch {
		case s.behaviour.Load() == wrong:
			_, _ = w.Write(s.other.Encode())
		case s.behaviour.Load() == notFound || !held:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"collection not held"}`))
		default:
			_, _ = w.Write(c.Encode())
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// clusterNet is a genesis with one consensus member and one cluster of
// four collectors whose genesis api entries are the given servers.
type clusterNet struct {
	g       *genesis.Genesis
	epoch   *epoch.Epoch
	main    model.ChainID
	members []epoch.Identity // the cluster in canonical (node ID) order
}

func newClusterNet(t *testing.T, urls func(i int) string) *clusterNet {
	t.Helper()
	g := &genesis.Genesis{ProtocolVersion: model.ProtocolVersion, ChainID: "exec-test", GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		LeaderSeed: fmt.Sprintf("%064x", 5), Params: genesis.DefaultParams()}
	g.Params.Clusters = 1
	for i := 0; i < 6; i++ {
		seed := make([]byte, 32)
		seed[31] = byte(i + 1)
		k, err := genesis.KeysFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		v, err := k.Validator(fmt.Sprintf("m%d", i), fmt.Sprintf("127.0.0.1:%d", 2000+i), 1)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i == 0:
			v.API = "http://consensus.invalid"
		case i <= 4:
			v.Role = "collection"
		default:
			v.Role = "execution"
		}
		g.Validators = append(g.Validators, v)
	}
	st, err := g.EpochState()
	if err != nil {
		t.Fatal(err)
	}
	n := &clusterNet{g: g, epoch: st.Schedule().Last(), main: st.Params().ChainID}
	members, _ := n.epoch.Cluster(0, n.main)
	slices.SortFunc(members, func(a, b epoch.Identity) int { return strings.Compare(string(idOf(a)), string(idOf(b))) })
	n.members = members
	// The servers go to the cluster members in canonical order.
	for i, m := range members {
		for j := range g.Validators {
			if g.Validators[j].Name == m.Name {
				g.Validators[j].API = urls(i)
			}
		}
	}
	return n
}

func idOf(m epoch.Identity) []byte { id := m.ID(); return id[:] }

// guarantee of c signed by the cluster members at indices.
func (n *clusterNet) guarantee(t *testing.T, c *collection.Collection, indices ...int) *collection.Guarantee {
	t.Helper()
	s, err := model.NewSignerSet(len(n.members))
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range indices {
		s.Set(i)
	}
	_, chain := n.epoch.Cluster(0, n.main)
	return &collection.Guarantee{CollectionID: c.ID(), Ref: model.Identifier{2}, Chain: chain, Signers: s, Signature: make([]byte, 96)}
}

func (n *clusterNet) resolver() Resolver {
	apis := n.g.APIs()
	return func(g *collection.Guarantee) ([]Guarantor, error) { return guarantorsIn(n.epoch, n.main, g, apis) }
}

func testCollections(count int) []*collection.Collection {
	var out []*collection.Collection
	for i := 0; i < count; i++ {
		var txs []collection.Tx
		for j := 0; j < 3; j++ {
			k := fmt.Sprintf("c%d-t%d", i, j)
			txs = append(txs, collection.Tx{Ref: model.Identifier{3}, Body: kvstore.EncodeSet([]byte(k), []byte("v"), []byte(k))})
		}
		out = append(out, collection.NewCollection(txs))
	}
	return out
}

func testFetcher(resolve Resolver, cfg FetchConfig, ahead func(uint64) ([]*collection.Guarantee, bool)) (*fetcher, *metrics, *Missing) {
	m := newMetrics(nil)
	missing := newMissing(m)
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 2 * time.Second
	}
	return newFetcher(cfg, resolve, ahead, nil, m, missing, slog.New(slog.DiscardHandler), 42), m, missing
}

// transactions fetches the collections of pl's guarantees for height
// and flattens them into bodies and envelope IDs.
func transactions(f *fetcher, ctx context.Context, height uint64, pl *payload.Payload) ([][]byte, []model.Identifier, error) {
	cols, err := f.Collections(ctx, height, pl.Guarantees)
	if err != nil {
		return nil, nil, err
	}
	var txs [][]byte
	var ids []model.Identifier
	for _, c := range cols {
		for _, tx := range c.Txs() {
			txs = append(txs, tx.Body)
		}
		ids = append(ids, c.TxIDs()...)
	}
	return txs, ids, nil
}

func block(t *testing.T, height uint64) *model.Block {
	t.Helper()
	b, err := model.NewRootBlock(model.Identifier{1}, model.View(height), height, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantBodies checks txs and ids are the collections' bodies and envelope
// IDs in order.
func wantBodies(t *testing.T, txs [][]byte, ids []model.Identifier, cols ...*collection.Collection) {
	t.Helper()
	var wantTxs [][]byte
	var wantIDs []model.Identifier
	for _, c := range cols {
		for i, tx := range c.Txs() {
			wantTxs = append(wantTxs, tx.Body)
			wantIDs = append(wantIDs, c.TxIDs()[i])
		}
	}
	if !slices.EqualFunc(txs, wantTxs, func(a, b []byte) bool { return string(a) == string(b) }) || !slices.Equal(ids, wantIDs) {
		t.Fatalf("got %d transactions, want the %d of the collections in order", len(txs), len(wantTxs))
	}
}

// Guarantors that do not serve (404) or serve another collection are
// passed over for another signer; the collection is the one the guarantee
// names; a cluster member that did not sign is never asked.
func TestFetchPassesOverBadGuarantors(t *testing.T) {
	cols := testCollections(20)
	servers := []*guarantorServer{
		newGuarantorServer(t, notFound, cols),
		newGuarantorServer(t, wrong, cols),
		newGuarantorServer(t, serve, cols),
		newGuarantorServer(t, serve, cols), // not a signer
	}
	n := newClusterNet(t, func(i int) string { return servers[i].URL })
	f, m, missing := testFetcher(n.resolver(), FetchConfig{}, nil)
	pl := &payload.Payload{}
	for _, c := range cols {
		pl.Guarantees = append(pl.Guarantees, n.guarantee(t, c, 0, 1, 2))
	}
	txs, ids, err := transactions(f, context.Background(), 1, pl)
	if err != nil {
		t.Fatal(err)
	}
	wantBodies(t, txs, ids, cols...)
	if got := servers[3].asked.Load(); got != 0 {
		t.Fatalf("the non-signer was asked %d times", got)
	}
	if servers[0].asked.Load() == 0 || servers[1].asked.Load() == 0 {
		t.Fatalf("rotation never reached the bad guarantors first (asked %d, %d)", servers[0].asked.Load(), servers[1].asked.Load())
	}
	if got := testutil.ToFloat64(m.fetchFailures.WithLabelValues(ReasonNotFound)); got != float64(servers[0].asked.Load()) {
		t.Fatalf("not_found failures %v, 404s answered %d", got, servers[0].asked.Load())
	}
	if got := testutil.ToFloat64(m.fetchFailures.WithLabelValues(ReasonWrongCollection)); got != float64(servers[1].asked.Load()) {
		t.Fatalf("wrong_collection failures %v, wrong answers %d", got, servers[1].asked.Load())
	}
	if got := testutil.ToFloat64(m.fetched); got != 20 {
		t.Fatalf("fetched %v, want 20", got)
	}
	if len(missing.Open()) != 0 || f.inFlight() != 0 {
		t.Fatalf("missing %v, jobs left %d", missing.Open(), f.inFlight())
	}

	// Only a 404 and a wrong guarantor signed: nothing but them is asked,
	// and the collection is missing, not replaced by the wrong one.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	before := servers[2].asked.Load() + servers[3].asked.Load()
	_, _, err = transactions(f, ctx, 2, &payload.Payload{Guarantees: []*collection.Guarantee{n.guarantee(t, cols[0], 0, 1)}})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("a collection no signer serves was supplied: %v", err)
	}
	if after := servers[2].asked.Load() + servers[3].asked.Load(); after != before {
		t.Fatalf("non-signers asked %d times", after-before)
	}
	// Abandoned at the stop, its record closes as not served.
	waitFor(t, func() bool { return len(missing.Open()) == 0 && len(missing.Resolved()) == 1 })
	if r := missing.Resolved()[0]; r.Served || r.Collection != cols[0].ID() || len(r.Guarantors) != 2 {
		t.Fatalf("closed record %+v", r)
	}
}

// When no guarantor serves a collection the fetcher records the evidence
// (open record naming every guarantor, gauge, metric), keeps asking, and
// supplies it once a guarantor serves it: it never skips a collection.
func TestFetchWaitsForMissingCollection(t *testing.T) {
	cols := testCollections(2)
	servers := []*guarantorServer{
		newGuarantorServer(t, notFound, cols),
		newGuarantorServer(t, notFound, cols),
		newGuarantorServer(t, wrong, cols),
		newGuarantorServer(t, serve, cols), // not a signer
	}
	n := newClusterNet(t, func(i int) string { return servers[i].URL })
	f, m, missing := testFetcher(n.resolver(), FetchConfig{}, nil)
	pl := &payload.Payload{Guarantees: []*collection.Guarantee{n.guarantee(t, cols[0], 0, 1, 2), n.guarantee(t, cols[1], 0, 1, 2)}}
	type result struct {
		txs [][]byte
		ids []model.Identifier
		err error
	}
	done := make(chan result, 1)
	go func() {
		txs, ids, err := transactions(f, context.Background(), 7, pl)
		done <- result{txs, ids, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		open := missing.Open()
		if len(open) == 2 && open[0].Rounds >= 3 && open[1].Rounds >= 3 {
			r := open[0]
			if r.Height != 7 || len(r.Guarantors) != 3 || r.Guarantors[n.members[2].ID().Hex()] != ReasonWrongCollection ||
				r.Guarantors[n.members[0].ID().Hex()] != ReasonNotFound {
				t.Fatalf("evidence %+v", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no evidence of the missing collections: %+v", open)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case r := <-done:
		t.Fatalf("supplied without the collections: %v", r.err)
	default:
	}
	if g := testutil.ToFloat64(m.missing); g != 2 {
		t.Fatalf("missing gauge %v, want 2", g)
	}
	servers[1].behaviour.Store(serve) // a guarantor comes back
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		wantBodies(t, r.txs, r.ids, cols...)
	case <-time.After(10 * time.Second):
		t.Fatal("not supplied after a guarantor came back")
	}
	if g := testutil.ToFloat64(m.missing); g != 0 || len(missing.Open()) != 0 || len(missing.Resolved()) != 2 ||
		missing.Resolved()[0].Resolved.IsZero() || !missing.Resolved()[0].Served {
		t.Fatalf("after: gauge %v, open %v, resolved %v", g, missing.Open(), missing.Resolved())
	}
	if servers[3].asked.Load() != 0 {
		t.Fatal("the non-signer was asked")
	}
}

// At most Parallel requests are in flight, and the collections of the
// next finalized blocks are fetched ahead, then released.
func TestFetchBoundedAndPrefetches(t *testing.T) {
	cols := testCollections(12)
	servers := make([]*guarantorServer, 4)
	flight := &flightCounter{}
	for i := range servers {
		servers[i] = newGuarantorServer(t, serve, cols)
		servers[i].delay = 10 * time.Millisecond
		servers[i].flight = flight
	}
	n := newClusterNet(t, func(i int) string { return servers[i].URL })
	gs := make([]*collection.Guarantee, len(cols))
	for i, c := range cols {
		gs[i] = n.guarantee(t, c, 0, 1, 2, 3)
	}
	// Height 1 holds 8 collections, height 2 the other 4.
	ahead := func(h uint64) ([]*collection.Guarantee, bool) {
		if h == 2 {
			return gs[8:], true
		}
		return nil, false
	}
	f, _, _ := testFetcher(n.resolver(), FetchConfig{Parallel: 2, PrefetchBlocks: 2}, ahead)
	txs, ids, err := transactions(f, context.Background(), 1, &payload.Payload{Guarantees: gs[:8]})
	if err != nil {
		t.Fatal(err)
	}
	wantBodies(t, txs, ids, cols[:8]...)
	if got := flight.max.Load(); got != 2 {
		t.Fatalf("at most %d requests in flight, want 2 (parallel 2, 8 collections)", got)
	}
	if f.inFlight() != 4 {
		t.Fatalf("%d jobs held after height 1, want height 2's 4 prefetched", f.inFlight())
	}
	deadline := time.Now().Add(10 * time.Second)
	for asked(servers) < 12 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := asked(servers); got != 12 {
		t.Fatalf("asked %d times before height 2 executes, want 12 (prefetch)", got)
	}
	txs, ids, err = transactions(f, context.Background(), 2, &payload.Payload{Guarantees: gs[8:]})
	if err != nil {
		t.Fatal(err)
	}
	wantBodies(t, txs, ids, cols[8:]...)
	if got := asked(servers); got != 12 || f.inFlight() != 0 {
		t.Fatalf("asked %d (want no second fetch), %d jobs held", got, f.inFlight())
	}
}

func asked(servers []*guarantorServer) int64 {
	var n int64
	for _, s := range servers {
		n += s.asked.Load()
	}
	return n
}
