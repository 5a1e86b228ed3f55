// Package mempool holds transactions between their submission and their
// finalization: bounded in count and bytes, deduplicated (also against
// recently finalized transactions), and handed to the local proposer in
// arrival order.
//
// A transaction's life: Add puts it in the pending queue. Reap hands it to
// a proposal of this node and marks it in flight, so the next proposal does
// not repeat it while the first may still be finalized (MarkInFlight does
// the same for transactions seen in other leaders' pending blocks). Remove drops it
// when a block holding it (anyone's) is finalized, and remembers its ID so
// a late resubmission is a duplicate. Release or ReleaseInFlight put
// in-flight transactions back, in their original order, when the proposal
// that carried them will not be finalized.
package mempool

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/floe-bft/floe/app"
)

// Errors Add returns (wrapped with details). A transaction the check
// function rejects yields an error wrapping app.ErrInvalidTx instead.
var (
	// ErrDuplicate: the transaction is already held or was recently
	// finalized.
	ErrDuplicate = errors.New("duplicate transaction")
	// ErrPending: a duplicate that the pool still holds. Resubmitting a
	// pending transaction is harmless, so nodes report it as accepted.
	// Errors wrapping it also wrap ErrDuplicate.
	ErrPending = errors.New("already pending")
	// ErrFinalized: a duplicate of a recently finalized transaction. Errors
	// wrapping it also wrap ErrDuplicate.
	ErrFinalized = errors.New("already finalized")
	// ErrFull: holding the transaction would exceed MaxTxs or MaxBytes.
	// Clients should retry later; the pool drains as blocks finalize.
	ErrFull = errors.New("mempool full")
	// ErrTooLarge: the transaction exceeds MaxTxBytes.
	ErrTooLarge = errors.New("transaction too large")
)

// Config bounds the pool. Zero fields take the defaults below.
type Config struct {
	MaxTxs     int // transactions held (pending and in flight); default 100,000
	MaxBytes   int // their total size; default 64 MiB
	MaxTxBytes int // one transaction's size; default 1 MiB (the node sets the application's limit)
	// RecentTxs is how many finalized transaction IDs are remembered to
	// reject resubmissions; default 200,000 (8 bytes each, plus the map).
	RecentTxs int
}

// Defaults for zero Config fields.
const (
	DefaultMaxTxs     = 100_000
	DefaultMaxBytes   = 64 << 20
	DefaultMaxTxBytes = 1 << 20
	DefaultRecentTxs  = 200_000
)

// maxMisses bounds how many transactions that do not fit Reap skips before
// it stops: it keeps filling a block around a large transaction without
// scanning the whole queue once the block is nearly full.
const maxMisses = 64

// ID is a transaction's identifier: SHA-256 of its bytes, as in
// storage.TxResult.
type ID = [32]byte

type entry struct {
	tx         []byte
	id         ID
	seq        uint64 // arrival order
	prev, next *entry
}

// list is an intrusive doubly linked list of entries; each entry is in at
// most one list.
type list struct {
	head, tail *entry
	n          int
}

func (l *list) pushBack(e *entry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

// insertBefore inserts e before at (at nil: at the back).
func (l *list) insertBefore(e, at *entry) {
	if at == nil {
		l.pushBack(e)
		return
	}
	e.next, e.prev = at, at.prev
	if at.prev != nil {
		at.prev.next = e
	} else {
		l.head = e
	}
	at.prev = e
	l.n++
}

func (l *list) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
	l.n--
}

// Mempool is a bounded transaction pool, safe for concurrent use.
type Mempool struct {
	cfg   Config
	check func([]byte) error

	mu      sync.Mutex
	byID    map[ID]*entry
	pending list // in arrival order
	bytes   int
	seq     uint64

	// recent is a ring of finalized IDs with a set over it: bounded memory,
	// oldest forgotten first. It holds 64-bit prefixes of the IDs: a quarter
	// of the memory and cache misses of full IDs, and since IDs are SHA-256
	// outputs, a client can make its transaction look finalized only by
	// finding a 64-bit partial preimage (and a chance collision is about
	// 2^-46 per lookup).
	recent    []uint64
	recentPos int
	recentSet map[uint64]struct{}
}

// New returns an empty pool. check validates a transaction before it is
// admitted (the application's CheckTx); nil admits everything.
func New(cfg Config, check func([]byte) error) *Mempool {
	if cfg.MaxTxs <= 0 {
		cfg.MaxTxs = DefaultMaxTxs
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxTxBytes <= 0 {
		cfg.MaxTxBytes = DefaultMaxTxBytes
	}
	if cfg.RecentTxs <= 0 {
		cfg.RecentTxs = DefaultRecentTxs
	}
	return &Mempool{
		cfg:       cfg,
		check:     check,
		byID:      make(map[ID]*entry),
		recentSet: make(map[uint64]struct{}),
	}
}

// Add validates tx and queues a copy of it. It returns the transaction's
// ID, also with ErrDuplicate (so a client resubmitting learns the ID it
// tracks). Hashing and the check run outside the lock, so concurrent
// submitters only serialize on the bookkeeping.
func (m *Mempool) Add(tx []byte) (ID, error) {
	if len(tx) > m.cfg.MaxTxBytes {
		return ID{}, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(tx), m.cfg.MaxTxBytes)
	}
	id := sha256.Sum256(tx)
	if m.check != nil {
		if err := m.check(tx); err != nil {
			if !errors.Is(err, app.ErrInvalidTx) {
				err = fmt.Errorf("%w: %w", app.ErrInvalidTx, err)
			}
			return id, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byID[id]; ok {
		return id, fmt.Errorf("%w: %x is %w", ErrDuplicate, id[:8], ErrPending)
	}
	if _, ok := m.recentSet[prefix(id)]; ok {
		return id, fmt.Errorf("%w: %x is %w", ErrDuplicate, id[:8], ErrFinalized)
	}
	if len(m.byID) >= m.cfg.MaxTxs || m.bytes+len(tx) > m.cfg.MaxBytes {
		return id, fmt.Errorf("%w: %d transactions, %d bytes", ErrFull, len(m.byID), m.bytes)
	}
	m.seq++
	e := &entry{tx: bytes.Clone(tx), id: id, seq: m.seq}
	m.byID[id] = e
	m.pending.pushBack(e)
	m.bytes += len(tx)
	return id, nil
}

// Reap is ReapMax without a count limit or skips.
func (m *Mempool) Reap(maxBytes int) [][]byte {
	return m.ReapMax(maxBytes, 0, nil)
}

// ReapMax returns held transactions, oldest first, such that EncodePayload
// of the result is at most maxBytes long and holds at most maxTxs
// transactions (maxTxs ≤ 0: no count limit), leaving out those skip
// reports (nil: none) — the node skips what the chain it builds on already
// carries. Reaping does not take transactions out of the pool: they leave
// it when a block carrying them is finalized (Remove), and until then a
// leader building on another fork may propose them again. A transaction
// that does not fit is skipped and a later, smaller one may be taken.
//
// The returned slices are the pool's own copies; callers must not modify
// them.
func (m *Mempool) ReapMax(maxBytes, maxTxs int, skip func(ID) bool) [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	used, misses := 4, 0 // the count prefix, paid once any tx is taken
	for e := m.pending.head; e != nil; e = e.next {
		if maxTxs > 0 && len(out) >= maxTxs {
			break
		}
		if skip != nil && skip(e.id) {
			continue
		}
		if used+4+len(e.tx) > maxBytes {
			if misses++; misses >= maxMisses || maxBytes-used < 5 {
				break
			}
			continue
		}
		used += 4 + len(e.tx)
		out = append(out, e.tx)
	}
	return out
}

// Remove drops finalized transactions (held or not) and remembers their
// IDs so that Add rejects them as duplicates. The node calls it with the
// IDs of every finalized block's transactions.
func (m *Mempool) Remove(ids []ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if e, ok := m.byID[id]; ok {
			m.pending.remove(e)
			delete(m.byID, id)
			m.bytes -= len(e.tx)
		}
		m.remember(id)
	}
}

func prefix(id ID) uint64 { return binary.BigEndian.Uint64(id[:8]) }

func (m *Mempool) remember(id ID) {
	p := prefix(id)
	if _, ok := m.recentSet[p]; ok {
		return
	}
	if len(m.recent) < m.cfg.RecentTxs {
		m.recent = append(m.recent, p)
	} else {
		delete(m.recentSet, m.recent[m.recentPos])
		m.recent[m.recentPos] = p
		m.recentPos = (m.recentPos + 1) % m.cfg.RecentTxs
	}
	m.recentSet[p] = struct{}{}
}

// Known reports, without adding anything, whether the pool holds id
// (ErrPending) or remembers it finalized (ErrFinalized), both wrapping
// ErrDuplicate; nil if neither. It answers from memory, so a node checks
// it before anything slower.
func (m *Mempool) Known(id ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byID[id]; ok {
		return fmt.Errorf("%w: %x is %w", ErrDuplicate, id[:8], ErrPending)
	}
	if _, ok := m.recentSet[prefix(id)]; ok {
		return fmt.Errorf("%w: %x is %w", ErrDuplicate, id[:8], ErrFinalized)
	}
	return nil
}

// Has reports whether the pool holds the transaction.
func (m *Mempool) Has(id ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.byID[id]
	return ok
}

// Size returns the number and total bytes of the transactions held.
func (m *Mempool) Size() (count, bytes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID), m.bytes
}
