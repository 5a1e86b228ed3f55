// Package kvstore is floe's built-in application: a key-value store whose
// state is committed to by a sparse Merkle tree (package app/merkle), so
// that a light client holding only a state root can check any key's value,
// or its absence, with a proof.
//
// The store keeps the whole state in memory: a map from key to value for
// reads, and the tree over (SHA-256(key), SHA-256(value)) for the root and
// proofs. It persists nothing itself (app.Application): Execute returns the
// writes, the node stores them, and New rebuilds the memory from them at
// start-up.
package kvstore

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/floe-bft/floe/app"
	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/storage"
)

// ReasonKeyNotFound is the Result.Error of a delete of an absent key.
const ReasonKeyNotFound = "key not found"

// Store is the key-value application. Execute must be called from one
// goroutine (the node's execution loop); Get, Prove, Root and Len may be
// called concurrently with it (RPC handlers) and see the state before or
// after a whole block, never half of one.
type Store struct {
	mu sync.RWMutex
	// values is keyed by the key's Merkle key hash (computed anyway), not
	// by the key as a string: inserting a string-keyed entry allocates the
	// key, and at full load that was 5% of a node's CPU.
	values map[[32]byte][]byte
	tree   *merkle.Tree

	// Scratch reused by Execute, so a block costs no slice growth.
	pending []pendingWrite
	ops     []merkle.Op
}

// pendingWrite is one successful transaction's effect, kept until the end
// of the block so the writes and the tree batch can take the last write
// per key.
type pendingWrite struct {
	keyHash merkle.Hash
	seq     int    // position in the block: orders writes to the same key
	key     []byte // aliases the transaction
	value   []byte // the stored copy; nil deletes
}

var _ app.Application = (*Store)(nil)

// rebuildBatch bounds the tree batch used at start-up, so rebuilding a
// million keys does not need a million-entry op slice on top of the state.
const rebuildBatch = 1 << 16

// New returns a store holding what initial yields (nil: empty). The node
// passes storage.AppStore.Iterate, so the store starts from the persisted
// state; the caller should compare Root with the state root it stored for
// the last executed height. Keys and values are copied (iterators reuse
// their buffers). A key or value the store could never have written fails
// with storage.ErrCorrupt.
func New(initial func(yield func(key, value []byte) error) error) (*Store, error) {
	s := &Store{values: make(map[[32]byte][]byte), tree: merkle.New()}
	if initial == nil {
		return s, nil
	}
	ops := make([]merkle.Op, 0, rebuildBatch)
	err := initial(func(key, value []byte) error {
		if len(key) == 0 || len(key) > MaxKeySize || len(value) == 0 || len(value) > MaxValueSize {
			return fmt.Errorf("%w: state entry with a %d-byte key and a %d-byte value", storage.ErrCorrupt, len(key), len(value))
		}
		s.values[merkle.KeyHash(key)] = bytes.Clone(value)
		ops = append(ops, merkle.Op{Key: merkle.KeyHash(key), Value: merkle.ValueHash(value)})
		if len(ops) == rebuildBatch {
			s.tree.Update(ops)
			ops = ops[:0]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.tree.Update(ops)
	return s, nil
}

// CheckTx accepts exactly the transactions Decode accepts. It is stateless
// on purpose: whether a delete finds its key depends on the transactions
// ordered before it, which only Execute knows.
func (s *Store) CheckTx(tx []byte) error {
	_, err := Decode(tx)
	return err
}

// Execute applies txs in order; each sees the effects of those before it.
// A transaction that does not decode, or deletes an absent key, fails with
// a reason and changes nothing. The writes hold the last write per key in
// the block, sorted by key hash (a deterministic order); their Value slices
// are the store's own and must not be modified. height is not used: the
// node executes heights in order.
func (s *Store) Execute(height uint64, txs [][]byte) ([]app.Result, []storage.KV, [32]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	results := make([]app.Result, len(txs))
	pending := s.pending[:0]
	for i, raw := range txs {
		tx, err := Decode(raw)
		if err != nil {
			results[i].Error = err.Error()
			continue
		}
		w := pendingWrite{seq: i, key: tx.Key, keyHash: merkle.KeyHash(tx.Key)}
		if tx.Op == OpDelete {
			if _, ok := s.values[w.keyHash]; !ok {
				results[i].Error = ReasonKeyNotFound
				continue
			}
			delete(s.values, w.keyHash)
		} else {
			w.value = bytes.Clone(tx.Value)
			s.values[w.keyHash] = w.value
		}
		pending = append(pending, w)
		results[i].OK = true
	}
	s.pending = pending

	// Sort by key hash, then position, and keep the last write per key:
	// the tree gets one op per key and the node one write per key.
	slices.SortFunc(pending, func(a, b pendingWrite) int {
		if c := bytes.Compare(a.keyHash[:], b.keyHash[:]); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	ops := s.ops[:0]
	writes := make([]storage.KV, 0, len(pending))
	for i := range pending {
		w := &pending[i]
		if i+1 < len(pending) && pending[i+1].keyHash == w.keyHash {
			continue
		}
		op := merkle.Op{Key: w.keyHash, Delete: w.value == nil}
		if w.value != nil {
			op.Value = merkle.ValueHash(w.value)
		}
		ops = append(ops, op)
		writes = append(writes, storage.KV{Key: bytes.Clone(w.key), Value: w.value})
		*w = pendingWrite{} // drop references to the block's transactions
	}
	root := s.tree.Update(ops)
	s.ops = ops
	return results, writes, root, nil
}

// Root is the current state root (merkle.Empty for an empty store).
func (s *Store) Root() [32]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tree.Root()
}

// Get returns a copy of key's current value, and whether it is present.
func (s *Store) Get(key []byte) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.values[merkle.KeyHash(key)]
	return bytes.Clone(v), ok
}

// Len is the number of keys.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.values)
}

// Prove returns key's value (nil if absent) and an encoded merkle.Proof of
// it against the current Root, which merkle.Verify checks. Both come from
// the same state: Execute cannot run in between.
func (s *Store) Prove(key []byte) ([]byte, []byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := bytes.Clone(s.values[merkle.KeyHash(key)])
	return v, s.tree.Prove(merkle.KeyHash(key)).Encode(), nil
}

// ParseAssignment encodes "KEY=VALUE" as a set transaction with a random
// nonce, so that the same assignment sent twice is two transactions (what
// 'floe tx send' submits).
func ParseAssignment(arg string) ([]byte, error) {
	key, value, ok := strings.Cut(arg, "=")
	if !ok || key == "" || value == "" {
		return nil, fmt.Errorf("argument must be KEY=VALUE with a non-empty key and value")
	}
	if len(key) > MaxKeySize || len(value) > MaxValueSize {
		return nil, fmt.Errorf("key at most %d bytes, value at most %d bytes", MaxKeySize, MaxValueSize)
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return EncodeSet([]byte(key), []byte(value), nonce), nil
}
