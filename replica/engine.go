// Package replica drives one consensus core for one chain: it is the only
// place where the core's output contract is carried out (persist, then
// send, then the rest), and where proposals whose payload cannot be checked
// yet wait. A node runs one Engine per chain it takes part in; the
// simulator runs the same Engine for every simulated replica.
//
// An Engine is not safe for concurrent use and starts no goroutines: its
// owner feeds it one event at a time (a node's consensus loop, or the
// simulator's scheduler) with the current time, which keeps a simulated run
// reproducible from its seed.
package replica

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
)

// ErrStopped is returned by a Transport that stopped the replica part-way
// through an output's messages (the simulator's crash between persisting
// and sending). The Engine applies nothing more of that output.
var ErrStopped = errors.New("replica stopped")

// Store makes an output's state changes durable.
type Store interface {
	// Persist stores out's safety data, pacemaker state, blocks and
	// finalized blocks, synced, before any message of out is sent. A store
	// that derives more state from finalized blocks (epochs) may return an
	// event the core must learn once that state is durable (a
	// ScheduleEvent), or nil. Any error is fatal: nothing signed under an
	// unpersisted state may leave the replica.
	Persist(out *consensus.Output) (consensus.Event, error)
}

// Transport sends what an output signed, after it was persisted. Messages
// addressed to the replica itself must come back as events. Send must not
// block; a full queue drops the message (consensus re-sends what matters).
type Transport interface {
	Send(msgs []consensus.Message) error
}

// Readiness tells whether this replica can check a proposal's payload now.
// A payload may depend on what the replica has not processed yet: a result
// commitment for a height it has not executed, a guarantee whose reference
// block it has not seen. Voting unchecked would let a lying leader get a
// certificate for it, so such a proposal waits (Engine.Retry releases it).
type Readiness interface {
	Ready(b *model.Block) bool
}

// Observer sees what the Engine does. All methods are optional in effect
// (embed NopObserver); they run on the Engine's caller.
type Observer interface {
	// Stepped is called with every output before it takes effect; err is
	// the step's benign error (nil if none). Monitors read what was signed
	// here, sent or not.
	Stepped(ev consensus.Event, out *consensus.Output, err error)
	// Applied is called once out was persisted and sent: execute the
	// finalized blocks, record evidence, fetch what is missing.
	Applied(ev consensus.Event, out *consensus.Output)
	// Parked is called when a proposal waits for its payload to become
	// checkable, or was dropped because too many wait.
	Parked(b *model.Block, dropped bool)
}

// NopObserver ignores everything; embed it to implement part of Observer.
type NopObserver struct{}

// Stepped does nothing.
func (NopObserver) Stepped(consensus.Event, *consensus.Output, error) {}

// Applied does nothing.
func (NopObserver) Applied(consensus.Event, *consensus.Output) {}

// Parked does nothing.
func (NopObserver) Parked(*model.Block, bool) {}

// DefaultMaxParked bounds proposals waiting for their payload to become
// checkable when Config.MaxParked is zero.
const DefaultMaxParked = 16

// Config assembles an Engine.
type Config struct {
	Core      *consensus.Core
	Store     Store
	Transport Transport
	// Ready may be nil: every payload is checkable at once.
	Ready    Readiness
	Observer Observer // nil: NopObserver
	// MaxParked bounds waiting proposals (DefaultMaxParked if zero).
	MaxParked int
	// ReadyBlocks makes Ready gate every block, not only the vote on a
	// proposal: set it when Validate itself needs what Ready waits for (a
	// cluster chain's main-chain reference). Synced blocks and parked
	// proposals' blocks that are not ready are then held (at most
	// 8·MaxParked) and stepped by Retry once ready, instead of being
	// refused and fetched again in a loop. Without it such a block joins
	// the tree at once, so a replica that lags in execution still
	// finalizes at the network's speed (the main chain).
	ReadyBlocks bool
}

// Engine drives one core. See the package comment.
type Engine struct {
	core      *consensus.Core
	store     Store
	transport Transport
	ready     Readiness
	obs       Observer
	maxParked int
	// parked proposals wait, one per view, until Ready.
	parked map[model.View]*model.Proposal
	// held blocks wait until Ready (Config.ReadyBlocks).
	readyBlocks bool
	held        map[model.Identifier]*model.Block
	timer       time.Time
	fatal       error
}

// New returns an Engine for cfg.Core. Call Start before Step.
func New(cfg Config) (*Engine, error) {
	if cfg.Core == nil || cfg.Store == nil || cfg.Transport == nil {
		return nil, fmt.Errorf("replica: core, store and transport are required")
	}
	e := &Engine{core: cfg.Core, store: cfg.Store, transport: cfg.Transport, ready: cfg.Ready, obs: cfg.Observer,
		maxParked: cfg.MaxParked, parked: make(map[model.View]*model.Proposal),
		readyBlocks: cfg.ReadyBlocks && cfg.Ready != nil, held: make(map[model.Identifier]*model.Block)}
	if e.obs == nil {
		e.obs = NopObserver{}
	}
	if e.maxParked <= 0 {
		e.maxParked = DefaultMaxParked
	}
	return e, nil
}

// Core returns the driven core, for reads (view, finalized block, leader).
// Only the Engine steps it.
func (e *Engine) Core() *consensus.Core { return e.core }

// NextTimer is when the owner must deliver the next TimerEvent (the latest
// time any output asked for; zero before the first).
func (e *Engine) NextTimer() time.Time { return e.timer }

// Parked is how many proposals wait for their payload to become checkable.
func (e *Engine) Parked() int { return len(e.parked) }

// Held is how many blocks wait to become ready (Config.ReadyBlocks).
func (e *Engine) Held() int { return len(e.held) }

// Start starts the core (a leader may propose) and applies its output.
func (e *Engine) Start(now time.Time) error {
	out, err := e.core.Start(now)
	return e.apply(now, nil, out, err)
}

// Step feeds one verified event to the core and applies the output. It
// returns nil or a fatal error, after which the replica must stop (every
// later call returns it too). Benign errors (consensus.IsFatal false) are
// reported to the Observer only.
func (e *Engine) Step(now time.Time, ev consensus.Event) error {
	if e.fatal != nil {
		return e.fatal
	}
	if pe, ok := ev.(consensus.ProposalEvent); ok && e.ready != nil && !e.ready.Ready(pe.Proposal.Block) {
		return e.park(now, pe.Proposal)
	}
	if be, ok := ev.(consensus.BlocksEvent); ok && e.readyBlocks {
		ready := e.hold(be.Blocks)
		if len(ready) == 0 {
			return nil
		}
		ev = consensus.BlocksEvent{Blocks: ready}
	}
	out, err := e.core.Step(now, ev)
	return e.apply(now, ev, out, err)
}

// park holds back a proposal whose payload cannot be checked yet. Its
// certificates are verified and may be exactly what finalizes the state
// the payload needs, so they go in now, and the block joins the tree as a
// synced block would (the core never votes for those): a replica that
// lags in execution still finalizes at the network's speed. Only the vote
// waits.
func (e *Engine) park(now time.Time, p *model.Proposal) error {
	b := p.Block
	// First the equivocation check, which needs no payload: a held
	// proposal conflicting with another by its proposer is evidence now,
	// whether or not it is ever delivered.
	if err := e.Step(now, consensus.HeldProposalEvent{Proposal: p}); err != nil {
		return err
	}
	if err := e.Step(now, consensus.CertificateEvent{QC: b.QC, TC: b.TC}); err != nil {
		return err
	}
	if err := e.Step(now, consensus.BlocksEvent{Blocks: []*model.Block{b}}); err != nil {
		return err
	}
	if b.View < e.core.CurrentView() {
		return nil // stale: its certificates arrive again with later messages
	}
	if _, dup := e.parked[b.View]; !dup && len(e.parked) >= e.maxParked {
		e.obs.Parked(b, true)
		return nil
	}
	e.parked[b.View] = p
	e.obs.Parked(b, false)
	return nil
}

// hold keeps the blocks that are not ready (Config.ReadyBlocks) and
// returns the others.
func (e *Engine) hold(blocks []*model.Block) []*model.Block {
	var ready []*model.Block
	for _, b := range blocks {
		switch {
		case e.ready.Ready(b):
			ready = append(ready, b)
		case len(e.held) < 8*e.maxParked:
			e.held[b.ID()] = b
		}
		// Beyond the bound a block is dropped: a later certificate or
		// proposal makes the core fetch it again.
	}
	return ready
}

// Retry steps the parked proposals that became checkable, lowest view
// first, and forgets those the replica has moved past. Call it when what
// Readiness depends on advanced (a height was executed).
func (e *Engine) Retry(now time.Time) error {
	if e.fatal != nil {
		return e.fatal
	}
	if len(e.held) > 0 {
		final := e.core.Finalized().Height
		var ready []*model.Block
		for id, b := range e.held {
			if b.Height <= final {
				delete(e.held, id) // finalized past it: never needed
				continue
			}
			if e.ready.Ready(b) {
				delete(e.held, id)
				ready = append(ready, b)
			}
		}
		if len(ready) > 0 {
			// In one order whatever the map's: runs repeat exactly.
			if err := e.Step(now, consensus.BlocksEvent{Blocks: model.ByHeight(ready)}); err != nil {
				return err
			}
		}
	}
	if len(e.parked) == 0 {
		return nil
	}
	views := make([]model.View, 0, len(e.parked))
	for v := range e.parked {
		views = append(views, v)
	}
	slices.Sort(views)
	for _, v := range views {
		p := e.parked[v]
		if v < e.core.CurrentView() {
			delete(e.parked, v)
			continue
		}
		if !e.ready.Ready(p.Block) {
			continue
		}
		delete(e.parked, v)
		out, err := e.core.Step(now, consensus.ProposalEvent{Proposal: p})
		if err := e.apply(now, consensus.ProposalEvent{Proposal: p}, out, err); err != nil {
			return err
		}
	}
	return nil
}

// apply carries out one output in the order the core's contract demands:
// persist, send, then everything else.
func (e *Engine) apply(now time.Time, ev consensus.Event, out consensus.Output, err error) error {
	if consensus.IsFatal(err) {
		return e.stop(err)
	}
	e.obs.Stepped(ev, &out, err)
	follow, perr := e.store.Persist(&out)
	if perr != nil {
		return e.stop(fmt.Errorf("persist consensus state: %w", perr))
	}
	if len(out.Messages) > 0 {
		if serr := e.transport.Send(out.Messages); serr != nil {
			return e.stop(serr)
		}
	}
	if !out.NextTimer.IsZero() {
		// Before Applied: an observer that steps the engine again (a block
		// served at once) leaves the newer timer in place.
		e.timer = out.NextTimer
	}
	e.obs.Applied(ev, &out)
	if follow != nil {
		// The core learns what the store derived only now that it is durable.
		return e.Step(now, follow)
	}
	return nil
}

func (e *Engine) stop(err error) error {
	if e.fatal == nil {
		e.fatal = err
	}
	return e.fatal
}
