package ledger

import (
	"sync"

	"github.com/floe-bft/floe/consensus/model"
)

// resultRing keeps the state roots of the most recent executed heights, so
// the consensus loop can build and check block result commitments without
// a disk read. Older heights fall back to the store.
type resultRing struct {
	mu    sync.RWMutex
	roots map[uint64]model.Identifier
	low   uint64 // lowest height still held
}

const resultRingSize = 4096

func newResultRing() *resultRing { return &resultRing{roots: make(map[uint64]model.Identifier)} }

func (r *resultRing) put(height uint64, root model.Identifier) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roots[height] = root
	for len(r.roots) > resultRingSize {
		delete(r.roots, r.low)
		r.low++
	}
	if height < r.low {
		r.low = height
	}
}

func (r *resultRing) get(height uint64) (model.Identifier, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	root, ok := r.roots[height]
	return root, ok
}

// ResultAt returns the state root after executing height, from memory or the
// store. Height 0 is the genesis state.
func (l *Ledger) ResultAt(height uint64) (model.Identifier, error) {
	if root, ok := l.results.get(height); ok {
		return root, nil
	}
	if height == 0 {
		root, err := l.cfg.Genesis.InitialRoot()
		return model.Identifier(root), err
	}
	return l.store.StateRoot(height)
}
