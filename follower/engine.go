// Package follower is the consensus follower (seed 001): it tracks the
// chain a committee finalizes without ever voting, for observers,
// exchanges and indexers, and shields everything behind it from invalid
// blocks.
//
// The rules, in the order an input meets them:
//
//  1. A block whose view lies outside every known epoch is dropped at once:
//     no signature check, no cache (ErrUnknownEpoch, counted).
//  2. Cheap bookkeeping checks: at or below the finalized view, already
//     known, a view whose leader already equivocated up to the per-view
//     bound, a view whose block is already certified. Dropped and counted.
//  3. Signatures, on a worker pool and outside the engine's lock. A single
//     proposal: its proposer is the view's leader, its signature, and the
//     certificates it carries (the QC of its parent, a TC when it skips
//     views) against the identity table of their epoch — so a block is
//     validated before its ancestors are known. A range of connected blocks:
//     hash links along it and one QC, the one certifying its last block
//     (chained validation: a certified block's ancestors are all
//     certified). Anything that fails is never cached or stored, and the
//     peer that sent it is reported (log, metric, misbehaviour record).
//  4. Bookkeeping (see core): verified uncertified proposals go to a
//     bounded cache; certified blocks connect to the tree and are stored,
//     in one batch per input; the 2-chain rule finalizes; a second
//     proposal by a leader for a view becomes one evidence record.
package follower

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
)

// Input is one thing a peer sent: a proposal, or a range of connected
// blocks with the QC that certifies the last one.
type Input struct {
	From     string // the sender, for reports
	Proposal *model.Proposal
	Blocks   []*model.Block // oldest first, each the parent of the next
	QC       *model.QC      // certifies Blocks[len-1]
	// Done, if set, is called with the outcome once the input was handled.
	Done func(error)
}

// Engine validates and orders what peers send a follower. It is safe for
// concurrent use: signatures are checked without the lock, bookkeeping
// and storage under it.
type Engine struct {
	cfg Config
	m   *metrics
	rep *reporter

	mu   sync.Mutex
	core *core
	err  error // set once: the engine stopped itself

	finalizedHeight atomic.Uint64

	jobs   chan Input
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  sync.Once
}

// New builds an engine from the store's saved state (or the root).
func New(cfg Config) (*Engine, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	m := newMetrics(cfg.Metrics)
	e := &Engine{
		cfg:  cfg,
		m:    m,
		rep:  newReporter(cfg.Logger, m, cfg.MaxRecords),
		jobs: make(chan Input, cfg.QueueSize),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	lim := limits{
		maxUncertified: cfg.MaxUncertified, maxUncertifiedBytes: cfg.MaxUncertifiedBytes,
		maxPerView: cfg.MaxProposalsPerView, maxDetached: cfg.MaxDetached, maxQCs: cfg.MaxPendingQCs,
	}
	saved, found, err := cfg.Store.Load()
	if err != nil {
		return nil, fmt.Errorf("follower: load store: %w", err)
	}
	if !found {
		saved = Saved{Finalized: cfg.Root, TipQC: cfg.RootQC}
	}
	if saved.TipQC == nil {
		saved.TipQC = cfg.RootQC
	}
	e.core = newCore(saved.Finalized, saved.TipQC, lim)
	// Stored blocks above the finalized one were all certified when they
	// were stored; their certificates are in their children's headers and,
	// for the newest, in TipQC.
	var out outcome
	for i, b := range saved.Certified {
		qc := saved.TipQC
		if i+1 < len(saved.Certified) && saved.Certified[i+1].ParentID == b.ID() {
			qc = saved.Certified[i+1].QC
		}
		if qc.BlockID != b.ID() {
			// The child that certified it is on another (pruned) branch;
			// its own QC lives in any stored child.
			for _, c := range saved.Certified[i+1:] {
				if c.ParentID == b.ID() {
					qc = c.QC
					break
				}
			}
		}
		if qc.BlockID == b.ID() {
			e.core.addCertified(&out, b, qc, "store")
		}
	}
	e.core.prune()
	if len(out.Finalized) > 0 {
		if err := cfg.Store.Save(Update{Finalized: out.Finalized, TipQC: e.core.tipQC}); err != nil {
			return nil, fmt.Errorf("follower: save restored finality: %w", err)
		}
	}
	e.finalizedHeight.Store(e.core.finalized().Height)
	m.finalizedHeight.Set(float64(e.core.finalized().Height))
	return e, nil
}

// Start launches the verification workers. Inputs handed to Submit are
// processed by them until Stop.
func (e *Engine) Start() {
	e.start.Do(func() {
		for i := 0; i < e.cfg.Workers; i++ {
			e.wg.Add(1)
			go e.worker()
		}
	})
}

// Stop ends the workers; queued inputs are answered with ErrStopped.
func (e *Engine) Stop() {
	e.cancel()
	e.wg.Wait()
	for {
		select {
		case in := <-e.jobs:
			if in.Done != nil {
				in.Done(ErrStopped)
			}
		default:
			return
		}
	}
}

// Done is closed when the engine stops (Stop, or a fatal error).
func (e *Engine) Done() <-chan struct{} { return e.ctx.Done() }

// Err is the fatal error that stopped the engine, or nil.
func (e *Engine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *Engine) worker() {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case in := <-e.jobs:
			err := e.Handle(in)
			if in.Done != nil {
				in.Done(err)
			}
		}
	}
}

// Submit queues an input for the worker pool, waiting while the queue is
// full (back-pressure on the sync client) until ctx ends.
func (e *Engine) Submit(ctx context.Context, in Input) error {
	select {
	case e.jobs <- in:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.ctx.Done():
		return ErrStopped
	}
}

// TrySubmit queues an input if the queue has room; a live stream that
// outruns the workers drops (and counts) rather than waits.
func (e *Engine) TrySubmit(in Input) bool {
	select {
	case e.jobs <- in:
		return true
	default:
		e.m.rejected.WithLabelValues("queue_full").Inc()
		return false
	}
}

// Handle processes one input on the calling goroutine.
func (e *Engine) Handle(in Input) error {
	switch {
	case in.Proposal != nil && in.Blocks == nil:
		return e.HandleProposal(in.From, in.Proposal)
	case in.Proposal == nil && in.Blocks != nil:
		return e.HandleRange(in.From, in.Blocks, in.QC)
	}
	return fmt.Errorf("%w: input must be a proposal or a range", ErrInvalid)
}

// HandleProposal validates a single proposal and adds it.
func (e *Engine) HandleProposal(from string, p *model.Proposal) error {
	if p == nil || p.Block == nil || p.Block.IsRoot() {
		err := fmt.Errorf("%w: empty proposal", ErrInvalid)
		e.rep.invalid(from, 0, model.ZeroID, err)
		return err
	}
	b := p.Block
	sched := e.cfg.Schedule()
	if err := e.knownEpoch(sched, b.View); err != nil {
		return err
	}
	if err := e.admit(func(c *core) error { return c.admitProposal(b) }); err != nil {
		return err
	}
	e.m.qcChecks.Inc()
	v := verify.New(e.cfg.Root.ChainID, sched, e.cfg.Scheme, e.cfg.RootQC)
	if e.cfg.LeadersFromAncestry {
		v = v.LeadersFromAncestry()
	}
	if err := v.Proposal(p); err != nil {
		return e.rejected(from, b, err)
	}
	return e.apply(func(c *core) (outcome, error) {
		out, err := c.addProposal(from, p)
		if err == nil && e.cfg.OnProposal != nil {
			e.cfg.OnProposal(p)
		}
		return out, err
	})
}

// Report records misbehaviour found outside the engine (an undecodable
// answer, a malformed stream frame): the peer is reported like one that
// sent an invalid block.
func (e *Engine) Report(peer string, err error) {
	e.rep.invalid(peer, 0, model.ZeroID, err)
}

// HandleRange validates a range of connected blocks with one QC check and
// adds them.
func (e *Engine) HandleRange(from string, blocks []*model.Block, qc *model.QC) error {
	if err := checkRange(blocks, qc, e.cfg.MaxRange); err != nil {
		var b *model.Block
		if len(blocks) > 0 {
			b = blocks[len(blocks)-1]
		}
		return e.rejected(from, b, err)
	}
	first, last := blocks[0], blocks[len(blocks)-1]
	sched := e.cfg.Schedule()
	if err := e.knownEpoch(sched, last.View); err != nil {
		return err
	}
	if err := e.knownEpoch(sched, first.View); err != nil {
		return err
	}
	if err := e.admit(func(c *core) error { return c.admitRange(blocks) }); err != nil {
		return err
	}
	v := verify.New(e.cfg.Root.ChainID, sched, e.cfg.Scheme, e.cfg.RootQC)
	if e.cfg.PerBlockValidation {
		for i, b := range blocks[:len(blocks)-1] {
			e.m.qcChecks.Inc()
			if err := v.QC(blocks[i+1].QC); err != nil {
				return e.rejected(from, b, err)
			}
		}
	}
	e.m.qcChecks.Inc()
	if err := v.QC(qc); err != nil {
		return e.rejected(from, last, err)
	}
	return e.apply(func(c *core) (outcome, error) { return c.addRange(from, blocks, qc), nil })
}

// checkRange checks a range's shape and hash links: each block's parent is
// the previous one, and the QC certifies the last. Block IDs were computed
// from the bytes received, so a link that holds is a hash that matches.
func checkRange(blocks []*model.Block, qc *model.QC, max int) error {
	if len(blocks) == 0 || len(blocks) > max {
		return fmt.Errorf("%w: range of %d blocks (1..%d)", ErrInvalid, len(blocks), max)
	}
	for i, b := range blocks {
		if b == nil || b.IsRoot() {
			return fmt.Errorf("%w: range holds a root or empty block at %d", ErrInvalid, i)
		}
		if i == 0 {
			continue
		}
		p := blocks[i-1]
		if b.ParentID != p.ID() || b.Height != p.Height+1 || b.QC.View != p.View {
			return fmt.Errorf("%w: block %v (view %d, height %d) does not link to %v (view %d, height %d)",
				ErrInvalid, b.ID(), b.View, b.Height, p.ID(), p.View, p.Height)
		}
	}
	last := blocks[len(blocks)-1]
	if qc == nil || qc.BlockID != last.ID() || qc.View != last.View {
		return fmt.Errorf("%w: range tip %v (view %d) has no certificate for it", ErrInvalid, last.ID(), last.View)
	}
	return nil
}

func (e *Engine) knownEpoch(s committee.Schedule, v model.View) error {
	if _, err := s.CommitteeAt(v); err != nil {
		e.m.rejected.WithLabelValues("unknown_epoch").Inc()
		return fmt.Errorf("%w: view %d: %v", ErrUnknownEpoch, v, err)
	}
	return nil
}

// admit runs a cheap bookkeeping check under the lock, counting rejections.
func (e *Engine) admit(check func(*core) error) error {
	e.mu.Lock()
	err := check(e.core)
	if e.err != nil {
		err = fmt.Errorf("%w: %v", ErrStopped, e.err)
	}
	e.mu.Unlock()
	if err != nil {
		e.count(err)
	}
	return err
}

// rejected classifies a failed verification: a certificate from an unknown
// epoch is benign; anything else is the sender's fault.
func (e *Engine) rejected(from string, b *model.Block, err error) error {
	if errors.Is(err, committee.ErrUnknownView) {
		e.m.rejected.WithLabelValues("unknown_epoch").Inc()
		return fmt.Errorf("%w: %v", ErrUnknownEpoch, err)
	}
	if !errors.Is(err, ErrInvalid) {
		err = fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var (
		view model.View
		id   model.Identifier
	)
	if b != nil {
		view, id = b.View, b.ID()
	}
	e.rep.invalid(from, view, id, err)
	return err
}

func (e *Engine) count(err error) {
	reason := "other"
	switch {
	case errors.Is(err, ErrStale):
		reason = "stale"
	case errors.Is(err, ErrKnown):
		reason = "known"
	case errors.Is(err, ErrViewFull):
		reason = "view_full"
	case errors.Is(err, ErrViewCertified):
		reason = "view_certified"
	case errors.Is(err, ErrStopped):
		return
	}
	e.m.rejected.WithLabelValues(reason).Inc()
}

// apply runs a bookkeeping step under the lock and carries out its
// outcome: store first (one batch), then reports and callbacks.
func (e *Engine) apply(step func(*core) (outcome, error)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return ErrStopped
	}
	out, err := step(e.core)
	if err != nil {
		e.count(err)
		return err
	}
	for _, ev := range out.Evidence {
		e.rep.equivocation(ev.from, ev.ev)
	}
	for _, c := range out.Conflicts {
		e.rep.invalid(c.from, 0, model.ZeroID, fmt.Errorf("%w: %w", ErrInvalid, c.err))
	}
	if out.Evicted > 0 {
		e.m.evicted.Add(float64(out.Evicted))
	}
	if len(out.Certified) > 0 || len(out.Finalized) > 0 {
		u := Update{Certified: out.Certified, Finalized: out.Finalized, TipQC: e.core.tipQC}
		if len(out.Finalized) > 0 && e.cfg.BeforeSave != nil {
			var herr error
			if u.Extra, herr = e.cfg.BeforeSave(out.Finalized); herr != nil {
				e.failLocked(fmt.Errorf("follower: before saving finalized blocks: %w", herr))
				return e.err
			}
		}
		if serr := e.cfg.Store.Save(u); serr != nil {
			// The bookkeeping moved past what is on disk: continuing would
			// serve state that a restart forgets. Stop.
			e.failLocked(fmt.Errorf("follower: store: %w", serr))
			return e.err
		}
	}
	if out.Fatal != nil {
		e.failLocked(out.Fatal)
		return e.err
	}
	e.m.certified.Add(float64(len(out.Certified)))
	sz := e.core.sizes()
	e.m.uncertified.Set(float64(sz.Uncertified))
	e.m.uncertifiedBytes.Set(float64(sz.UncertifiedBytes))
	e.m.detached.Set(float64(sz.Detached))
	if len(out.Certified) > 0 && e.cfg.OnCertified != nil {
		e.cfg.OnCertified(out.Certified, e.core.tipQC)
	}
	if len(out.Finalized) > 0 {
		h := out.Finalized[len(out.Finalized)-1].Height
		e.finalizedHeight.Store(h)
		e.m.finalizedHeight.Set(float64(h))
		if e.cfg.OnFinalized != nil {
			e.cfg.OnFinalized(out.Finalized)
		}
	}
	return nil
}

func (e *Engine) failLocked(err error) {
	if e.err == nil {
		e.err = err
		e.cfg.Logger.Error("follower: stopping", "err", err)
		e.cancel()
	}
}

// QCChecks counts the signature checks of certificates and proposals made
// so far.
func (e *Engine) QCChecks() uint64 { return uint64(counterValue(e.m.qcChecks)) }

// FinalizedHeight is the height of the last finalized block.
func (e *Engine) FinalizedHeight() uint64 { return e.finalizedHeight.Load() }

// Finalized is the last finalized block.
func (e *Engine) Finalized() *model.Block {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.core.finalized()
}

// TipQC certifies the newest certified block the engine stored.
func (e *Engine) TipQC() *model.QC {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.core.tipQC
}

// Sizes reports the cache sizes.
func (e *Engine) Sizes() Sizes {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.core.sizes()
}

// Records returns the misbehaviour records kept (the newest MaxRecords,
// oldest first) and how many were ever made.
func (e *Engine) Records() ([]Record, uint64) { return e.rep.snapshot() }
