package collector

import (
	"errors"
	"fmt"
	"sync"

	"github.com/floe-bft/floe/consensus/model"
)

// ErrRefGap: a finalized main-chain block was offered out of height order.
var ErrRefGap = errors.New("main-chain block out of height order")

// Refs is a MainView fed with the main chain's finalized blocks in height
// order (by the role's follower of the main chain). It keeps the newest
// Keep heights: a reference block older than that is past every
// transaction's expiry, so forgetting it changes no answer the rules
// still ask (collection.RefLookup).
type Refs struct {
	mu       sync.RWMutex
	keep     uint64
	byID     map[model.Identifier]refEntry
	byHeight map[uint64]model.Identifier
	latest   model.Identifier
	height   uint64
	started  bool
}

type refEntry struct{ height, epoch uint64 }

// NewRefs keeps keep heights (at least 1); give it twice the expiry so
// that a payload checked a little late still finds its references.
func NewRefs(keep uint64) *Refs {
	return &Refs{keep: max(keep, 1), byID: map[model.Identifier]refEntry{}, byHeight: map[uint64]model.Identifier{}}
}

// Finalized records the next finalized main-chain block and its epoch
// counter. Blocks must come in height order without gaps once the first
// has come (ErrRefGap otherwise; nothing changes then).
func (r *Refs) Finalized(id model.Identifier, height, epoch uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started && height != r.height+1 {
		if height <= r.height && r.byHeight[height] == id {
			return nil // seen: the follower may repeat after a restart
		}
		return fmt.Errorf("%w: height %d after %d", ErrRefGap, height, r.height)
	}
	r.started = true
	r.byID[id] = refEntry{height, epoch}
	r.byHeight[height] = id
	r.latest, r.height = id, height
	if height >= r.keep {
		old := height - r.keep
		if oldID, ok := r.byHeight[old]; ok {
			delete(r.byHeight, old)
			delete(r.byID, oldID)
		}
	}
	return nil
}

// RefHeight answers for the kept finalized blocks.
func (r *Refs) RefHeight(id model.Identifier) (height, epoch uint64, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.byID[id]
	return e.height, e.epoch, ok
}

// Latest is the newest finalized block recorded.
func (r *Refs) Latest() (model.Identifier, uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.latest, r.height
}
