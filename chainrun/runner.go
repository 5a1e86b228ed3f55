// Package chainrun runs one chain's replica inside a node process: the
// consensus loop that alone steps the replica engine (package replica), the
// verification pool that checks every message before it reaches the loop,
// vote batching, block sync (fetches, range sync from peers' height
// announcements, and the server answering peers' requests), and the wire
// frames of all of it. A role is an assembly around Runners: the consensus
// role runs one for the main chain, a collector one per cluster chain it
// belongs to. What differs between chains (the store, the payload rules,
// who the members are, what finalization means) comes in through Host and
// Hooks.
//
// Goroutines (started by Start in the caller's service group):
//   - consensus loop: the only owner of the engine and core; steps it, and
//     the engine persists each output (synced) before sending its messages;
//   - verification workers: check signatures before anything reaches the
//     core (votes optimistically, as one aggregate per block);
//   - sync server: answers block requests from the chain's store;
//   - status: announces the finalized height to the members every
//     StatusInterval (height polls for range sync).
//
// The caller's receive loop hands frames to Handle, which never blocks:
// every queue is bounded, and a full one drops and counts the message.
package chainrun

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/network"
	"github.com/floe-bft/floe/replica"
)

// Host is what a Runner reads about its chain. Its methods are called from
// several goroutines and must be safe for that.
type Host interface {
	// Verifier checks messages under the current schedule.
	Verifier() *verify.Verifier
	// CommitteeAt is the committee of view v under the current schedule.
	CommitteeAt(v model.View) (*committee.Committee, error)
	// IsMember reports whether id may send this chain's frames.
	IsMember(id model.NodeID) bool
	// Peers lists the other members, in canonical order: whom sync asks.
	Peers() []model.NodeID
	// NameOf names a member for logs.
	NameOf(id model.NodeID) string
	// FinalizedHeight is the height of the newest finalized block stored.
	FinalizedHeight() uint64
	// Block returns a stored block (finalized or not) by ID.
	Block(id model.Identifier) (*model.Block, error)
	// FinalizedRange returns finalized blocks from..to, at most max.
	FinalizedRange(from, to uint64, max int) ([]*model.Block, error)
}

// Hooks are the role's part of driving the engine. Store is required; the
// rest are optional.
type Hooks struct {
	// Store persists each output before anything of it is sent.
	Store replica.Store
	// Ready tells whether a proposal's payload can be checked now (nil:
	// always).
	Ready replica.Readiness
	// ReadyBlocks: Ready gates synced blocks too (replica.Config.ReadyBlocks).
	ReadyBlocks bool
	// Stepped sees every output before it takes effect.
	Stepped func(ev core.Event, out *core.Output, err error)
	// Applied runs after an output was persisted and sent, before the
	// runner's own bookkeeping (fetches, evidence, view change).
	Applied func(ev core.Event, out *core.Output)
	// Proposed sees each proposal this replica sends.
	Proposed func(p *model.Proposal)
	// Evidence records an equivocation the core reported (after the
	// runner counted and logged it).
	Evidence func(e model.Evidence)
	// Status runs on every status announcement (the role refreshes its
	// gauges there).
	Status func()
}

// Sender is the runner's side of the transport: frames to the chain's
// members. A network.Transport is one; a process running several chains
// over one transport gives each a Sender that tags its frames.
type Sender interface {
	Send(to model.NodeID, frame []byte) bool
	Broadcast(frame []byte)
	Peers() []network.PeerStatus
}

// Config assembles a Runner.
type Config struct {
	Self      model.NodeID
	Core      *core.Core
	Host      Host
	Hooks     Hooks
	Transport Sender
	// Now is the replica's clock (default time.Now); the end-to-end
	// runner's clock faults skew it.
	Now func() time.Time
	// VerifyWorkers is the size of the verification pool (default 2).
	VerifyWorkers int
	// VerifyQueue bounds messages waiting for verification (default 8192).
	VerifyQueue int
	// StatusInterval is how often the finalized height is announced
	// (default 1s).
	StatusInterval time.Duration
	// MaxParked bounds proposals waiting for Ready (replica default if 0).
	MaxParked int
	Logger    *slog.Logger
	Metrics   *Metrics // required: NewMetrics
}

// loopEvent is one input for the consensus loop.
type loopEvent struct {
	ev   core.Event
	from model.NodeID
}

// Runner runs one chain's replica. See the package comment.
type Runner struct {
	cfg     Config
	self    model.NodeID
	host    Host
	hooks   Hooks
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	out     Sender

	engine *replica.Engine // owned by the consensus loop
	events chan loopEvent  // verified events for the consensus loop
	pool   *replica.Pool   // checks messages before they reach the loop
	serve  chan syncJob    // block requests waiting for the sync server
	votes  *replica.VoteBatcher
	sync   *syncClient

	retrySignal chan struct{} // parked proposals may be checkable now (capacity 1)
	workSignal  chan struct{} // something to order arrived (capacity 1)

	// Shared read-mostly state published by the loop.
	view           atomic.Uint64
	leader         atomic.Pointer[model.NodeID] // of the current view
	bestPeerHeight atomic.Uint64
	// lastView is the core's view after the previous output (loop only).
	lastView model.View

	ctx context.Context
}

// New builds a Runner; Start runs it.
func New(cfg Config) (*Runner, error) {
	if cfg.Core == nil || cfg.Host == nil || cfg.Hooks.Store == nil || cfg.Transport == nil || cfg.Metrics == nil {
		return nil, fmt.Errorf("chainrun: core, host, store, transport and metrics are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		cfg: cfg, self: cfg.Self, host: cfg.Host, hooks: cfg.Hooks, log: cfg.Logger, metrics: cfg.Metrics,
		now: cfg.Now, out: cfg.Transport,
		events:      make(chan loopEvent, 4096),
		serve:       make(chan syncJob, 256),
		retrySignal: make(chan struct{}, 1),
		workSignal:  make(chan struct{}, 1),
	}
	r.votes = replica.NewVoteBatcher(cfg.Host.CommitteeAt)
	r.pool = replica.NewPool(replica.PoolConfig{
		Workers:  cfg.VerifyWorkers,
		Queue:    cfg.VerifyQueue,
		Verifier: cfg.Host.Verifier,
		Deliver: func(_ context.Context, from model.NodeID, ev core.Event) {
			r.deliver(loopEvent{ev: ev, from: from})
		},
		Rejected: func(from model.NodeID, err error) {
			r.metrics.Dropped.WithLabelValues("invalid").Inc()
			r.log.Warn("rejected message", "from", r.host.NameOf(from), "err", err)
		},
	})
	engine, err := replica.New(replica.Config{Core: cfg.Core, Store: cfg.Hooks.Store, Transport: (*glue)(r),
		Ready: cfg.Hooks.Ready, ReadyBlocks: cfg.Hooks.ReadyBlocks, Observer: (*glue)(r), MaxParked: cfg.MaxParked})
	if err != nil {
		return nil, err
	}
	r.engine = engine
	r.lastView = cfg.Core.CurrentView()
	r.view.Store(uint64(r.lastView))
	r.sync = newSyncClient(r)
	return r, nil
}

// Start launches the runner's goroutines with goFunc (a service group's
// Go), under ctx. A fatal error from the engine goes to fail.
func (r *Runner) Start(ctx context.Context, goFunc func(func()), fail func(error)) {
	r.ctx = ctx
	goFunc(func() { r.consensusLoop(fail) })
	goFunc(func() { r.pool.Run(ctx) })
	goFunc(r.syncServer)
	goFunc(r.statusLoop)
}

// View is the replica's current view.
func (r *Runner) View() model.View { return model.View(r.view.Load()) }

// Leader is the leader of the current view, if known.
func (r *Runner) Leader() (model.NodeID, bool) {
	if p := r.leader.Load(); p != nil {
		return *p, true
	}
	return model.ZeroID, false
}

// BestPeerHeight is the highest finalized height a peer announced.
func (r *Runner) BestPeerHeight() uint64 { return r.bestPeerHeight.Load() }

// SignalWork wakes an idle leader: something to order arrived.
func (r *Runner) SignalWork() {
	select {
	case r.workSignal <- struct{}{}:
	default:
	}
}

// SignalRetry tells the loop that parked proposals may be checkable now
// (the role's Ready changed its answer).
func (r *Runner) SignalRetry() {
	select {
	case r.retrySignal <- struct{}{}:
	default:
	}
}

// Handle routes one decoded frame from a member. It never blocks: full
// queues drop and count.
func (r *Runner) Handle(from model.NodeID, m *Message) {
	if !r.host.IsMember(from) {
		// The TLS transport admits only known peers; this holds the line
		// for any transport (a shared in-memory network, a process running
		// several chains), so a node of another chain cannot feed this one
		// messages, status heights or sync requests.
		r.metrics.Dropped.WithLabelValues("not_a_member").Inc()
		return
	}
	switch m.kind {
	case kindProposal:
		r.enqueueVerify(replica.Job{From: from, Message: core.Message{Proposal: m.proposal}})
	case kindTimeout:
		r.enqueueVerify(replica.Job{From: from, Message: core.Message{Timeout: m.timeout}})
	case kindSyncInfo:
		r.enqueueVerify(replica.Job{From: from, Message: core.Message{QC: m.qc, TC: m.tc}})
	case kindBlocks:
		r.enqueueVerify(replica.Job{From: from, Work: r.syncedBlocks(from, m.blocks)})
	case kindVote:
		if batch := r.votes.Add(m.vote, r.View()); batch != nil {
			r.enqueueVerify(replica.Job{From: from, Votes: batch})
		}
	case kindBlockRequest, kindRangeRequest:
		select {
		case r.serve <- syncJob{from: from, msg: m}:
		default:
			r.metrics.Dropped.WithLabelValues("sync_queue_full").Inc()
		}
	case kindStatus:
		r.sync.onStatus(from, m.height, m.view)
	}
}

func (r *Runner) enqueueVerify(j replica.Job) {
	if !r.pool.Submit(j) {
		r.metrics.Dropped.WithLabelValues("verify_queue_full").Inc()
		return
	}
	r.metrics.VerifyQueue.Set(float64(r.pool.Len()))
}

// deliver hands a verified event to the consensus loop. Workers may wait
// here (they are not consensus); the receive loop never does.
func (r *Runner) deliver(ev loopEvent) {
	select {
	case r.events <- ev:
	case <-r.ctx.Done():
	}
}

// send puts one message the engine released on the wire (or, for the
// replica's own vote, into its vote batch).
func (r *Runner) send(m core.Message) {
	var frame []byte
	switch {
	case m.Proposal != nil:
		frame = encodeProposal(m.Proposal)
		r.metrics.Proposals.Inc()
		if r.hooks.Proposed != nil {
			r.hooks.Proposed(m.Proposal)
		}
	case m.Vote != nil:
		if m.To == r.self {
			// Our own vote, for the view we lead next, joins the batch of
			// votes for its block like anyone's, so that the batch reaches
			// a supermajority with it.
			if batch := r.votes.Add(m.Vote, r.engine.Core().CurrentView()); batch != nil {
				r.enqueueVerify(replica.Job{From: r.self, Votes: batch})
			}
			return
		}
		frame = encodeVote(m.Vote)
	case m.Timeout != nil:
		frame = encodeTimeout(m.Timeout)
		r.metrics.Timeouts.Inc()
	case m.QC != nil:
		frame = encodeSyncInfo(m.QC, m.TC)
	default:
		return
	}
	if m.Broadcast {
		r.out.Broadcast(frame)
		return
	}
	if !r.out.Send(m.To, frame) {
		r.metrics.Dropped.WithLabelValues("send_queue_full").Inc()
	}
}
