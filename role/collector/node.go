package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/internal/service"
	"github.com/floe-bft/floe/network"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/role/observer"
	"github.com/floe-bft/floe/storage"
)

// NodeConfig configures a collection-role node (floe start with role =
// "collection").
type NodeConfig struct {
	Genesis *genesis.Genesis
	Keys    *genesis.NodeKeys
	// DataDir holds the followed main chain (DataDir/main) and one Pebble
	// database per cluster chain (DataDir/clusters/<chain hex>).
	DataDir string
	// Upstreams are the consensus (or observer) APIs the main chain is
	// followed from; empty: the genesis api of every consensus member.
	Upstreams []string
	// Consensus are the consensus nodes' APIs guarantees go to; empty: the
	// genesis api of every consensus member.
	Consensus []string
	// P2PListen is where cluster members connect; empty: this node's
	// genesis address.
	P2PListen string
	// Transport, when set, replaces the TLS transport (tests run on a
	// network.MemoryNetwork). The node closes it when it stops.
	Transport network.Transport
	// PoolTxs, PoolBytes bound each cluster's pending transactions
	// (defaults 100,000 and 64 MiB); MaxGuarantees its formed guarantees
	// not yet taken (1024); Retain its finalized collections kept to
	// serve (4096).
	PoolTxs, PoolBytes, MaxGuarantees, Retain int
	// MaxHandoff bounds guarantees taken from the clusters and not yet
	// answered by every consensus node or seen included (default 1024);
	// HandoffBatch the guarantees of one request (default
	// collection.DefaultMaxGuarantees).
	MaxHandoff, HandoffBatch int
	// MaxBodyBytes bounds a transaction batch (default 16 MiB) and
	// MaxBatchTxs its transactions (default 10,000).
	MaxBodyBytes int64
	MaxBatchTxs  int
	// MaxUnresolved bounds the accepted transactions whose reference
	// block this node has not followed yet (default 10,000); each waits
	// at most 30 s for it.
	MaxUnresolved int
	// PollInterval is how often upstream heights are polled (default 1s).
	PollInterval time.Duration
	// ObserverWorkers and MaxUncertified tune the follower (observer.Config).
	ObserverWorkers, MaxUncertified int

	// WithholdCollections is a test fault (EnvWithholdCollections): the
	// node signs and hands off guarantees as usual but answers every
	// request for a collection with 404, as a byzantine guarantor would.
	// Execution nodes must fetch from another signer. Never set it on a
	// real network.
	WithholdCollections bool
	// ForgeGuarantees is a test fault (EnvForgeGuarantees): the node
	// hands every guarantee to consensus nodes with a broken signature,
	// as a byzantine member would; they must refuse it (and count it)
	// and include the honest members' copies.
	ForgeGuarantees bool

	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// Node errors.
var (
	// ErrNotCollecting: this node is in no cluster of the transaction's
	// epoch.
	ErrNotCollecting = errors.New("this node collects for no cluster of that epoch")
	// ErrEpochNotRunning: the transaction's reference block is of an epoch
	// whose cluster this node does not run (over, or not begun here yet).
	ErrEpochNotRunning = errors.New("the cluster of the transaction's epoch is not running on this node")
	// ErrNotReady: the node has not followed the main chain far enough to
	// run a cluster yet; retry later.
	ErrNotReady = errors.New("collector not ready: still following the main chain, retry later")
	// ErrUseCollectorEndpoint refuses POST /v1/transactions on a collector.
	ErrUseCollectorEndpoint = errors.New("this node is a collector: submit collection transactions to /v1/collector/transactions")
)

// retiredKeep is how many stopped clusters (previous epochs) keep serving
// their retained collections.
const retiredKeep = 2

// Node is a running collection-role node: an observer of the main chain,
// the cluster of the current epoch it belongs to, the intake and reads of
// its HTTP API, and the hand-off of guarantees to the consensus nodes.
type Node struct {
	*observer.Observer // the common read API and the follower of the main chain

	cfg       NodeConfig
	log       *slog.Logger
	self      model.NodeID
	main      model.ChainID
	scheme    crypto.Scheme
	rules     collection.Rules // Expiry and Limits; the rest per cluster
	refs      *Refs
	tracker   *mainTracker
	ho        *handoff
	txs       *txIndex
	waiting   *unresolved // accepted with a reference not followed yet
	metrics   *nodeMetrics
	reg       prometheus.Registerer
	transport network.Transport

	mu      sync.RWMutex
	running *runningCluster
	retired []*runningCluster

	group *service.Group
	ctx   context.Context
}

// runningCluster is one cluster chain this node runs (or ran).
type runningCluster struct {
	c       *Cluster
	epoch   uint64
	members map[model.NodeID]bool // the other members
	store   *storage.Pebble
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// EnvWithholdCollections=true sets NodeConfig.WithholdCollections (the
// end-to-end runner's byzantine guarantor, docs/e2e.md).
const EnvWithholdCollections = "FLOE_TEST_WITHHOLD_COLLECTIONS"

// EnvForgeGuarantees=true sets NodeConfig.ForgeGuarantees.
const EnvForgeGuarantees = "FLOE_TEST_FORGE_GUARANTEES"

// NewNode opens the stores and builds a collector; Start runs it.
func NewNode(cfg NodeConfig) (n *Node, err error) {
	if cfg.Genesis == nil || cfg.Keys == nil || cfg.DataDir == "" {
		return nil, errors.New("collector: genesis, keys and a data directory are required")
	}
	defaults := cfg.Genesis.RoleAPIs(epoch.RoleConsensus)
	if len(cfg.Upstreams) == 0 {
		cfg.Upstreams = defaults
	}
	if len(cfg.Consensus) == 0 {
		cfg.Consensus = defaults
	}
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("collector: no main-chain upstream: no consensus member lists an api in the genesis file and none is configured ([follower] upstreams)")
	}
	if len(cfg.Consensus) == 0 {
		return nil, errors.New("collector: no consensus node to hand guarantees to: no consensus member lists an api in the genesis file")
	}
	if cfg.MaxHandoff <= 0 {
		cfg.MaxHandoff = 1024
	}
	if cfg.HandoffBatch <= 0 {
		cfg.HandoffBatch = collection.DefaultMaxGuarantees
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	if cfg.MaxBatchTxs <= 0 {
		cfg.MaxBatchTxs = 10_000
	}
	if cfg.Retain <= 0 {
		cfg.Retain = 4096
	}
	if cfg.MaxUnresolved <= 0 {
		cfg.MaxUnresolved = defaultMaxUnresolved
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	genesisEpochs, err := cfg.Genesis.EpochState()
	if err != nil {
		return nil, err
	}
	n = &Node{
		cfg: cfg, log: cfg.Logger, self: cfg.Keys.NodeID(), main: model.MainChain(cfg.Genesis.ChainID),
		scheme: crypto.BLS(), reg: cfg.Metrics,
		rules:   collection.Rules{Expiry: collection.DefaultExpiry, Limits: collection.DefaultLimits()},
		txs:     newTxIndex(cfg.Retain * (retiredKeep + 1)),
		waiting: newUnresolved(cfg.MaxUnresolved, unresolvedGrace),
	}
	if _, ok := genesisEpochs.Schedule().Last().Member(n.self); !ok {
		return nil, fmt.Errorf("collector: this node (%v) is not a member of the genesis epoch", n.self)
	}
	n.refs = NewRefs(2 * n.rules.Expiry)
	n.metrics = newNodeMetrics(cfg.Metrics, n.poolTxs)
	n.ho = newHandoff(cfg.Consensus, cfg.MaxHandoff, cfg.HandoffBatch, n.rules.Expiry, n.refs, n.metrics, n.log)
	n.ho.forge = cfg.ForgeGuarantees

	mainDir := filepath.Join(cfg.DataDir, "main")
	if err := os.MkdirAll(mainDir, 0o700); err != nil {
		return nil, err
	}
	o, err := observer.New(observer.Config{
		Genesis: cfg.Genesis, DataDir: mainDir, Upstreams: cfg.Upstreams,
		Workers: cfg.ObserverWorkers, MaxUncertified: cfg.MaxUncertified, PollInterval: cfg.PollInterval,
		OnFinalized: func(final []*model.Block) { n.tracker.finalized(final) },
		Logger:      n.log, Metrics: cfg.Metrics,
	})
	if err != nil {
		return nil, err
	}
	n.Observer = o
	n.tracker = newMainTracker(o, genesisEpochs, payload.Limits{MaxTxs: cfg.Genesis.Params.MaxBlockTxs}, n.refs)
	n.tracker.included = n.ho.included
	n.tracker.advanced = n.advanced

	if n.transport = cfg.Transport; n.transport == nil {
		listen := cfg.P2PListen
		if listen == "" {
			m, _ := genesisEpochs.Schedule().Last().Member(n.self)
			listen = m.Address
		}
		if n.transport, err = network.NewTLS(network.Config{
			Self: n.self, Key: cfg.Keys.Network, ListenAddr: listen, Logger: n.log,
			// Frames of the cluster chains are the main chain's size plus the tag.
			MaxFrameSize: network.DefaultMaxFrameSize + chainTagLen,
		}); err != nil {
			o.Stop()
			return nil, fmt.Errorf("collector: start transport: %w", err)
		}
	}
	n.group = service.New(n.log, "collector", nil, n.cleanup)
	return n, nil
}

// Start runs the observer, the main-chain tracker (which starts the
// clusters), the receive loop and the hand-off. It returns at once.
func (n *Node) Start(ctx context.Context) error {
	n.ctx = n.group.Start(ctx)
	if err := n.Observer.Start(n.ctx); err != nil {
		return err
	}
	n.group.Go(func() {
		if err := n.tracker.run(n.ctx, n.cfg.PollInterval); err != nil {
			n.fatal(err)
		}
	})
	n.group.Go(n.receiveLoop)
	n.group.Go(n.pumpGuarantees)
	for i := range n.ho.targets {
		n.group.Go(func() { n.ho.run(n.ctx, i) })
	}
	n.group.Go(func() {
		select {
		case <-n.ctx.Done():
		case <-n.Observer.Done():
			if err := n.Observer.Err(); err != nil {
				n.fatal(fmt.Errorf("main-chain follower: %w", err))
			}
		}
	})
	n.log.Info("collector started", "id", n.self, "upstreams", len(n.cfg.Upstreams), "consensus", len(n.cfg.Consensus))
	return nil
}

// Stop stops the clusters, the transport and the follower.
func (n *Node) Stop() { n.group.Stop() }

// Done is closed once the node has stopped.
func (n *Node) Done() <-chan struct{} { return n.group.Done() }

// Err is the fatal error that stopped the node, or nil.
func (n *Node) Err() error { return n.group.Err() }

func (n *Node) fatal(err error) { n.group.Fail(err) }

func (n *Node) cleanup() error {
	n.mu.Lock()
	all := append([]*runningCluster{}, n.retired...)
	if n.running != nil {
		all = append(all, n.running)
	}
	n.mu.Unlock()
	var errs []error
	for _, rc := range all {
		errs = append(errs, rc.stop())
	}
	errs = append(errs, n.transport.Close())
	n.Observer.Stop()
	return errors.Join(errs...)
}

// stop stops the cluster's replica and closes its store; its retained
// collections stay readable. Stopping twice is harmless.
func (rc *runningCluster) stop() error {
	if rc.cancel == nil {
		return nil
	}
	rc.cancel()
	rc.wg.Wait()
	rc.cancel = nil
	return rc.store.Close()
}

// ID is this node's identity.
func (n *Node) ID() model.NodeID { return n.self }

// Status describes the node as its observer does, named for its role.
func (n *Node) Status() api.Status {
	st := n.Observer.Status()
	st.NodeID, st.Name = n.self, "collection"
	return st
}

// SubmitTxs refuses main-chain transactions: a collector takes collection
// transactions on its own endpoint.
func (n *Node) SubmitTxs(txs [][]byte) []api.Submission {
	out := make([]api.Submission, len(txs))
	for i := range out {
		out[i].Error = ErrUseCollectorEndpoint
	}
	return out
}

// Routes serves the collector's endpoints beside the common API.
func (n *Node) Routes(handle func(pattern string, h http.HandlerFunc)) {
	handle("POST /v1/collector/transactions", n.handleSubmit)
	handle("GET /v1/collector/transactions/{id}", n.handleTx)
	handle("GET /v1/collections/{id}", n.handleCollection)
}

// Main is the node's view of the followed main chain.
func (n *Node) Main() *Refs { return n.refs }

// Running is the chain of the cluster this node currently runs.
func (n *Node) Running() (model.ChainID, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.running == nil {
		return model.ZeroID, false
	}
	return n.running.c.Chain(), true
}

// Cluster returns the cluster replica this node currently runs, if any
// (tests and operators).
func (n *Node) Cluster() *Cluster {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.running == nil {
		return nil
	}
	return n.running.c
}

func (n *Node) poolTxs() float64 {
	if c := n.Cluster(); c != nil {
		return float64(c.Pending())
	}
	return 0
}

// advanced runs on the tracker's goroutine after each batch of followed
// blocks: expired hand-offs go, and the cluster of the current epoch
// runs.
func (n *Node) advanced() {
	n.ho.sweep()
	n.mu.RLock()
	cur := n.running
	n.mu.RUnlock()
	if cur != nil {
		cur.c.MainAdvanced()
	}
	e := n.tracker.current()
	if e == nil || !n.tracker.replayed() {
		return
	}
	if cur != nil && cur.epoch == e.Counter {
		return
	}
	if cur != nil {
		n.retire(cur)
	}
	idx, ok := e.ClusterOfNode(n.self)
	if !ok {
		n.log.Info("not a collector of this epoch", "epoch", e.Counter)
		return
	}
	rc, err := n.startCluster(e, idx)
	if err != nil {
		n.fatal(err)
		return
	}
	n.mu.Lock()
	n.running = rc
	n.mu.Unlock()
	n.log.Info("cluster started", "epoch", e.Counter, "cluster", idx, "chain", rc.c.Chain(), "members", len(rc.members)+1)
}

// retire stops a cluster's proposing and keeps it to serve its retained
// collections; the oldest retired beyond retiredKeep are forgotten.
func (n *Node) retire(rc *runningCluster) {
	if err := rc.stop(); err != nil {
		n.log.Warn("close a retired cluster's store", "chain", rc.c.Chain(), "err", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running == rc {
		n.running = nil
	}
	n.retired = append(n.retired, rc)
	if len(n.retired) > retiredKeep {
		n.retired = n.retired[1:]
	}
}

// startCluster opens cluster idx's chain of epoch e and runs its replica.
func (n *Node) startCluster(e *epoch.Epoch, idx int) (*runningCluster, error) {
	members, chain := e.Cluster(idx, n.main)
	rc := &runningCluster{epoch: e.Counter, members: map[model.NodeID]bool{}}
	names := map[model.NodeID]string{}
	for _, m := range members {
		names[m.ID()] = m.Name
		if m.ID() == n.self {
			continue
		}
		rc.members[m.ID()] = true
		if err := n.transport.AddPeer(network.Peer{ID: m.ID(), NetworkKey: m.NetworkKey, Address: m.Address}); err != nil {
			return nil, fmt.Errorf("collector: cluster peer %s: %w", m.Name, err)
		}
	}
	com, err := ClusterCommittee(n.scheme, members, chain)
	if err != nil {
		return nil, err
	}
	st, err := storage.OpenPebble(filepath.Join(n.cfg.DataDir, "clusters", chain.Hex()))
	if err != nil {
		return nil, fmt.Errorf("collector: open cluster chain store: %w", err)
	}
	rules := n.rules
	rules.K, rules.Index, rules.Epoch = uint32(len(e.Clusters)), uint32(idx), e.Counter
	p := n.cfg.Genesis.Params
	reg := prometheus.WrapRegistererWithPrefix("cluster_",
		prometheus.WrapRegistererWith(prometheus.Labels{"chain": chain.String()}, n.reg))
	c, err := New(Config{
		Self: n.self, Key: n.cfg.Keys.Staking, Scheme: n.scheme, Chain: chain, Committee: com, Rules: rules,
		Main: n.refs, Store: st, Transport: chainSender{t: n.transport, chain: chain, members: rc.members},
		Timeouts:      p.Timeouts(),
		BlockInterval: time.Duration(p.BlockIntervalMS) * time.Millisecond,
		IdleInterval:  time.Duration(p.IdleBlockIntervalMS) * time.Millisecond,
		PoolTxs:       n.cfg.PoolTxs, PoolBytes: n.cfg.PoolBytes, MaxGuarantees: n.cfg.MaxGuarantees, Retain: n.cfg.Retain,
		OnCollection: func(chain model.ChainID, col *collection.Collection) {
			n.metrics.collections.Inc()
			n.txs.collected(chain, col)
		},
		Names: func(id model.NodeID) string {
			if s, ok := names[id]; ok {
				return s
			}
			return id.String()
		},
		Logger: n.log, Registry: reg,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	rc.c, rc.store = c, st
	ctx, cancel := context.WithCancel(n.ctx)
	rc.cancel = cancel
	c.Start(ctx, func(f func()) {
		rc.wg.Add(1)
		go func() { defer rc.wg.Done(); f() }()
	}, n.fatal)
	return rc, nil
}

// receiveLoop hands each authenticated frame to the cluster of its chain,
// from that cluster's members only. It never blocks on a cluster.
func (n *Node) receiveLoop() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case in, ok := <-n.transport.Receive():
			if !ok {
				return
			}
			chain, frame, ok := untag(in.Data)
			if !ok {
				continue
			}
			n.mu.RLock()
			rc := n.running
			n.mu.RUnlock()
			if rc == nil || rc.c.Chain() != chain || !rc.members[in.From] {
				// Another epoch's chain (a peer ahead or behind: the
				// chain's sync recovers), or not a member of the chain.
				continue
			}
			rc.c.Handle(in.From, frame)
		}
	}
}

// pumpEvery is how often formed guarantees move to the hand-off.
const pumpEvery = 20 * time.Millisecond

// pumpGuarantees takes formed guarantees while the hand-off has room,
// and once a second sweeps the transactions waiting for their reference
// block.
func (n *Node) pumpGuarantees() {
	t := time.NewTicker(pumpEvery)
	defer t.Stop()
	var lastSweep time.Time
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		n.mu.RLock()
		all := append([]*runningCluster{}, n.retired...)
		if n.running != nil {
			all = append(all, n.running)
		}
		n.mu.RUnlock()
		if now := time.Now(); now.Sub(lastSweep) >= time.Second {
			lastSweep = now
			known := func(ref model.Identifier) bool { _, _, ok := n.refs.RefHeight(ref); return ok }
			if k := n.waiting.sweep(known, now); k > 0 {
				n.metrics.unresolvedDropped.Add(float64(k))
			}
		}
		for _, rc := range all {
			room := n.ho.room()
			if room == 0 {
				break
			}
			gs := rc.c.TakeGuarantees(room)
			for _, g := range gs {
				n.txs.guaranteed(g.CollectionID)
			}
			n.metrics.guaranteesFormed.Add(float64(len(gs)))
			n.ho.add(gs)
		}
	}
}

// collection finds a retained collection in any cluster this node runs or
// ran.
func (n *Node) collection(id model.Identifier) (*collection.Collection, bool) {
	n.mu.RLock()
	all := append([]*runningCluster{}, n.retired...)
	if n.running != nil {
		all = append(all, n.running)
	}
	n.mu.RUnlock()
	for _, rc := range all {
		if col, ok := rc.c.Collection(id); ok {
			return col, true
		}
	}
	return nil, false
}
