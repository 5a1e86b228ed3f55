package collector_test

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/network"
	"github.com/floe-bft/floe/role/collector"
	"github.com/floe-bft/floe/storage"
)

func mainID(h uint64) model.Identifier {
	return crypto.Sum([]byte("main block"), binary.BigEndian.AppendUint64(nil, h))
}

// mainChain is a main chain finalized up to height latest, all in epoch 1.
func mainChain(t *testing.T, latest uint64) *collector.Refs {
	t.Helper()
	r := collector.NewRefs(1000)
	for h := uint64(1); h <= latest; h++ {
		if err := r.Finalized(mainID(h), h, 1); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

type member struct {
	key crypto.PrivateKey
	id  model.NodeID
}

func newCluster(t *testing.T, n int) ([]member, *committee.Committee) {
	t.Helper()
	ms := make([]member, n)
	cms := make([]committee.Member, n)
	for i := range ms {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(i)+100)
		k, err := crypto.BLS().KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		pop, err := k.ProvePossession()
		if err != nil {
			t.Fatal(err)
		}
		id := crypto.Sum(k.PublicKey().Bytes())
		ms[i] = member{k, id}
		cms[i] = committee.Member{ID: id, Weight: 1, StakingKey: k.PublicKey(), Possession: pop}
	}
	com, err := committee.New(cms, crypto.Sum([]byte("cluster test seed")))
	if err != nil {
		t.Fatal(err)
	}
	return ms, com
}

// runCluster starts n collectors of one cluster over an in-memory network.
func runCluster(t *testing.T, n int, main collector.MainView, rules collection.Rules) ([]*collector.Cluster, *committee.Committee, model.ChainID) {
	t.Helper()
	stores := make([]*storage.Memory, n)
	for i := range stores {
		stores[i] = storage.NewMemory()
	}
	cls, com, chain, stop := runClusterOn(t, stores, main, rules)
	t.Cleanup(stop)
	return cls, com, chain
}

// runClusterOn starts collectors on the given stores (a restart when they
// hold a chain); stop stops them and waits.
func runClusterOn(t *testing.T, stores []*storage.Memory, main collector.MainView, rules collection.Rules) ([]*collector.Cluster, *committee.Committee, model.ChainID, func()) {
	t.Helper()
	n := len(stores)
	ms, com := newCluster(t, n)
	chain := model.ClusterChain(model.ChainID{7}, rules.Epoch, rules.Index)
	net := network.NewMemoryNetwork()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	cls := make([]*collector.Cluster, n)
	for i, m := range ms {
		tr := net.Transport(m.id)
		c, err := collector.New(collector.Config{
			Self: m.id, Key: m.key, Scheme: crypto.BLS(), Chain: chain, Committee: com, Rules: rules,
			Main: main, Store: stores[i], Transport: tr,
			Timeouts:      pacemaker.Config{Min: 300 * time.Millisecond, Max: 2 * time.Second, HappyPathFailedViews: 6, Increase: 1.2},
			BlockInterval: 20 * time.Millisecond, IdleInterval: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		cls[i] = c
		c.Start(ctx, func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }, func(err error) { t.Errorf("cluster replica failed: %v", err) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case in, ok := <-tr.Receive():
					if !ok {
						return
					}
					c.Handle(in.From, in.Data)
				}
			}
		}()
	}
	return cls, com, chain, stop
}

func testRules() collection.Rules {
	return collection.Rules{Expiry: 50, Limits: collection.DefaultLimits(), K: 1, Index: 0, Epoch: 1}
}

func tx(ref uint64, i int) collection.Tx {
	return collection.Tx{Ref: mainID(ref), Body: binary.BigEndian.AppendUint32([]byte("transfer "), uint32(i))}
}

// A cluster collects every transaction submitted to it exactly once, even
// when each is sent to every member (access nodes send to two; every
// leader holding every transaction is the hardest case), and certifies
// each collection with a guarantee that verifies with one aggregate
// check; the guarantors serve the collection by ID.
func TestClusterGuaranteesEveryTransactionOnce(t *testing.T) {
	main := mainChain(t, 100)
	cls, com, chain := runCluster(t, 4, main, testRules())
	const n = 300
	want := map[model.Identifier]bool{}
	for i := range n {
		x := tx(90, i)
		want[x.ID()] = true
		for _, c := range cls {
			if err := c.Submit(x); err != nil {
				t.Fatalf("submit %d: %v", i, err)
			}
		}
	}
	// Expired (reference 10, expiry 50, newest main block 100): the rules
	// skip it and the pool drops it; it must never be collected.
	expired := tx(10, n)
	if err := cls[0].Submit(expired); err != nil {
		t.Fatal(err)
	}

	seenTx := map[model.Identifier]model.Identifier{} // tx → collection
	seenColl := map[model.Identifier]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(seenTx) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		for _, c := range cls {
			for _, g := range c.Guarantees() {
				if err := collection.Verify(crypto.BLS(), g, chain, com); err != nil {
					t.Fatalf("guarantee for %v does not verify: %v", g.CollectionID, err)
				}
				if g.Ref != mainID(100) {
					t.Fatalf("guarantee references %v, want the newest main block", g.Ref)
				}
				if seenColl[g.CollectionID] {
					continue // every member forms the same guarantee
				}
				seenColl[g.CollectionID] = true
				var col *collection.Collection
				for _, d := range cls {
					if x, ok := d.Collection(g.CollectionID); ok {
						col = x
						break
					}
				}
				if col == nil || col.ID() != g.CollectionID {
					t.Fatalf("no guarantor serves collection %v", g.CollectionID)
				}
				for _, id := range col.TxIDs() {
					if prev, dup := seenTx[id]; dup {
						t.Fatalf("transaction %v collected twice: collections %v and %v", id, prev, g.CollectionID)
					}
					if !want[id] {
						t.Fatalf("collection %v holds transaction %v nobody submitted valid", g.CollectionID, id)
					}
					seenTx[id] = g.CollectionID
				}
			}
		}
	}
	if len(seenTx) != n {
		t.Fatalf("%d of %d transactions guaranteed", len(seenTx), n)
	}
	if len(seenColl) < n/collection.DefaultMaxTxs {
		t.Fatalf("%d collections for %d transactions: collections exceed the limit", len(seenColl), n)
	}
	for _, c := range cls {
		if p := c.Pending(); p != 0 {
			t.Fatalf("a collector still holds %d transactions (collected or expired ones must leave)", p)
		}
	}
}

func TestSubmitRefusesAnotherClustersTransaction(t *testing.T) {
	main := mainChain(t, 100)
	rules := testRules()
	rules.K, rules.Index = 2, 0
	cls, _, _ := runCluster(t, 4, main, rules)
	for i := range 50 {
		x := tx(90, i)
		err := cls[0].Submit(x)
		if collection.ClusterOf(x.ID(), 2) == 0 {
			if err != nil {
				t.Fatalf("own transaction refused: %v", err)
			}
		} else if !errors.Is(err, collection.ErrWrongCluster) {
			t.Fatalf("another cluster's transaction: err %v, want ErrWrongCluster", err)
		}
	}
}

// guaranteed collects guarantees from every member until want
// transactions are covered or the deadline passes; it fails on a
// transaction guaranteed twice.
func guaranteed(t *testing.T, cls []*collector.Cluster, seen map[model.Identifier]bool, want int, d time.Duration) {
	t.Helper()
	colls := map[model.Identifier]bool{}
	for deadline := time.Now().Add(d); len(seen) < want && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		for _, c := range cls {
			for _, g := range c.Guarantees() {
				if colls[g.CollectionID] {
					continue
				}
				colls[g.CollectionID] = true
				col, ok := c.Collection(g.CollectionID)
				if !ok {
					t.Fatalf("guarantor does not serve collection %v", g.CollectionID)
				}
				for _, id := range col.TxIDs() {
					if seen[id] {
						t.Fatalf("transaction %v collected twice", id)
					}
					seen[id] = true
				}
			}
		}
	}
}

// After every collector restarts (from its store), the no-repeat index is
// rebuilt from the finalized chain: the same transactions submitted again
// are not collected again, while new ones are.
func TestRestartKeepsCollectedTransactionsOut(t *testing.T) {
	main := mainChain(t, 100)
	stores := []*storage.Memory{storage.NewMemory(), storage.NewMemory(), storage.NewMemory(), storage.NewMemory()}
	cls, _, _, stop := runClusterOn(t, stores, main, testRules())
	seen := map[model.Identifier]bool{}
	for i := range 150 {
		for _, c := range cls {
			if err := c.Submit(tx(90, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	guaranteed(t, cls, seen, 150, 20*time.Second)
	if len(seen) != 150 {
		t.Fatalf("%d of 150 guaranteed before the restart", len(seen))
	}
	stop()

	cls, _, _, stop = runClusterOn(t, stores, main, testRules())
	defer stop()
	for i := range 200 { // 150 old, 50 new
		for _, c := range cls {
			if err := c.Submit(tx(90, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// guaranteed fails on any old transaction guaranteed again; it
	// returns once the 50 new ones are in.
	guaranteed(t, cls, seen, 200, 20*time.Second)
	if len(seen) != 200 {
		t.Fatalf("%d of 200 guaranteed after the restart", len(seen))
	}
	// The resubmitted ones are collected for good: each member drops them
	// from its pool when it next leads (Index.Final), instead of holding
	// them until they expire.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left := 0
		for _, c := range cls {
			left += c.Pending()
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d resubmitted transactions still pending after they were collected", left)
		}
	}
}
