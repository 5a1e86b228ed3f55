// Package consensus is the consensus role (floe start, role =
// "consensus"): a committee member of the main chain. It is an assembly:
// the main chain's runner (package chainrun: the replica engine driving the
// pure core, its verification pool, vote batching and block sync), a ledger
// (package ledger: store, epochs, execution, reads), an authenticated
// transport, and transaction intake (mempool, gossip, the chain's
// no-repeat index). In a pipeline network (pipeline.go) it holds no
// transactions: it orders collection guarantees and carries execution
// nodes' receipts; otherwise it executes the blocks it finalizes.
//
// Goroutines (each documented where it is started):
//   - the runner's: the consensus loop (the only owner of the engine and
//     core), verification workers, the sync server, status announcements;
//   - receive loop: decodes frames and routes them; never blocks on work;
//   - the ledger's executor: executes finalized blocks in height order;
//   - gossip and metrics tickers.
//
// Every queue between them is bounded; when one is full the message is
// dropped and counted, and consensus never waits.
package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/floe-bft/floe/chainrun"
	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/evidence"
	"github.com/floe-bft/floe/internal/service"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/network"
	"github.com/floe-bft/floe/storage"
)

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

	run *chainrun.Runner // the main chain's replica: engine, verification, sync

	outbox *outbox
	seen   *seenTxs  // submit times of local transactions, for latency
	chain  *chainTxs // transactions on recent chains; owned by the consensus loop
	// pipe is set in a pipeline network (genesis params.clusters > 0):
	// guarantees and receipts instead of transactions (pipeline.go).
	pipe *pipeline
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
	glue := &nodeReplica{n: n}
	n.run, err = chainrun.New(chainrun.Config{
		Self: self, Core: c, Host: mainChain{n}, Hooks: glue.hooks(), Transport: n.transport, Now: n.now,
		VerifyWorkers: cfg.VerifyWorkers, VerifyQueue: cfg.VerifyQueue, StatusInterval: cfg.StatusInterval,
		Logger: n.log, Metrics: n.metrics.Metrics,
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Start launches the node's goroutines. It returns at once; Done closes
// when the node stops (Stop, or a fatal error reported by Err).
func (n *Node) Start(ctx context.Context) error {
	n.ctx = n.group.Start(ctx)
	n.run.Start(n.ctx, n.group.Go, n.fatal)
	n.goFunc("receive", n.receiveLoop)
	n.goFunc("executor", n.runLedger)
	n.goFunc("gossip", n.gossipLoop)
	n.led.Wake()
	n.log.Info("node started", "node", n.name, "id", n.self, "view", n.run.View(),
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
			n.route(in.From, in.Data)
		}
	}
}

// route hands consensus and sync frames to the runner and handles the
// main chain's own kinds (transaction gossip, service events).
func (n *Node) route(from model.NodeID, frame []byte) {
	m, err := chainrun.Decode(frame)
	if errors.Is(err, chainrun.ErrForeignKind) {
		n.routeRole(from, frame)
		return
	}
	if err != nil {
		n.undecodable(from, err)
		return
	}
	n.run.Handle(from, m)
}

func (n *Node) routeRole(from model.NodeID, frame []byte) {
	m, err := decodeRoleMessage(frame)
	if err != nil {
		n.undecodable(from, err)
		return
	}
	if !n.isKnownMember(from) {
		// The TLS transport admits only known members; this holds the
		// line for any transport (a shared in-memory network, say), so a
		// node of another chain cannot feed this one transactions.
		n.metrics.Dropped.WithLabelValues("not_a_member").Inc()
		return
	}
	switch m.kind {
	case kindTxs:
		if n.pipe != nil {
			// No transaction enters a pipeline network's consensus nodes.
			n.metrics.Dropped.WithLabelValues("pipeline_txs").Inc()
			return
		}
		for _, tx := range m.txs {
			// Gossiped transactions are not re-gossiped: every node gossips
			// what clients gave it to every peer directly.
			if _, err := n.mempool.Add(tx); err == nil {
				n.run.SignalWork()
			}
		}
	case kindServiceEvent:
		n.onPeerServiceEvent(from, m.event)
	}
}

func (n *Node) undecodable(from model.NodeID, err error) {
	n.metrics.Dropped.WithLabelValues("undecodable").Inc()
	n.log.Debug("undecodable message", "from", n.nameOf(from), "err", err)
}

// open builds what participants and followers share: the ledger (store,
// epochs, application state, execution) and an (idle for followers)
// mempool. It returns the consensus state found in the store.
func open(cfg Config, self model.NodeID) (*Node, core.State, error) {
	n := &Node{
		cfg: cfg, log: cfg.Logger, self: self, scheme: crypto.BLS(),
		governance: &epoch.Queue{},
		metrics:    newMetrics(cfg.Metrics),
		outbox:     &outbox{max: 100_000},
		seen:       newSeenTxs(200_000),
		chain:      newChainTxs(ledger.DedupWindow),
	}
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
	if cfg.Genesis.Params.Clusters > 0 {
		if n.pipe, err = newPipeline(n, st); err != nil {
			return nil, st, fmt.Errorf("load included guarantees: %w", err)
		}
	} else if err := n.loadChainTxs(st); err != nil {
		return nil, st, fmt.Errorf("load recent transactions: %w", err)
	}
	ok = true
	return n, st, nil
}

// onExecuted is the ledger's report of an executed height: parked
// proposals may now be checked, and local transactions' latency is known.
func (n *Node) onExecuted(height uint64, ids []model.Identifier) {
	if n.run != nil { // nil while the ledger opens
		n.run.SignalRetry()
	}
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
