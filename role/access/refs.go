package access

import (
	"sync"

	"github.com/floe-bft/floe/consensus/model"
)

// refs is the window of finalized main-chain blocks a reference may name:
// the newest keep heights (twice the expiry, so a transaction checked a
// little late still finds its reference). Older blocks are past every
// transaction's expiry: forgetting them changes no answer but "expired"
// into "unknown", both refusals.
type refs struct {
	mu       sync.RWMutex
	keep     uint64
	byID     map[model.Identifier]refEntry
	byHeight map[uint64]model.Identifier
	latest   uint64
	first    uint64 // the first height recorded
	started  bool
	// grown is closed (and replaced) whenever a block is recorded: a
	// submission waiting for a reference block it does not hold yet
	// wakes on it.
	grown chan struct{}
}

type refEntry struct{ height, epoch uint64 }

func newRefs(keep uint64) *refs {
	return &refs{keep: max(keep, 1), byID: map[model.Identifier]refEntry{}, byHeight: map[uint64]model.Identifier{}, grown: make(chan struct{})}
}

// add records the next finalized block (the processor gives them in
// height order) and forgets the one that left the window.
func (r *refs) add(id model.Identifier, height, epoch uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID[id] = refEntry{height, epoch}
	r.byHeight[height] = id
	if !r.started {
		r.first = height
	}
	if !r.started || height > r.latest {
		r.latest, r.started = height, true
	}
	close(r.grown)
	r.grown = make(chan struct{})
	if height >= r.keep {
		old := height - r.keep
		if oldID, ok := r.byHeight[old]; ok {
			delete(r.byHeight, old)
			delete(r.byID, oldID)
		}
	}
}

// lookup answers for a kept finalized block, with the latest height.
func (r *refs) lookup(id model.Identifier) (e refEntry, latest uint64, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok = r.byID[id]
	return e, r.latest, ok
}

// changed returns a channel closed when the next block is recorded.
func (r *refs) changed() <-chan struct{} {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.grown
}

// latestHeight is the newest finalized height recorded; ok false before
// the first block.
func (r *refs) latestHeight() (uint64, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.latest, r.started
}

// oldestEpoch is the epoch of the oldest block in the window: no
// reference a transaction may still name is of an older epoch.
func (r *refs) oldestEpoch() (uint64, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.started {
		return 0, false
	}
	h := r.first
	if r.latest >= r.keep {
		h = max(h, r.latest-r.keep+1)
	}
	e, ok := r.byID[r.byHeight[h]]
	return e.epoch, ok
}
