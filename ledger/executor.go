package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/storage"
)

// executor executes finalized blocks in height order. It reads them from
// the store rather than from a queue, so it can never miss one and never
// needs an unbounded buffer: whoever finalizes only wakes it.
func (l *Ledger) executor(ctx context.Context) error {
	var lastFinalTime time.Time
	flushTicker := time.NewTicker(stateFlushInterval)
	defer flushTicker.Stop()
	for {
		select {
		case <-ctx.Done():
			// A clean stop loses no state: what was executed is flushed.
			if err := l.flushState(); err != nil {
				l.log.Error("flush application state at stop", "err", err)
			}
			return nil
		case <-flushTicker.C:
			if err := l.flushState(); err != nil {
				return err
			}
			continue
		case <-l.finalizedSignal:
		}
		for h := l.executedHeight.Load() + 1; h <= l.finalizedHeight.Load(); h++ {
			if ctx.Err() != nil {
				break
			}
			if err := l.execute(ctx, h); err != nil {
				if ctx.Err() != nil {
					break // stopping while the transactions hook waited
				}
				return fmt.Errorf("execute height %d: %w", h, err)
			}
			now := time.Now()
			if !lastFinalTime.IsZero() {
				l.metrics.blockInterval.Observe(now.Sub(lastFinalTime).Seconds())
			}
			lastFinalTime = now
		}
	}
}

func (l *Ledger) execute(ctx context.Context, height uint64) error {
	b, err := l.store.FinalizedByHeight(height)
	if err != nil {
		return err
	}
	pl, err := l.Decoded(b)
	if err != nil {
		// Payloads were validated before the block was voted for; a
		// finalized block with a bad payload means a byzantine supermajority.
		return fmt.Errorf("finalized block has an invalid payload: %w", err)
	}
	txCount := len(pl.Transactions)
	fresh, freshIDs := l.payloadTxs(height, b, pl)
	l.appMu.Lock()
	results, writes, root, err := l.app.Execute(height, fresh)
	l.appMu.Unlock()
	if err != nil {
		return err
	}
	stored := make([]storage.TxResult, len(results))
	for i, r := range results {
		stored[i] = storage.TxResult{ID: freshIDs[i], Height: height, View: b.View, Index: uint32(i), OK: r.OK, Error: r.Error}
	}
	if err := l.store.SaveResults(height, root, stored); err != nil {
		return err
	}
	for _, w := range writes {
		l.dirty[merkle.KeyHash(w.Key)] = w
	}
	l.dirtyHeight, l.dirtyRoot = height, root
	l.results.put(height, root)
	if len(l.dirty) >= maxDirtyKeys {
		if err := l.flushState(); err != nil {
			return err
		}
	}
	l.executedHeight.Store(height)
	l.metrics.executedHeight.Set(float64(height))
	l.metrics.executedTxs.Add(float64(len(fresh)))
	if l.cfg.Hooks.Executed != nil {
		l.cfg.Hooks.Executed(height, freshIDs)
	}
	l.subs.publish(FinalizedBlock{Block: b, TxCount: txCount, StateRoot: root, Time: time.Now()})
	return nil
}

// payloadTxs returns the block's own transactions less those executed in
// the last DedupWindow heights, and records them in that window.
func (l *Ledger) payloadTxs(height uint64, b *model.Block, pl *payload.Payload) ([][]byte, []model.Identifier) {
	txs := pl.Transactions
	// Replicas refuse a block that repeats a transaction of its chain's last
	// DedupWindow heights (chainTxs), so a finalized chain never does; this
	// second check, defined by the chain alone like the first, keeps
	// execution from ever applying a transaction twice within the window
	// even if a byzantine supermajority finalized such a block.
	ids, cached := l.txIDs.get(b.ID(), len(txs))
	if !cached {
		ids = idsOf(txs)
	}
	fresh := make([][]byte, 0, len(txs))
	freshIDs := make([]model.Identifier, 0, len(txs))
	for i, tx := range txs {
		id := model.Identifier(ids[i])
		if l.dedup.Seen(id) {
			continue
		}
		l.dedup.Add(height, id)
		fresh = append(fresh, tx)
		freshIDs = append(freshIDs, id)
	}
	l.dedup.Advance(height)
	return fresh, freshIDs
}

// CollectionWindow is the replay-protection window of pipeline
// networks, in heights: a guarantee whose collection a guarantee of the
// last CollectionWindow heights (or an earlier one of the same block)
// named is not executed, and every appearance, executed or not, renews
// the collection's place in the window (Window.Fresh, Window.Record). The
// rule reads the chain's guarantees only, so every executor applies it
// alike and a restart rebuilds it exactly from the stored payloads.
// Consensus nodes refuse such a repeat already (collection.Inclusion: a
// guarantee's reference is at most Expiry below its block, and the Index
// keeps its collection until then), so with the default expiry an honest
// chain never meets it; it keeps a byzantine supermajority's chain from
// making executors apply a collection twice within the window.
// Transactions repeated across collections are the clusters' rules'
// business (a transaction in one collection of one cluster within its
// expiry); execution does not check them.
const CollectionWindow = collection.DefaultExpiry

// DedupWindow is the replay-protection window, in heights: a block may not
// carry a transaction its chain carries in the last DedupWindow heights,
// and execution skips one executed that recently. Finalized transactions
// leave the mempool at once and the mempool remembers them (RecentTxs), so
// a repeat needs a client to send the same bytes again after the window;
// expiry by reference block (the collection issue) closes that. It is kept
// small because at full load a block holds thousands of transactions and
// the window is an in-memory map.
const DedupWindow = 64

// Window remembers the IDs added in the last size heights (the
// transactions executed in the last DedupWindow, or the collections named
// in the last CollectionWindow). It is rebuilt from the stored chain at
// start-up, so every node applies the same rule. Not safe for concurrent
// use: its owner is the execution loop.
type Window struct {
	size    uint64
	ids     map[model.Identifier]uint64 // ID → height added last
	heights map[uint64][]model.Identifier
}

// NewWindow returns an empty window of size heights.
func NewWindow(size uint64) *Window {
	return &Window{size: size, ids: make(map[model.Identifier]uint64), heights: make(map[uint64][]model.Identifier)}
}

// Seen reports whether id was added within the window.
func (w *Window) Seen(id model.Identifier) bool {
	_, ok := w.ids[id]
	return ok
}

// Add records id at height.
func (w *Window) Add(height uint64, id model.Identifier) {
	w.ids[id] = height
	w.heights[height] = append(w.heights[height], id)
}

// Advance forgets the height that just left the window.
func (w *Window) Advance(height uint64) {
	if height < w.size {
		return
	}
	old := height - w.size
	for _, id := range w.heights[old] {
		if w.ids[id] == old {
			delete(w.ids, id)
		}
	}
	delete(w.heights, old)
}

// Fresh splits a block's guarantees into those the collection rule lets
// execute (in order) and the collection IDs it skips: a collection named
// in the window, or earlier in the same block. It changes nothing.
func (w *Window) Fresh(gs []*collection.Guarantee) (fresh []*collection.Guarantee, repeated []model.Identifier) {
	fresh = make([]*collection.Guarantee, 0, len(gs))
	inBlock := make(map[model.Identifier]struct{}, len(gs))
	for _, g := range gs {
		if _, dup := inBlock[g.CollectionID]; dup || w.Seen(g.CollectionID) {
			repeated = append(repeated, g.CollectionID)
			continue
		}
		inBlock[g.CollectionID] = struct{}{}
		fresh = append(fresh, g)
	}
	return fresh, repeated
}

// Record adds every collection a block at height names (executed or
// not: each appearance renews its place) and advances the window.
func (w *Window) Record(height uint64, gs []*collection.Guarantee) {
	for _, g := range gs {
		w.Add(height, g.CollectionID)
	}
	w.Advance(height)
}

// rebuildDedup replays the window from the stored results of the last
// executed heights.
func (l *Ledger) rebuildDedup(executed uint64) error {
	from := uint64(1)
	if executed > DedupWindow {
		from = executed - DedupWindow + 1
	}
	return l.storedPayloads(from, executed, func(h uint64, pl *payload.Payload) error {
		for _, tx := range pl.Transactions {
			id := crypto.Sum(tx)
			if r, err := l.store.TxResult(id); err == nil && r.Height == h && !l.dedup.Seen(id) {
				l.dedup.Add(h, id)
			} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

// storedPayloads calls fn with the decoded payload of every finalized
// block from height from to height to, in order.
func (l *Ledger) storedPayloads(from, to uint64, fn func(height uint64, pl *payload.Payload) error) error {
	for h := from; h <= to; h++ {
		b, err := l.store.FinalizedByHeight(h)
		if err != nil {
			return err
		}
		pl, err := l.Decoded(b)
		if err != nil {
			return fmt.Errorf("stored block %d: %w", h, err)
		}
		if err := fn(h, pl); err != nil {
			return err
		}
	}
	return nil
}

// Application state reaches the store in periodic flushes, not per block:
// writes to the same key between flushes coalesce, and at full load the
// per-transaction state writes were the largest storage cost. Results and
// state roots are still written per block, so clients see them at once.
// After a crash the node re-executes from the last flushed height, which
// rewrites the same results (execution is deterministic).
const (
	stateFlushInterval = 10 * time.Second
	maxDirtyKeys       = 100_000
)

// flushState writes the state changed since the last flush, with the
// executed height it corresponds to, in one batch.
func (l *Ledger) flushState() error {
	if l.dirtyHeight == 0 {
		return nil
	}
	writes := make([]storage.KV, 0, len(l.dirty))
	for _, w := range l.dirty {
		writes = append(writes, w)
	}
	if err := l.store.SaveExecution(l.dirtyHeight, l.dirtyRoot, nil, writes); err != nil {
		return fmt.Errorf("flush application state at height %d: %w", l.dirtyHeight, err)
	}
	clear(l.dirty)
	l.dirtyHeight = 0
	return nil
}
