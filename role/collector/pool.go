package collector

import (
	"errors"
	"fmt"
	"sync"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// Pool errors. ErrPoolFull is backpressure: the submitter retries later.
var (
	ErrPoolFull  = errors.New("collector pool full, retry later")
	ErrDuplicate = errors.New("transaction already pending in this collector")
)

// pool holds the transactions this cluster may collect, oldest first,
// bounded by count and bytes. It is shared by the goroutine that takes
// submissions and the consensus loop that builds collections, hence the
// mutex; nothing under it does I/O.
type pool struct {
	mu       sync.Mutex
	maxTxs   int
	maxBytes int
	bytes    int
	order    []model.Identifier // insertion order; may hold removed IDs
	txs      map[model.Identifier]collection.Tx
}

func newPool(maxTxs, maxBytes int) *pool {
	return &pool{maxTxs: maxTxs, maxBytes: maxBytes, txs: map[model.Identifier]collection.Tx{}}
}

// add queues tx. It never grows past its bounds.
func (p *pool) add(tx collection.Tx) error {
	id := tx.ID()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.txs[id]; ok {
		return ErrDuplicate
	}
	if len(p.txs) >= p.maxTxs || p.bytes+tx.Size() > p.maxBytes {
		return fmt.Errorf("%w: %d transactions, %d bytes pending", ErrPoolFull, len(p.txs), p.bytes)
	}
	p.txs[id] = tx
	p.bytes += tx.Size()
	p.order = append(p.order, id)
	return nil
}

// candidates returns up to max pending transactions, oldest first.
func (p *pool) candidates(max int) []collection.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]collection.Tx, 0, min(max, len(p.txs)))
	kept := p.order[:0]
	for _, id := range p.order {
		tx, ok := p.txs[id]
		if !ok {
			continue // removed: compact it away
		}
		kept = append(kept, id)
		if len(out) < max {
			out = append(out, tx)
		}
	}
	clear(p.order[len(kept):])
	p.order = kept
	return out
}

// remove drops transactions (collected in a finalized collection, or
// never collectable).
func (p *pool) remove(ids ...model.Identifier) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if tx, ok := p.txs[id]; ok {
			delete(p.txs, id)
			p.bytes -= tx.Size()
		}
	}
}

// size reports the pending count and bytes.
func (p *pool) size() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.txs), p.bytes
}

// prune drops every pending transaction dead reports on, returning how
// many went.
func (p *pool) prune(dead func(collection.Tx) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for id, tx := range p.txs {
		if dead(tx) {
			delete(p.txs, id)
			p.bytes -= tx.Size()
			n++
		}
	}
	return n
}

// has reports whether id is pending.
func (p *pool) has(id model.Identifier) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.txs[id]
	return ok
}
