package execution

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	engine "github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// runner is the execution loop: it executes the finalized blocks the
// observer saved, in height order, with the engine; saves each block's
// result, outcomes and data packs; and hands the result it publishes to
// the receipt sender. It reads blocks from the store rather than a queue,
// so it never misses one and needs no unbounded buffer; the observer only
// wakes it. It is the only writer of the state and the execution store.
type runner struct {
	led    *ledger.Ledger
	fetch  *fetcher
	engine *engine.Engine
	store  *engine.Store
	// st is the state; only state sync replaces it, readers load it.
	st      atomic.Pointer[state.Store]
	window  *ledger.Window
	fault   Fault
	retain  uint64
	genesis *payload.ExecutionResult
	log     *slog.Logger
	m       *metrics
	signal  chan struct{} // capacity 1

	// The newest executed block's own result and end version, and the
	// result it published (differs only under a test fault).
	prev        *payload.ExecutionResult
	prevVersion uint64
	published   *payload.ExecutionResult

	onExecuted func(published *payload.ExecutionResult)
	// onSynced is told the height a state sync brought the node to.
	onSynced func(height uint64)

	// State sync (statesync.go).
	sync       SyncConfig
	httpClient *http.Client
	stateDir   string
	stateOpts  state.Options
	// executed is the newest executed block for concurrent readers.
	executed atomic.Pointer[executedAt]
}

func (r *runner) stateStore() *state.Store { return r.st.Load() }

func (r *runner) setState(st *state.Store) {
	r.st.Store(st)
	r.engine.State = st
}

func (r *runner) publishExecuted() {
	r.executed.Store(&executedAt{height: r.prev.Height, version: r.prevVersion, root: r.prev.EndState(), result: r.prev.ID()})
}

// wake makes the loop look for finalized blocks not executed yet.
func (r *runner) wake() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// open restores the loop's position: the newest executed block's result
// and state version (the genesis result and state before any), rolls the
// state back to that version if a crash left later chunk versions behind,
// and rebuilds the collection window.
func (r *runner) open() error {
	h, version, ok, err := r.store.Executed()
	if err != nil {
		return err
	}
	if !ok {
		r.prev, r.published = r.genesis, r.genesis
		r.prevVersion, _ = r.stateStore().Latest()
		r.publishExecuted()
		return nil
	}
	if r.prev, _, err = r.store.Result(h); err != nil {
		return fmt.Errorf("result of executed height %d: %w", h, err)
	}
	if r.published, err = r.store.Published(h); err != nil {
		return fmt.Errorf("published result of executed height %d: %w", h, err)
	}
	r.prevVersion = version
	if latest, _ := r.stateStore().Latest(); latest > version {
		// Chunks of the next block committed before a crash, its results
		// not: drop them and execute the block again.
		if err := r.stateStore().Rollback(version); err != nil {
			return fmt.Errorf("roll the state back to version %d (executed height %d): %w", version, h, err)
		}
		r.log.Info("execution: dropped state versions of a block interrupted by a crash", "executed_height", h, "from_version", latest)
	}
	if err := r.rebuildWindow(h); err != nil {
		return err
	}
	r.m.executedHeight.Set(float64(h))
	r.publishExecuted()
	return nil
}

// rebuildWindow replays the collection window from the stored chain up to
// executed height h.
func (r *runner) rebuildWindow(h uint64) error {
	from := uint64(1)
	if h > ledger.CollectionWindow {
		from = h - ledger.CollectionWindow + 1
	}
	for height := from; height <= h; height++ {
		b, err := r.led.BlockByHeight(height)
		if err != nil {
			return fmt.Errorf("finalized block %d: %w", height, err)
		}
		pl, err := r.led.Decoded(b)
		if err != nil {
			return fmt.Errorf("finalized block %d: %w", height, err)
		}
		r.window.Record(height, pl.Guarantees)
	}
	return nil
}

// run executes until ctx ends or an execution error stops the node.
func (r *runner) run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var syncedAt time.Time
	for {
		for r.prev.Height < r.led.FinalizedHeight() {
			if time.Since(syncedAt) > r.sync.Retry {
				syncedAt = time.Now()
				if _, err := r.syncState(ctx); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("state sync: %w", err)
				}
				continue
			}
			if err := r.executeNext(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("execute height %d: %w", r.prev.Height+1, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.signal:
		case <-tick.C:
		}
	}
}

// executeNext executes the block above the newest executed one.
func (r *runner) executeNext(ctx context.Context) error {
	h := r.prev.Height + 1
	b, err := r.led.BlockByHeight(h)
	if err != nil {
		return err
	}
	pl, err := r.led.Decoded(b)
	if err != nil {
		return fmt.Errorf("finalized block has an invalid payload: %w", err)
	}
	fresh, repeated := r.window.Fresh(pl.Guarantees)
	for _, id := range repeated {
		r.m.repeatedCollections.Inc()
		r.log.Warn("finalized block repeats a collection: not executed again", "height", h, "collection", id)
	}
	cols, err := r.fetch.Collections(ctx, h, fresh)
	if err != nil {
		return err
	}
	blk := engine.Block{ID: b.ID(), Height: h, Collections: cols, ServiceEvents: serviceEvents(pl)}
	start := time.Now()
	x, err := r.engine.Execute(ctx, blk, r.prev, r.prevVersion)
	if err != nil {
		return err
	}
	published := r.fault.publish(x.Result, r.published, r.genesis.EndState())
	// The state versions become durable before the record that names
	// them: after a crash the record never points past the state.
	if err := r.stateStore().Flush(); err != nil {
		return fmt.Errorf("flush the state of height %d: %w", h, err)
	}
	if err := r.store.Save(x, published); err != nil {
		return fmt.Errorf("save the result of height %d: %w", h, err)
	}
	r.window.Record(h, pl.Guarantees)
	r.prev, r.prevVersion, r.published = x.Result, x.EndVersion, published
	r.publishExecuted()
	txs := len(x.Txs)
	r.m.executedHeight.Set(float64(h))
	r.m.executedTxs.Add(float64(txs))
	failed := 0
	for _, o := range x.Txs {
		if !o.OK {
			failed++
		}
	}
	r.m.failedTxs.Add(float64(failed))
	r.m.blockSeconds.Observe(time.Since(start).Seconds())
	r.onExecuted(published)
	if h > r.retain && h%16 == 0 {
		r.prune(h - r.retain)
	}
	return nil
}

// prune drops state versions and data packs of heights below below. It
// runs online, every 16 blocks, beside execution; a failure is logged
// and retried at the next round (it frees disk, it changes no result).
// The state keeps every version from the end state of height below-1 on:
// the start state of height below's first chunk.
func (r *runner) prune(below uint64) {
	if _, v, err := r.store.Result(below - 1); err != nil {
		r.log.Warn("execution: prune state versions", "below_height", below, "err", err)
	} else if err := r.stateStore().Prune(v); err != nil && !errors.Is(err, state.ErrClosed) {
		r.log.Warn("execution: prune state versions", "below_height", below, "err", err)
	}
	if n, err := r.store.PrunePacks(below); err != nil {
		r.log.Warn("execution: prune chunk data packs", "below_height", below, "err", err)
	} else {
		r.m.packsPruned.Add(float64(n))
	}
}

// serviceEvents are the block's service events as the system chunk's
// events.
func serviceEvents(pl *payload.Payload) []payload.Event {
	if len(pl.ServiceEvents) == 0 {
		return nil
	}
	out := make([]payload.Event, len(pl.ServiceEvents))
	for i, e := range pl.ServiceEvents {
		out[i] = payload.Event{Type: ServiceEventType, Payload: e.Encode()}
	}
	return out
}

// ServiceEventType is the event type of a service event in a system
// chunk.
const ServiceEventType = "floe.service_event"

// Fault is a test fault of a byzantine executor (EnvFault): what it
// publishes instead of its honest result. It still executes honestly, so
// its own state stays right and it can go on; only its receipts lie, and
// consistently, so that they chain.
type Fault string

// The faults.
const (
	FaultNone Fault = ""
	// FaultWrongEndState publishes every state commitment other than the
	// genesis state with its first bit flipped.
	FaultWrongEndState Fault = "wrong_end_state"
	// FaultWrongEvents publishes every chunk's events hash with its first
	// bit flipped.
	FaultWrongEvents Fault = "wrong_events"
	// FaultWithholdPacks serves no chunk data pack.
	FaultWithholdPacks Fault = "withhold_packs"
)

// ParseFault reads a fault name.
func ParseFault(s string) (Fault, error) {
	switch f := Fault(s); f {
	case FaultNone, FaultWrongEndState, FaultWrongEvents, FaultWithholdPacks:
		return f, nil
	}
	return "", fmt.Errorf("unknown execution fault %q (wrong_end_state, wrong_events, withhold_packs)", s)
}

// publish is the result to sign for honest, chained onto what was
// published before (prev).
func (f Fault) publish(honest, prev *payload.ExecutionResult, genesisRoot model.Identifier) *payload.ExecutionResult {
	if f != FaultWrongEndState && f != FaultWrongEvents {
		return honest
	}
	out := *honest
	out.Previous = prev.ID()
	out.Chunks = append([]payload.Chunk(nil), honest.Chunks...)
	flip := func(id model.Identifier) model.Identifier {
		if id == genesisRoot {
			return id
		}
		id[0] ^= 1
		return id
	}
	for i := range out.Chunks {
		c := &out.Chunks[i]
		if f == FaultWrongEndState {
			c.StartState, c.EndState = flip(c.StartState), flip(c.EndState)
		} else {
			c.EventsHash[0] ^= 1
		}
	}
	return &out
}
