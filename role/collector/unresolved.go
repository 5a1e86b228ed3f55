package collector

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

// ErrTooManyUnresolved: too many accepted transactions wait for reference
// blocks this node has not followed yet; retry later.
var ErrTooManyUnresolved = errors.New("too many transactions wait for unknown reference blocks, retry later")

// unresolved bounds the transactions a collector took whose reference
// block it had not followed yet. A reference a moment newer than this
// node's view of the main chain is normal (the submitter follows the chain
// too, a little ahead); a reference that is no finalized block would sit
// in the pool for ever. So such transactions are accepted only while there
// is room here, and one whose reference is still unknown after grace
// leaves the pool.
type unresolved struct {
	mu    sync.Mutex
	max   int
	grace time.Duration
	txs   map[model.Identifier]unresolvedTx
}

type unresolvedTx struct {
	ref model.Identifier
	at  time.Time
	c   *Cluster
}

// Unresolved-reference bounds: how many may wait, and for how long.
const (
	defaultMaxUnresolved = 10_000
	unresolvedGrace      = 30 * time.Second
)

func newUnresolved(max int, grace time.Duration) *unresolved {
	return &unresolved{max: max, grace: grace, txs: map[model.Identifier]unresolvedTx{}}
}

// reserve checks there is room for one more.
func (u *unresolved) reserve() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.txs) >= u.max {
		return fmt.Errorf("%w: %d waiting", ErrTooManyUnresolved, len(u.txs))
	}
	return nil
}

// add records a transaction accepted into c's pool with an unknown
// reference.
func (u *unresolved) add(id, ref model.Identifier, c *Cluster, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.txs[id] = unresolvedTx{ref: ref, at: now, c: c}
}

// sweep forgets the transactions whose reference became known (the pool's
// rules take over) and drops from their pool those past grace; it returns
// how many were dropped.
func (u *unresolved) sweep(known func(model.Identifier) bool, now time.Time) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for id, tx := range u.txs {
		switch {
		case known(tx.ref):
			delete(u.txs, id)
		case now.Sub(tx.at) > u.grace:
			tx.c.Drop(id)
			delete(u.txs, id)
			n++
		}
	}
	return n
}

func (u *unresolved) size() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.txs)
}
