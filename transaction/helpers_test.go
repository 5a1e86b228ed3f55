package transaction

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/consensus/model"
)

var (
	chain      = model.MainChain("test")
	otherChain = model.MainChain("other")
)

// world is a fake account state for Check.
type world struct {
	keys    map[account.Address][]account.Key
	signers map[account.Address][]*account.PrivateKey
	lookups int
}

func newWorld() *world {
	return &world{keys: map[account.Address][]account.Key{}, signers: map[account.Address][]*account.PrivateKey{}}
}

// add creates the account at index with one key per weight, cycling
// through the algorithms, keys derived from seed.
func (w *world) add(t testing.TB, index uint64, weights ...uint32) account.Address {
	t.Helper()
	addr, err := account.AddressAt(chain, index)
	if err != nil {
		t.Fatal(err)
	}
	algos := []struct {
		s account.SigAlgo
		h account.HashAlgo
	}{{account.ECDSA_P256, account.SHA3_256}, {account.Ed25519, account.HashNone}, {account.ECDSA_P256, account.SHA2_256}}
	for i, wt := range weights {
		var seed [32]byte
		seed[0], seed[1] = byte(index), byte(i)
		a := algos[(int(index)+i)%len(algos)]
		k, err := account.GenerateKey(a.s, a.h, rand.NewChaCha8(seed))
		if err != nil {
			t.Fatal(err)
		}
		key := k.PublicKey()
		key.Weight = wt
		w.keys[addr] = append(w.keys[addr], key)
		w.signers[addr] = append(w.signers[addr], k)
	}
	return addr
}

func (w *world) lookup(a account.Address) ([]account.Key, error) {
	w.lookups++
	keys, ok := w.keys[a]
	if !ok {
		return nil, fmt.Errorf("%w: %s", account.ErrUnknownAccount, a)
	}
	return keys, nil
}

func (w *world) signPayload(t testing.TB, tx *Transaction, a account.Address, idx uint32) {
	t.Helper()
	if err := tx.SignPayload(chain, a, idx, w.signers[a][idx]); err != nil {
		t.Fatal(err)
	}
}

func (w *world) signEnvelope(t testing.TB, tx *Transaction, a account.Address, idx uint32) {
	t.Helper()
	if err := tx.SignEnvelope(chain, a, idx, w.signers[a][idx]); err != nil {
		t.Fatal(err)
	}
}

// simpleTx: one account (index 2, one full-weight key) proposes, pays and
// authorizes a transfer to index 3.
func simpleTx(t testing.TB, w *world) *Transaction {
	t.Helper()
	a := w.add(t, 2, 1000)
	to, err := account.AddressAt(chain, 3)
	if err != nil {
		t.Fatal(err)
	}
	tx := &Transaction{
		Ref:         model.Identifier{1, 2, 3},
		GasLimit:    1000,
		ProposalKey: ProposalKey{Address: a, KeyIndex: 0, SeqNum: 0},
		Payer:       a,
		Authorizers: []account.Address{a},
		Op:          Transfer{To: to, Amount: 5},
	}
	w.signEnvelope(t, tx, a, 0)
	return tx
}
