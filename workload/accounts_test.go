package workload

import (
	"testing"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/transaction"
)

// The signer's transactions are authorized by the genesis keys, each
// slot has one in flight, and a slot's next transaction carries the next
// sequence number only once the previous one was spent.
func TestSignerSlotsAndSequenceNumbers(t *testing.T) {
	chain := model.MainChain("workload-test")
	ga, accts, err := Setup(t.TempDir(), chain, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[account.Address][]account.Key{}
	for i, spec := range ga.Accounts {
		ks, err := spec.DecodedKeys()
		if err != nil {
			t.Fatal(err)
		}
		keys[accts[i].Addr] = ks
	}
	s := NewSigner(chain, accts, func() model.Identifier { return model.Identifier{9} })
	txs, ids, err := s.Take(100)
	if err != nil || len(txs) != s.Slots() || s.Slots() != 6 {
		t.Fatalf("took %d of %d slots: %v", len(txs), s.Slots(), err)
	}
	if more, _, _ := s.Take(1); len(more) != 0 {
		t.Fatal("a slot gave a second transaction in flight")
	}
	decode := func(raw []byte) *transaction.Transaction {
		env, err := collection.DecodeTx(raw, collection.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		tx, err := transaction.Decode(env.Body)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	for i, raw := range txs {
		tx := decode(raw)
		if tx.ProposalKey.SeqNum != 0 {
			t.Fatalf("first sequence number %d", tx.ProposalKey.SeqNum)
		}
		v := transaction.Check(tx, chain, func(a account.Address) ([]account.Key, error) { return keys[a], nil }, 1)
		if !v.Authorized() {
			t.Fatalf("transaction %d not authorized: %v", i, v.Err)
		}
	}
	first := decode(txs[0]).ProposalKey
	s.Settled(ids[0], true) // spent: the slot's next is sequence number 1
	s.Settled(ids[1], false)
	s.Settled(ids[0], true) // a repeat changes nothing
	again, _, _ := s.Take(10)
	if len(again) != 2 {
		t.Fatalf("%d slots free after two settled", len(again))
	}
	for _, raw := range again {
		pk := decode(raw).ProposalKey
		want := uint64(0)
		if pk.Address == first.Address && pk.KeyIndex == first.KeyIndex {
			want = 1
		}
		if pk.SeqNum != want {
			t.Fatalf("slot %v/%d: sequence number %d, want %d", pk.Address, pk.KeyIndex, pk.SeqNum, want)
		}
	}
}
