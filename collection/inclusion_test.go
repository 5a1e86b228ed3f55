package collection_test

import (
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// clustersOf knows one cluster chain, of epoch 0.
type clustersOf map[model.ChainID]*committee.Committee

func (c clustersOf) Cluster(epoch uint64, chain model.ChainID) (*committee.Committee, bool) {
	com, ok := c[chain]
	return com, ok && epoch == 0
}

func TestInclusionCheck(t *testing.T) {
	cl := newCluster(t, crypto.Fast(), 1, 1, 1, 1)
	clusters := clustersOf{cl.chain: cl.com}
	m := collection.Main{Refs: newMain(200, 0), Finalized: 200}
	in := collection.Inclusion{Scheme: crypto.Fast(), Expiry: 50, MaxGuarantees: 3}
	coll := func(tag string) model.Identifier { return crypto.Sum([]byte(tag)) }
	good := cl.guarantee(t, coll("a"), mainID(150), 0, 1, 2)
	good2 := cl.guarantee(t, coll("b"), mainID(160), 1, 2, 3)

	entries, err := in.Check(m, clusters, 190, []*collection.Guarantee{good, good2}, noFork{})
	wantErr(t, "two good guarantees", err, nil)
	if len(entries) != 2 || entries[0] != (collection.Entry{ID: coll("a"), RefHeight: 150}) || entries[1].RefHeight != 160 {
		t.Fatalf("entries %v", entries)
	}

	otherChain := *good
	otherChain.Chain = model.ClusterChain(model.MainChain("test"), 1, 1)
	weak := cl.guarantee(t, coll("c"), mainID(150), 0, 1)
	forged := *cl.guarantee(t, coll("d"), mainID(150), 0, 1, 2)
	forged.CollectionID = coll("e") // the signature is over d
	for _, c := range []struct {
		name   string
		height uint64
		gs     []*collection.Guarantee
		fork   collection.Fork
		want   error
	}{
		{"reference unknown", 190, []*collection.Guarantee{cl.guarantee(t, coll("f"), mainID(201), 0, 1, 2)}, noFork{}, collection.ErrUnknownRef},
		{"expired: reference 150, block 201, expiry 50", 201, []*collection.Guarantee{good}, noFork{}, collection.ErrGuaranteeExpired},
		{"at the edge of expiry", 200, []*collection.Guarantee{good}, noFork{}, nil},
		{"no such cluster", 190, []*collection.Guarantee{&otherChain}, noFork{}, collection.ErrUnknownCluster},
		{"too little weight", 190, []*collection.Guarantee{weak}, noFork{}, collection.ErrTooLittleWeight},
		{"forged collection ID", 190, []*collection.Guarantee{&forged}, noFork{}, collection.ErrBadSignature},
		{"twice in the block", 190, []*collection.Guarantee{good, good}, noFork{}, collection.ErrIncluded},
		{"already on the fork", 190, []*collection.Guarantee{good2, good}, forkOf{coll("a"): true}, collection.ErrIncluded},
		{"too many", 190, []*collection.Guarantee{good, good2, cl.guarantee(t, coll("g"), mainID(150), 0, 1, 2), cl.guarantee(t, coll("h"), mainID(150), 0, 1, 2)}, noFork{}, collection.ErrTooManyGuarantees},
	} {
		_, err := in.Check(m, clusters, c.height, c.gs, c.fork)
		wantErr(t, c.name, err, c.want)
	}
}

// What Select takes, Check accepts; expired candidates are reported so the
// pool can drop them, and ones on the fork are skipped.
func TestInclusionSelect(t *testing.T) {
	cl := newCluster(t, crypto.Fast(), 1, 1, 1, 1)
	clusters := clustersOf{cl.chain: cl.com}
	m := collection.Main{Refs: newMain(200, 0), Finalized: 200}
	in := collection.Inclusion{Scheme: crypto.Fast(), Expiry: 50, MaxGuarantees: 2}
	var pool []collection.Pooled
	for i, ref := range []uint64{100, 150, 150, 170, 180} {
		g := cl.guarantee(t, crypto.Sum([]byte{byte(i)}), mainID(ref), 0, 1, 2)
		h, err := in.CheckOne(m, clusters, 170, g)
		if err != nil && ref != 100 {
			t.Fatal(err)
		}
		pool = append(pool, collection.Pooled{Guarantee: g, RefHeight: h})
	}
	pool[0].RefHeight = 100
	pool = append(pool, pool[1]) // a repeat
	fork := forkOf{pool[2].Guarantee.CollectionID: true}
	take, entries, expiredOnes := in.Select(190, pool, fork, 10)
	if len(expiredOnes) != 1 || expiredOnes[0] != 0 {
		t.Fatalf("expired %v, want candidate 0 (reference 100, block 190, expiry 50)", expiredOnes)
	}
	if len(take) != 2 || take[0] != pool[1].Guarantee || take[1] != pool[3].Guarantee {
		t.Fatalf("took %d guarantees, want candidates 1 and 3 (2 is on the fork, the limit is 2)", len(take))
	}
	if got, err := in.Check(m, clusters, 190, take, fork); err != nil || len(got) != len(entries) {
		t.Fatalf("Check refuses what Select took: %v", err)
	}
	if take, _, _ := in.Select(190, pool, fork, 1); len(take) != 1 {
		t.Fatalf("room 1: took %d", len(take))
	}
}
