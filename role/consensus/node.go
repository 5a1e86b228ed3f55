// Package consensus is the consensus role (floe start, role =
// "consensus"): a committee member of the main chain. It is an assembly:
// the replica engine (package replica) driving the pure core for one chain,
// a ledger (package ledger: store, epochs, execution, reads), an
// authenticated transport, a signature verification pool, block sync, and
// transaction intake (mempool, gossip, the chain's no-repeat index). Until
// the pipeline moves execution to its own role, consensus nodes execute
// the blocks they finalize.
//
// Goroutines (each documented where it is started):
//   - consensus loop: the only owner of the engine and core; steps it,
//     persists each output (synced) and only then sends its messages;
//   - receive loop: decodes frames and routes them; never blocks on work;
//   - verification workers: check signatures before anything reaches the
//     core (votes optimistically, as one aggregate per block);
//   - sync server: answers block requests from the store;
//   - the ledger's executor: executes finalized blocks in height order;
//   - gossip and status tickers.
//
// Every queue between them is bounded; when one is full the message is
// dropped and counted, and consensus never waits.
package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/evidence"
	"github.com/floe-bft/floe/internal/service"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/network"
	"github.com/floe-bft/floe/replica"
	"github.com/floe-bft/floe/storage"
)

// loopEvent is one input for the consensus loop.
type loopEvent struct {
	ev   core.Event
	from model.NodeID
}

// Node is one running replica.
type Node struct {
	ledger.Served // blocks, state, streams, sync, chain pages, light proofs

	cfg    Config
	log    *slog.Logger
	self   model.NodeID
	name   string
	scheme crypto.Scheme

	// led is the finalized chain, its execution and the reads served from
	// it. Its epoch state is owned by the consensus loop.
	led         *ledger.Ledger
	epochParams epoch.Params // immutable
	governance  *epoch.Queue

	transport network.Transport
	mempool   *mempool.Mempool
	metrics   *metrics

	engine *replica.Engine // drives the core; owned by the consensus loop
	events chan loopEvent  // verified events for the consensus loop
	pool   *replica.Pool   // checks messages before they reach the loop
	serve  chan syncJob    // block requests waiting for the sync server
	votes  *replica.VoteBatcher

	// Shared read-mostly state published by the loop.
	view           atomic.Uint64
	leader         atomic.Pointer[model.NodeID] // of the current view, for status
	bestPeerHeight atomic.Uint64
	executedSignal chan struct{} // wakes the consensus loop for parked proposals (capacity 1)
	workSignal     chan struct{} // tells the consensus loop that there is something to order (capacity 1)

	sync   *syncClient
	outbox *outbox
	seen   *seenTxs  // submit times of local transactions, for latency
	chain  *chainTxs // transactions on recent chains; owned by the consensus loop
	// evidence keeps the equivocations the core reported (evidence.go).
	evidence *evidence.Log

	group *service.Group
	ctx   context.Context // the group's, from Start
}

// New opens the store and builds a node; Start runs it.
func New(cfg Config) (n *Node, err error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	if cfg.Keys == nil {
		return nil, fmt.Errorf("node config: keys are required")
	}
	n, st, err := open(cfg, cfg.Keys.NodeID())
	if err != nil {
		return nil, err
	}
	led := n.led // n is nil on the error returns below
	defer func() {
		if err != nil {
			led.Close()
		}
	}()
	self, sch := n.self, n.led.Directory().Schedule()

	params := cfg.Genesis.Params
	c, err := core.New(core.Config{
		Self: self, Key: cfg.Keys.Staking, Scheme: n.scheme, Schedule: sch,
		Timeouts: params.Timeouts(), Payloads: &payloads{n: n, maxBytes: params.MaxBlockBytes, maxTxs: params.MaxBlockTxs},
		MinBlockInterval:  time.Duration(params.BlockIntervalMS) * time.Millisecond,
		IdleBlockInterval: time.Duration(params.IdleBlockIntervalMS) * time.Millisecond,
		Reputation:        params.Reputation(),
	}, st)
	if err != nil {
		return nil, fmt.Errorf("restore consensus: %w", err)
	}
	glue := &nodeReplica{n: n, view: c.CurrentView()}
	n.engine, err = replica.New(replica.Config{Core: c, Store: glue, Transport: glue, Ready: glue, Observer: glue})
	if err != nil {
		return nil, err
	}
	n.view.Store(uint64(c.CurrentView()))

	var peers []network.Peer
	listen := cfg.P2PListen
	for _, m := range n.led.Directory().Peers() {
		if m.ID() == self {
			if listen == "" {
				listen = m.Address
			}
			continue
		}
		peers = append(peers, network.Peer{ID: m.ID(), NetworkKey: m.NetworkKey, Address: m.Address})
	}
	if listen == "" {
		return nil, fmt.Errorf("this node is in no known committee: set its peer-to-peer listen address (p2p_listen)")
	}
	if n.transport = cfg.Transport; n.transport == nil {
		if n.transport, err = network.NewTLS(network.Config{
			Self: self, Key: cfg.Keys.Network, ListenAddr: listen, Peers: peers, Logger: n.log,
		}); err != nil {
			return nil, fmt.Errorf("start transport: %w", err)
		}
	}
	registerTransportMetrics(cfg.Metrics, n.transport)
	n.sync = newSyncClient(n)
	return n, nil
}

// Start launches the node's goroutines. It returns at once; Done closes
// when the node stops (Stop, or a fatal error reported by Err).
func (n *Node) Start(ctx context.Context) error {
	n.ctx = n.group.Start(ctx)
	n.goFunc("consensus", n.consensusLoop)
	n.goFunc("receive", n.receiveLoop)
	n.goFunc("verify", func() { n.pool.Run(n.ctx) })
	n.goFunc("sync-server", n.syncServer)
	n.goFunc("executor", n.runLedger)
	n.goFunc("gossip", n.gossipLoop)
	n.goFunc("status", n.statusLoop)
	n.led.Wake()
	n.log.Info("node started", "node", n.name, "id", n.self, "view", n.view.Load(),
		"finalized", n.led.FinalizedHeight(), "executed", n.led.ExecutedHeight())
	return nil
}

func (n *Node) goFunc(_ string, fn func()) { n.group.Go(fn) }

// Stop shuts the node down and closes its store.
func (n *Node) Stop() { n.group.Stop() }

// Done is closed once the node has stopped.
func (n *Node) Done() <-chan struct{} { return n.group.Done() }

// Err is the fatal error that stopped the node, or nil.
func (n *Node) Err() error { return n.group.Err() }

// fatal stops the node loudly: an exception, not an expected condition.
func (n *Node) fatal(err error) { n.group.Fail(err) }

// ID is this node's identity.
func (n *Node) ID() model.NodeID { return n.self }

// receiveLoop routes inbound frames. It never blocks on downstream work:
// full queues drop and count.
func (n *Node) receiveLoop() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case in, ok := <-n.transport.Receive():
			if !ok {
				return
			}
			m, err := decodeMessage(in.Data)
			if err != nil {
				n.metrics.dropped.WithLabelValues("undecodable").Inc()
				n.log.Debug("undecodable message", "from", n.nameOf(in.From), "err", err)
				continue
			}
			n.route(in.From, m)
		}
	}
}

func (n *Node) route(from model.NodeID, m *message) {
	if !n.isKnownMember(from) {
		// The TLS transport admits only known members; this holds the
		// line for any transport (a shared in-memory network, say), so a
		// node of another chain cannot feed this one transactions, status
		// heights or sync requests.
		n.metrics.dropped.WithLabelValues("not_a_member").Inc()
		return
	}
	switch m.kind {
	case kindProposal:
		n.enqueueVerify(replica.Job{From: from, Message: core.Message{Proposal: m.proposal}})
	case kindTimeout:
		n.enqueueVerify(replica.Job{From: from, Message: core.Message{Timeout: m.timeout}})
	case kindSyncInfo:
		n.enqueueVerify(replica.Job{From: from, Message: core.Message{QC: m.qc, TC: m.tc}})
	case kindBlocks:
		n.enqueueVerify(replica.Job{From: from, Work: n.syncedBlocks(from, m.blocks)})
	case kindVote:
		if batch := n.votes.Add(m.vote, model.View(n.view.Load())); batch != nil {
			n.enqueueVerify(replica.Job{From: from, Votes: batch})
		}
	case kindBlockRequest, kindRangeRequest:
		select {
		case n.serve <- syncJob{from: from, msg: m}:
		default:
			n.metrics.dropped.WithLabelValues("sync_queue_full").Inc()
		}
	case kindTxs:
		for _, tx := range m.txs {
			// Gossiped transactions are not re-gossiped: every node gossips
			// what clients gave it to every peer directly.
			if _, err := n.mempool.Add(tx); err == nil {
				n.signalWork()
			}
		}
	case kindStatus:
		n.sync.onStatus(from, m.height, m.view)
	case kindServiceEvent:
		n.onPeerServiceEvent(from, m.event)
	}
}

func (n *Node) enqueueVerify(j replica.Job) {
	if !n.pool.Submit(j) {
		n.metrics.dropped.WithLabelValues("verify_queue_full").Inc()
		return
	}
	n.metrics.verifyQueue.Set(float64(n.pool.Len()))
}

// deliver hands a verified event to the consensus loop. Workers may wait
// here (they are not consensus); the receive loop never does.
func (n *Node) deliver(ev loopEvent) {
	select {
	case n.events <- ev:
	case <-n.ctx.Done():
	}
}

var errStopped = errors.New("node stopped")

// open builds what participants and followers share: the ledger (store,
// epochs, application state, execution) and an (idle for followers)
// mempool. It returns the consensus state found in the store.
func open(cfg Config, self model.NodeID) (*Node, core.State, error) {
	n := &Node{
		cfg: cfg, log: cfg.Logger, self: self, scheme: crypto.BLS(),
		governance:     &epoch.Queue{},
		metrics:        newMetrics(cfg.Metrics),
		events:         make(chan loopEvent, 4096),
		serve:          make(chan syncJob, 256),
		executedSignal: make(chan struct{}, 1),
		workSignal:     make(chan struct{}, 1),
		outbox:         &outbox{max: 100_000},
		seen:           newSeenTxs(200_000),
		chain:          newChainTxs(ledger.DedupWindow),
	}
	n.votes = replica.NewVoteBatcher(n.committeeAt)
	n.pool = n.newPool()
	led, st, err := ledger.Open(ledger.Config{
		Genesis: cfg.Genesis, Store: cfg.Store, DataDir: cfg.DataDir, Logger: cfg.Logger, Metrics: cfg.Metrics,
		Hooks: ledger.Hooks{Executed: n.onExecuted, Settled: n.governance.Remove},
	})
	if err != nil {
		return nil, st, err
	}
	n.led, n.epochParams, n.Served = led, led.EpochParams(), led.Served()
	// Stopping closes the transport first (the receive loop waits on it),
	// and the ledger's store once every goroutine has returned.
	n.group = service.New(n.log, "node", func() {
		if n.transport != nil {
			n.transport.Close()
		}
	}, led.Close)
	ok := false
	defer func() {
		if !ok {
			led.Close()
		}
	}()
	root, err := led.BlockByHeight(0)
	if err != nil {
		return nil, st, fmt.Errorf("genesis block: %w", err)
	}
	st = n.applyStartupFaults(st, root, led.RootQC())
	if st.Recent, err = recentFinalized(led.Store(), st.Root, cfg.Genesis.Params.Reputation().Span()); err != nil {
		return nil, st, fmt.Errorf("load recent finalized blocks: %w", err)
	}
	if n.evidence, err = evidence.Open(cfg.DataDir); err != nil {
		return nil, st, fmt.Errorf("load evidence log: %w", err)
	}
	for _, m := range led.Directory().Peers() {
		if m.ID() == self {
			n.name = m.Name
		}
	}
	if n.name == "" {
		n.name = self.String()
		n.log.Info("this node is in no known epoch's committee: it follows the chain until an epoch includes it")
	}
	n.mempool = mempool.New(mempool.Config{
		MaxTxs: cfg.MempoolMaxTxs, MaxBytes: cfg.MempoolMaxBytes, MaxTxBytes: maxTxBytes,
	}, n.led.CheckTx)
	if err := n.loadChainTxs(st); err != nil {
		return nil, st, fmt.Errorf("load recent transactions: %w", err)
	}
	ok = true
	return n, st, nil
}

// onExecuted is the ledger's report of an executed height: parked
// proposals may now be checked, and local transactions' latency is known.
func (n *Node) onExecuted(height uint64, ids []model.Identifier) {
	n.signalExecuted()
	now := time.Now()
	for _, id := range ids {
		if at, ok := n.seen.take(id); ok {
			n.metrics.finalizeLatency.Observe(now.Sub(at).Seconds())
		}
	}
}

// recentFinalized loads the finalized blocks below root that leader
// reputation reads (span views of history; none when it is off).
func recentFinalized(store interface {
	FinalizedByHeight(uint64) (*model.Block, error)
}, root *model.Block, span uint64) ([]*model.Block, error) {
	var out []*model.Block
	for h := root.Height; span > 0 && h > 0; {
		h--
		b, err := store.FinalizedByHeight(h)
		if errors.Is(err, storage.ErrNotFound) {
			break // below a snapshot root: nothing older is kept
		}
		if err != nil {
			return nil, err
		}
		if b.View+model.View(span) < root.View {
			break
		}
		out = append(out, b)
	}
	return out, nil
}
