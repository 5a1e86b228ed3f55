package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/storage"
)

// blockSource is the followed main chain as the observer saved it.
type blockSource interface {
	BlockByHeight(h uint64) (*model.Block, error)
	LatestBlock() (*model.Block, error)
}

// mainTracker turns the followed main chain into what the collector
// needs: the finalized reference blocks with their epoch counters (Refs),
// the epoch schedule (which cluster this node runs), and the guarantees
// the main chain has included (they leave the hand-off's accounting).
//
// The observer's OnFinalized hook only raises the target height (never
// blocks the follower engine); the tracker's own goroutine reads the saved
// blocks by height and runs its copy of the epoch state machine over them
// from genesis (package epoch: the same deterministic state every node
// derives), so a restart replays the chain as it was saved and a slow
// tracker skips nothing.
type mainTracker struct {
	src    blockSource
	limits payload.Limits
	refs   *Refs
	state  *epoch.State // the tracker goroutine's
	next   uint64       // the tracker goroutine's: next height to read

	wake chan struct{} // capacity 1

	mu       sync.RWMutex
	target   uint64 // newest finalized height the observer announced
	initial  uint64 // the height saved before this process started
	schedule *epoch.Schedule
	view     model.View // view of the newest block read
	height   uint64     // its height

	// included is told the collection IDs of the guarantees of each block
	// read; advanced after every batch. Both run on the tracker goroutine.
	included func(ids []model.Identifier, height uint64)
	advanced func()
}

// trackBatch bounds the blocks read between two advanced calls.
const trackBatch = 256

func newMainTracker(src blockSource, genesisState *epoch.State, limits payload.Limits, refs *Refs) *mainTracker {
	return &mainTracker{
		src: src, limits: limits, refs: refs, state: genesisState, next: 1,
		wake: make(chan struct{}, 1), schedule: genesisState.Schedule(),
	}
}

// finalized is the observer's hook: it raises the target and wakes the
// tracker, never blocking.
func (t *mainTracker) finalized(final []*model.Block) {
	if len(final) == 0 {
		return
	}
	t.raise(final[len(final)-1].Height)
}

func (t *mainTracker) raise(h uint64) {
	t.mu.Lock()
	if h > t.target {
		t.target = h
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// run reads the saved chain up to the target until ctx ends. The target
// starts at the height the observer saved before this process started, so
// the first advanced call comes once the replay has reached it. An error
// is fatal: a saved finalized block that does not decode or apply means a
// corrupt store.
func (t *mainTracker) run(ctx context.Context, poll time.Duration) error {
	if latest, err := t.src.LatestBlock(); err == nil {
		t.mu.Lock()
		t.initial = latest.Height
		t.mu.Unlock()
		t.raise(latest.Height)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("collector: latest followed block: %w", err)
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		if err := t.catchUp(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.wake:
		case <-tick.C:
		}
	}
}

// root records the root block (height 0) as a reference: it is the
// newest finalized block a client sees until height 1 is finalized, so
// transactions name it (access nodes know it; without it here they would
// wait unresolved for a block that never comes). The root carries no
// guarantees or service events.
func (t *mainTracker) root() error {
	b, err := t.src.BlockByHeight(0)
	if err != nil {
		return fmt.Errorf("collector: root block: %w", err)
	}
	e, err := t.state.Schedule().EpochAt(b.View)
	if err != nil {
		return fmt.Errorf("collector: epoch of the root block: %w", err)
	}
	return t.refs.Finalized(b.ID(), 0, e.Counter)
}

func (t *mainTracker) catchUp(ctx context.Context) error {
	if t.next == 1 {
		if err := t.root(); err != nil {
			return err
		}
	}
	for ctx.Err() == nil {
		t.mu.RLock()
		target := t.target
		t.mu.RUnlock()
		if t.next > target {
			return nil
		}
		last := min(target, t.next+trackBatch-1)
		for ; t.next <= last; t.next++ {
			if err := t.apply(t.next); err != nil {
				return err
			}
		}
		if t.advanced != nil {
			t.advanced()
		}
	}
	return nil
}

func (t *mainTracker) apply(h uint64) error {
	b, err := t.src.BlockByHeight(h)
	if err != nil {
		return fmt.Errorf("collector: followed block %d: %w", h, err)
	}
	pl, err := payload.Decode(b.Payload, t.limits)
	if err != nil {
		return fmt.Errorf("collector: followed block %d has an invalid payload: %w", h, err)
	}
	if _, err := t.state.Apply(b.View, pl.ServiceEvents); err != nil {
		return fmt.Errorf("collector: epoch state at height %d: %w", h, err)
	}
	sch := t.state.Schedule()
	e, err := sch.EpochAt(b.View)
	if err != nil {
		return fmt.Errorf("collector: epoch of followed block %d: %w", h, err)
	}
	if err := t.refs.Finalized(b.ID(), h, e.Counter); err != nil {
		return err
	}
	if len(pl.Guarantees) > 0 && t.included != nil {
		ids := make([]model.Identifier, len(pl.Guarantees))
		for i, g := range pl.Guarantees {
			ids[i] = g.CollectionID
		}
		t.included(ids, h)
	}
	t.mu.Lock()
	t.schedule, t.view, t.height = sch, b.View, h
	t.mu.Unlock()
	return nil
}

// current is the epoch of the newest block read, nil before the first.
func (t *mainTracker) current() *epoch.Epoch {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.height == 0 {
		return nil
	}
	e, err := t.schedule.EpochAt(t.view)
	if err != nil {
		return nil // cannot happen: apply checked it
	}
	return e
}

// epochByCounter is a known epoch by its counter.
func (t *mainTracker) epochByCounter(c uint64) (*epoch.Epoch, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, err := t.schedule.Epoch(c)
	return e, err == nil
}

// replayed reports whether the tracker has read the chain saved before
// this process started: before that, the epoch it has reached may be long
// over, and no cluster should start for it.
func (t *mainTracker) replayed() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.height >= t.initial
}
