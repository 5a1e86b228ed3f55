package collection_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// mainChain is a RefLookup over a made-up finalized main chain: block h
// has ID mainID(h) and epoch h/epochLen.
type mainChain map[model.Identifier][2]uint64 // ID → height, epoch

func mainID(h uint64) model.Identifier {
	return crypto.Sum([]byte("test main block"), binary.BigEndian.AppendUint64(nil, h))
}

// newMain returns blocks 0..top; epochLen 0 puts them all in epoch 0.
func newMain(top, epochLen uint64) mainChain {
	m := mainChain{}
	for h := uint64(0); h <= top; h++ {
		e := uint64(0)
		if epochLen > 0 {
			e = h / epochLen
		}
		m[mainID(h)] = [2]uint64{h, e}
	}
	return m
}

func (m mainChain) RefHeight(id model.Identifier) (uint64, uint64, bool) {
	b, ok := m[id]
	return b[0], b[1], ok
}

// noFork is a fork that holds nothing.
type noFork struct{}

func (noFork) Seen(model.Identifier) bool { return false }

// forkOf is a fork that holds the given transactions.
type forkOf map[model.Identifier]bool

func (f forkOf) Seen(id model.Identifier) bool { return f[id] }

// txFor returns a transaction of cluster index (of k) referencing main
// block ref, its body made unique by tag.
func txFor(t testing.TB, k, index uint32, ref uint64, tag string) collection.Tx {
	t.Helper()
	for n := uint32(0); n < 10_000; n++ {
		tx := collection.Tx{Ref: mainID(ref), Body: binary.BigEndian.AppendUint32([]byte(tag), n)}
		if collection.ClusterOf(tx.ID(), k) == index {
			return tx
		}
	}
	t.Fatalf("no transaction of cluster %d of %d", index, k)
	return collection.Tx{}
}

// wantErr fails unless err wraps want (nil: no error). Every sentinel of
// the package must also wrap ErrInvalid and model.ErrInvalid.
func wantErr(t testing.TB, name string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: unexpected error %v", name, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: error %v, want %v", name, err, want)
	case want != nil && want != collection.ErrFull && want != collection.ErrUnknownBlock &&
		(!errors.Is(err, collection.ErrInvalid) || !errors.Is(err, model.ErrInvalid)):
		t.Errorf("%s: error %v does not wrap ErrInvalid and model.ErrInvalid", name, err)
	}
}

// cluster is a committee of collectors with their keys.
type cluster struct {
	scheme crypto.Scheme
	com    *committee.Committee
	keys   []crypto.PrivateKey // by canonical index
	chain  model.ChainID
}

func newCluster(t testing.TB, s crypto.Scheme, weights ...uint64) *cluster {
	t.Helper()
	byID := map[model.NodeID]crypto.PrivateKey{}
	members := make([]committee.Member, len(weights))
	for i, w := range weights {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(i)+700)
		key, err := s.KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		pop, err := key.ProvePossession()
		if err != nil {
			t.Fatal(err)
		}
		id := crypto.Sum(key.PublicKey().Bytes())
		byID[id] = key
		members[i] = committee.Member{ID: id, Weight: w, StakingKey: key.PublicKey(), Possession: pop}
	}
	com, err := committee.New(members, [32]byte{9})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{scheme: s, com: com, chain: model.ClusterChain(model.MainChain("test"), 1, 0)}
	for _, m := range com.Members() {
		c.keys = append(c.keys, byID[m.ID])
	}
	return c
}

// share is member i's share over (collection, ref) on the cluster's chain.
func (c *cluster) share(t testing.TB, i int, collectionID, ref model.Identifier) collection.Share {
	t.Helper()
	sig, err := collection.SignShare(c.keys[i], collectionID, ref, c.chain)
	if err != nil {
		t.Fatal(err)
	}
	return collection.Share{CollectionID: collectionID, Ref: ref, Signer: c.com.Member(i).ID, Signature: sig}
}

// guarantee signs (collection, ref) by the members at indices.
func (c *cluster) guarantee(t testing.TB, collectionID, ref model.Identifier, indices ...int) *collection.Guarantee {
	t.Helper()
	signers, err := model.NewSignerSet(c.com.Size())
	if err != nil {
		t.Fatal(err)
	}
	var sigs [][]byte
	for _, i := range indices {
		signers.Set(i)
		sigs = append(sigs, c.share(t, i, collectionID, ref).Signature)
	}
	agg, err := c.scheme.AggregateSignatures(sigs)
	if err != nil {
		t.Fatal(err)
	}
	return &collection.Guarantee{CollectionID: collectionID, Ref: ref, Chain: c.chain, Signers: signers, Signature: agg}
}
