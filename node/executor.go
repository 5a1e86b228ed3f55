package node

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/storage"
)

// executor executes finalized blocks in height order. It reads them from
// the store rather than from a queue, so it can never miss one and never
// needs an unbounded buffer: the consensus loop only wakes it.
func (n *Node) executor() {
	var lastFinalTime time.Time
	flushTicker := time.NewTicker(stateFlushInterval)
	defer flushTicker.Stop()
	for {
		select {
		case <-n.ctx.Done():
			// A clean stop loses no state: what was executed is flushed.
			if err := n.flushState(); err != nil {
				n.log.Error("flush application state at stop", "err", err)
			}
			return
		case <-flushTicker.C:
			if err := n.flushState(); err != nil {
				n.fatal(err)
				return
			}
			continue
		case <-n.finalizedSignal:
		}
		for h := n.executedHeight.Load() + 1; h <= n.finalizedHeight.Load(); h++ {
			if n.ctx.Err() != nil {
				return
			}
			if err := n.execute(h); err != nil {
				n.fatal(fmt.Errorf("execute height %d: %w", h, err))
				return
			}
			now := time.Now()
			if !lastFinalTime.IsZero() {
				n.metrics.blockInterval.Observe(now.Sub(lastFinalTime).Seconds())
			}
			lastFinalTime = now
		}
	}
}

func (n *Node) execute(height uint64) error {
	b, err := n.store.FinalizedByHeight(height)
	if err != nil {
		return err
	}
	pl, err := n.decoded(b)
	if err != nil {
		// Payloads were validated before the block was voted for; a
		// finalized block with a bad payload means a byzantine supermajority.
		return fmt.Errorf("finalized block has an invalid payload: %w", err)
	}
	txs := pl.Transactions
	// Replicas refuse a block that repeats a transaction of its chain's last
	// dedupWindow heights (chainTxs), so a finalized chain never does; this
	// second check, defined by the chain alone like the first, keeps
	// execution from ever applying a transaction twice within the window
	// even if a byzantine supermajority finalized such a block.
	ids, cached := n.txIDs.get(b.ID(), len(txs))
	if !cached {
		ids = idsOf(txs)
	}
	fresh := make([][]byte, 0, len(txs))
	freshIDs := make([]model.Identifier, 0, len(txs))
	for i, tx := range txs {
		id := model.Identifier(ids[i])
		if n.dedup.seen(id) {
			continue
		}
		n.dedup.add(height, id)
		fresh = append(fresh, tx)
		freshIDs = append(freshIDs, id)
	}
	n.dedup.advance(height)
	n.appMu.Lock()
	results, writes, root, err := n.app.Execute(height, fresh)
	n.appMu.Unlock()
	if err != nil {
		return err
	}
	stored := make([]storage.TxResult, len(results))
	for i, r := range results {
		stored[i] = storage.TxResult{ID: freshIDs[i], Height: height, View: b.View, Index: uint32(i), OK: r.OK, Error: r.Error}
	}
	if err := n.store.SaveResults(height, root, stored); err != nil {
		return err
	}
	for _, w := range writes {
		n.dirty[merkle.KeyHash(w.Key)] = w
	}
	n.dirtyHeight, n.dirtyRoot = height, root
	n.results.put(height, root)
	if len(n.dirty) >= maxDirtyKeys {
		if err := n.flushState(); err != nil {
			return err
		}
	}
	n.executedHeight.Store(height)
	n.signalExecuted()
	n.metrics.executedHeight.Set(float64(height))
	n.metrics.executedTxs.Add(float64(len(fresh)))
	now := time.Now()
	for _, id := range freshIDs {
		if at, ok := n.seen.take(id); ok {
			n.metrics.finalizeLatency.Observe(now.Sub(at).Seconds())
		}
	}
	n.subs.publish(FinalizedBlock{Block: b, TxCount: len(txs), StateRoot: root, Time: now})
	return nil
}

// seenTxs remembers when transactions submitted to this node entered its
// mempool, to measure finalization latency. Bounded: the oldest entries go
// first.
type seenTxs struct {
	mu    sync.Mutex
	at    map[model.Identifier]time.Time
	order []model.Identifier
	max   int
}

func newSeenTxs(max int) *seenTxs {
	return &seenTxs{at: make(map[model.Identifier]time.Time), max: max}
}

func (s *seenTxs) add(id model.Identifier, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.at[id]; ok {
		return
	}
	if len(s.order) >= s.max {
		delete(s.at, s.order[0])
		s.order = s.order[1:]
	}
	s.at[id] = t
	s.order = append(s.order, id)
}

func (s *seenTxs) take(id model.Identifier) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[id]
	if ok {
		delete(s.at, id)
	}
	return t, ok
}

// dedupWindow is the replay-protection window, in heights: a block may not
// carry a transaction its chain carries in the last dedupWindow heights,
// and execution skips one executed that recently. Finalized transactions
// leave the mempool at once and the mempool remembers them (RecentTxs), so
// a repeat needs a client to send the same bytes again after the window;
// expiry by reference block (the collection issue) closes that. It is kept
// small because at full load a block holds thousands of transactions and
// the window is an in-memory map.
const dedupWindow = 64

// executedWindow remembers the IDs executed in the last dedupWindow
// heights. It is rebuilt from the stored chain at start-up, so every node
// applies the same rule.
type executedWindow struct {
	ids     map[model.Identifier]uint64 // ID → height executed
	heights map[uint64][]model.Identifier
}

func newExecutedWindow() *executedWindow {
	return &executedWindow{ids: make(map[model.Identifier]uint64), heights: make(map[uint64][]model.Identifier)}
}

func (w *executedWindow) seen(id model.Identifier) bool {
	_, ok := w.ids[id]
	return ok
}

func (w *executedWindow) add(height uint64, id model.Identifier) {
	w.ids[id] = height
	w.heights[height] = append(w.heights[height], id)
}

// advance forgets the height that just left the window.
func (w *executedWindow) advance(height uint64) {
	if height < dedupWindow {
		return
	}
	old := height - dedupWindow
	for _, id := range w.heights[old] {
		if w.ids[id] == old {
			delete(w.ids, id)
		}
	}
	delete(w.heights, old)
}

// rebuildDedup replays the window from the stored results of the last
// executed heights.
func (n *Node) rebuildDedup(executed uint64) error {
	from := uint64(1)
	if executed > dedupWindow {
		from = executed - dedupWindow + 1
	}
	for h := from; h <= executed; h++ {
		b, err := n.store.FinalizedByHeight(h)
		if err != nil {
			return err
		}
		pl, err := n.decoded(b)
		if err != nil {
			return fmt.Errorf("stored block %d: %w", h, err)
		}
		txs := pl.Transactions
		for _, tx := range txs {
			id := crypto.Sum(tx)
			if r, err := n.store.TxResult(id); err == nil && r.Height == h && !n.dedup.seen(id) {
				n.dedup.add(h, id)
			} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
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
func (n *Node) flushState() error {
	if n.dirtyHeight == 0 {
		return nil
	}
	writes := make([]storage.KV, 0, len(n.dirty))
	for _, w := range n.dirty {
		writes = append(writes, w)
	}
	if err := n.store.SaveExecution(n.dirtyHeight, n.dirtyRoot, nil, writes); err != nil {
		return fmt.Errorf("flush application state at height %d: %w", n.dirtyHeight, err)
	}
	clear(n.dirty)
	n.dirtyHeight = 0
	return nil
}
