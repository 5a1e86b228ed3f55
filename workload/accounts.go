// Package workload makes the signed transactions a test network's load
// sends (floe testnet, the e2e runner): genesis accounts whose keys
// anyone can derive, and a signer that proposes native-token transfers
// between them, one transaction in flight per account key, advancing each
// key's sequence number only once its transaction is in a finalized
// block.
package workload

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/transaction"
)

// Applications a pipeline test network runs.
const (
	// AppAccounts: the accounts VM; the load is signed native-token
	// transfers between many accounts (the default).
	AppAccounts = "accounts"
	// AppKV: the key/value application, unsigned writes; a benchmark
	// application only.
	AppKV = "kv"
)

// Defaults of the accounts load.
const (
	DefaultLoadAccounts   = 128
	DefaultKeysPerAccount = 8
	// ServiceSupply is the service account's genesis balance, and
	// LoadAccountBalance each load account's.
	ServiceSupply      = 1_000_000_000_000_000
	LoadAccountBalance = 1_000_000_000_000
	// loadGasLimit is each load transaction's gas limit: a transfer
	// costs ~2,000 gas.
	loadGasLimit = 20_000
)

// ServiceKeyFile is where a testnet of accounts writes the service
// account's key (relative to its directory), for the CLI.
const ServiceKeyFile = "accounts/service.key"

// Account is an account the load signs for, with its keys.
type Account struct {
	Addr account.Address
	Keys []*account.PrivateKey
}

// Key derives key k of account i (0: the service account): a test
// network's keys are public by construction (anyone can derive them),
// like its node keys.
func Key(i, k int) (*account.PrivateKey, error) {
	seed := sha256.Sum256(fmt.Appendf(nil, "floe testnet account %d key %d", i, k))
	return account.GenerateKey(account.Ed25519, account.HashNone, rand.NewChaCha8(seed))
}

// Setup makes the genesis accounts of a network of accounts: the service
// account (its key written to dir/ServiceKeyFile) and n load accounts
// with keysPer keys each, and returns the load's accounts.
func Setup(dir string, chain model.ChainID, n, keysPer int) (*genesis.Accounts, []Account, error) {
	svc, err := Key(0, 0)
	if err != nil {
		return nil, nil, err
	}
	full := func(k *account.PrivateKey) genesis.KeySpec {
		pub := k.PublicKey()
		pub.Weight = account.Threshold
		return genesis.KeySpecOf(pub)
	}
	ga := &genesis.Accounts{Service: genesis.AccountSpec{Keys: []genesis.KeySpec{full(svc)}, Balance: ServiceSupply}}
	load := make([]Account, n)
	for i := range load {
		addr, err := account.AddressAt(chain, uint64(i)+2)
		if err != nil {
			return nil, nil, err
		}
		spec := genesis.AccountSpec{Balance: LoadAccountBalance}
		la := Account{Addr: addr}
		for k := range keysPer {
			key, err := Key(i+1, k)
			if err != nil {
				return nil, nil, err
			}
			la.Keys = append(la.Keys, key)
			spec.Keys = append(spec.Keys, full(key))
		}
		ga.Accounts = append(ga.Accounts, spec)
		load[i] = la
	}
	path := filepath.Join(dir, ServiceKeyFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, err
	}
	if err := account.SaveKeyFile(path, svc); err != nil {
		return nil, nil, err
	}
	return ga, load, nil
}

// Signer signs the load's transactions: native-token transfers
// between the load accounts. Each (account, key) is a slot with at most
// one transaction in flight: the next is proposed with the following
// sequence number only once the previous one is in a finalized block, so
// it lands in a later block and runs after it (an account with several
// keys runs several transactions at once, as Flow's proposal keys do).
type Signer struct {
	chain model.ChainID
	ref   func() model.Identifier
	accts []Account

	mu       sync.Mutex
	rng      *rand.Rand
	free     []slot
	seq      map[slot]uint64
	inflight map[[32]byte]slot
}

type slot struct{ acct, key int }

// NewSigner signs for accts on chain; ref gives the reference block of
// each transaction.
func NewSigner(chain model.ChainID, accts []Account, ref func() model.Identifier) *Signer {
	l := &Signer{chain: chain, ref: ref, accts: accts, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		seq: map[slot]uint64{}, inflight: map[[32]byte]slot{}}
	for k := range accts[0].Keys {
		for a := range accts {
			l.free = append(l.free, slot{a, k})
		}
	}
	return l
}

// Take signs up to n transactions on free slots (fewer when too few are
// free) and returns them as envelopes with their IDs.
func (l *Signer) Take(n int) ([][]byte, [][32]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n = min(n, len(l.free))
	txs, ids := make([][]byte, 0, n), make([][32]byte, 0, n)
	ref := l.ref()
	for range n {
		s := l.free[len(l.free)-1]
		l.free = l.free[:len(l.free)-1]
		from := l.accts[s.acct]
		to := l.accts[l.rng.IntN(len(l.accts))].Addr
		tx := &transaction.Transaction{Ref: ref, GasLimit: loadGasLimit,
			ProposalKey: transaction.ProposalKey{Address: from.Addr, KeyIndex: uint32(s.key), SeqNum: l.seq[s]},
			Payer:       from.Addr, Authorizers: []account.Address{from.Addr},
			Op: transaction.Transfer{To: to, Amount: 1 + l.rng.Uint64N(100)}}
		if err := tx.SignEnvelope(l.chain, from.Addr, uint32(s.key), from.Keys[s.key]); err != nil {
			l.free = append(l.free, s)
			return txs, ids, err
		}
		env := collection.Tx{Ref: ref, Body: tx.Encode()}
		id := env.ID()
		l.inflight[id] = s
		txs, ids = append(txs, env.Encode()), append(ids, id)
	}
	return txs, ids, nil
}

// Settled frees the slot of transaction id: spent (its block is
// finalized: the sequence number is used) or not (refused, expired).
func (l *Signer) Settled(id [32]byte, spent bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.inflight[id]
	if !ok {
		return
	}
	delete(l.inflight, id)
	if spent {
		l.seq[s]++
	}
	l.free = append(l.free, s)
}

// Slots is how many transactions the load can have in flight.
func (l *Signer) Slots() int { return len(l.accts) * len(l.accts[0].Keys) }
