package collector

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/network"
	"github.com/floe-bft/floe/storage"
)

func refID(h uint64) model.Identifier {
	return crypto.Sum([]byte("main"), binary.BigEndian.AppendUint64(nil, h))
}

func soloCluster(t *testing.T) (*Cluster, *model.Block) {
	t.Helper()
	k, err := crypto.Fast().KeyFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	pop, err := k.ProvePossession()
	if err != nil {
		t.Fatal(err)
	}
	id := crypto.Sum(k.PublicKey().Bytes())
	com, err := committee.New([]committee.Member{{ID: id, Weight: 1, StakingKey: k.PublicKey(), Possession: pop}}, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	chain := model.ClusterChain(model.ChainID{1}, 1, 0)
	main := NewRefs(1000)
	for h := uint64(1); h <= 100; h++ {
		if err := main.Finalized(refID(h), h, 1); err != nil {
			t.Fatal(err)
		}
	}
	c, err := New(Config{
		Self: id, Key: k, Scheme: crypto.Fast(), Chain: chain, Committee: com,
		Rules: collection.Rules{Expiry: 50, Limits: collection.DefaultLimits(), K: 1, Index: 0, Epoch: 1},
		Main:  main, Store: storage.NewMemory(), Transport: network.NewMemoryNetwork().Transport(id),
		Timeouts: pacemaker.DefaultConfig(), BlockInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	root, err := model.NewRootBlock(chain, 0, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, root
}

func child(t *testing.T, parent *model.Block, view model.View, p *collection.Payload) *model.Block {
	t.Helper()
	signers, err := model.NewSignerSet(1)
	if err != nil {
		t.Fatal(err)
	}
	signers.Set(0)
	payload := p.Encode()
	b, err := model.NewBlock(model.Header{
		ChainID: parent.ChainID, View: view, Height: parent.Height + 1, ParentID: parent.ID(),
		QC:          &model.QC{View: parent.View, BlockID: parent.ID(), Signers: signers, Signature: []byte{1}},
		PayloadHash: model.PayloadHash(payload),
	}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The fork rule is what keeps a transaction out of two collections: a
// block repeating a transaction its fork already collected is refused,
// while a block on another fork may carry it.
func TestValidateRefusesATransactionItsForkCollected(t *testing.T) {
	c, root := soloCluster(t)
	x := collection.Tx{Ref: refID(90), Body: []byte("pay 1")}
	withX := &collection.Payload{Ref: refID(100), Collection: collection.NewCollection([]collection.Tx{x})}
	a := child(t, root, 1, withX)
	if err := (*payloads)(c).Validate(a, root); err != nil {
		t.Fatalf("first collection of x refused: %v", err)
	}
	if err := c.chain.Add(a); err != nil {
		t.Fatal(err)
	}
	b := child(t, a, 2, withX)
	if err := (*payloads)(c).Validate(b, a); !errors.Is(err, collection.ErrSeen) || !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("x again on a's fork: err %v, want ErrSeen (invalid)", err)
	}
	sibling := child(t, root, 1, &collection.Payload{Ref: refID(99), Collection: withX.Collection}) // another fork at the same view
	if err := (*payloads)(c).Validate(sibling, root); err != nil {
		t.Fatalf("x on another fork refused: %v", err)
	}
	// The proposer's side leaves it out too.
	if err := c.pool.add(x); err != nil {
		t.Fatal(err)
	}
	p, err := collection.DecodePayload((*payloads)(c).Build(3, a), c.cfg.Rules.Limits)
	if err != nil {
		t.Fatal(err)
	}
	if p.Collection.Len() != 0 {
		t.Fatalf("leader extending a collected x again: %d transactions", p.Collection.Len())
	}
}

// A leader waiting out the block interval proposes at once when its pool
// holds a full collection beyond what the fork's unfinalized blocks
// already carry, and not before: a pool whose transactions are all in
// unfinalized blocks does not fill the next one.
func TestFullCountsOnlyWhatTheForkDoesNotCarry(t *testing.T) {
	c, root := soloCluster(t)
	max := c.cfg.Rules.Limits.MaxTxs
	txs := make([]collection.Tx, max)
	for i := range txs {
		txs[i] = collection.Tx{Ref: refID(90), Body: binary.BigEndian.AppendUint64([]byte("tx "), uint64(i))}
		if err := c.pool.add(txs[i]); err != nil {
			t.Fatal(err)
		}
	}
	p := (*payloads)(c)
	if !p.Full(root) {
		t.Fatalf("%d pooled transactions, none on the fork: not full", max)
	}
	a := child(t, root, 1, &collection.Payload{Ref: refID(100), Collection: collection.NewCollection(txs[:1])})
	if err := p.Validate(a, root); err != nil {
		t.Fatal(err)
	}
	if err := c.chain.Add(a); err != nil {
		t.Fatal(err)
	}
	if p.Full(a) {
		t.Fatalf("full extending a block that carries one of the %d pooled transactions", max)
	}
	if !p.Full(root) {
		t.Fatal("the other fork's block counted against root")
	}
}
