// Package collector is the collection role's cluster chain: a collector
// runs one replica of its cluster's chain (package chainrun, the same
// engine as the main chain) whose payloads are collections, keeps the
// fork-aware no-repeat index (package collection) so that no transaction
// is collected twice within its expiry window, and, for every collection
// its cluster finalizes, signs a share and aggregates the cluster's shares
// into a guarantee: one aggregate BLS signature by more than two thirds of
// the cluster's weight, which is all the main chain's consensus nodes ever
// see of the collection.
//
// Goroutines: the runner's (consensus loop, verification workers, sync
// server, status). Cluster.Handle and Cluster.Submit are called by the
// role's receive loop and intake; the pool and the aggregator have their
// own locks, the index belongs to the consensus loop.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/chainrun"
	"github.com/floe-bft/floe/collection"
	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/storage"
)

// Store is a cluster chain's persistent state (storage.Pebble, or
// storage.Memory in tests): one per chain.
type Store interface {
	storage.ConsensusStore
	FinalizedRange(from, to uint64, max int) ([]*model.Block, error)
}

// MainView is what a collector knows of the main chain
// (collection.MainView).
type MainView = collection.MainView

// Config assembles a Cluster.
type Config struct {
	Self      model.NodeID
	Key       crypto.PrivateKey
	Scheme    crypto.Scheme
	Chain     model.ChainID        // model.ClusterChain(main, epoch, index)
	Committee *committee.Committee // the cluster
	Rules     collection.Rules     // K, Index and Epoch name this cluster
	Main      MainView
	Store     Store
	Transport chainrun.Sender // frames to the cluster's members
	Timeouts  pacemaker.Config
	// BlockInterval is the least time between this leader's blocks;
	// IdleInterval how long an idle leader waits before an empty block.
	BlockInterval, IdleInterval time.Duration
	// PoolTxs and PoolBytes bound the pending transactions (defaults
	// 100,000 and 64 MiB); IndexCap bounds the no-repeat index
	// (collection.DefaultIndexCap).
	PoolTxs, PoolBytes, IndexCap int
	// MaxGuarantees bounds guarantees formed but not yet taken
	// (Guarantees); while it is full the leader proposes empty
	// collections (backpressure: nothing is collected that could not be
	// certified). Default 1024.
	MaxGuarantees int
	// Retain bounds the finalized collections kept to serve by ID
	// (default 4096).
	Retain int
	// OnCollection, when set, is told each finalized non-empty collection
	// once, when it is retained (the role indexes its transactions for
	// status queries). It runs on the consensus loop and must not block.
	OnCollection func(chain model.ChainID, col *collection.Collection)
	Names        func(model.NodeID) string
	Logger       *slog.Logger
	Registry     prometheus.Registerer
}

func (c *Config) withDefaults() error {
	if c.Key == nil || c.Scheme == nil || c.Committee == nil || c.Main == nil || c.Store == nil || c.Transport == nil {
		return errors.New("collector: key, scheme, committee, main view, store and transport are required")
	}
	if err := c.Rules.Validate(); err != nil {
		return err
	}
	if _, err := c.Committee.Index(c.Self); err != nil {
		return fmt.Errorf("collector: this node is not in the cluster: %w", err)
	}
	if c.PoolTxs <= 0 {
		c.PoolTxs = 100_000
	}
	if c.PoolBytes <= 0 {
		c.PoolBytes = 64 << 20
	}
	if c.MaxGuarantees <= 0 {
		c.MaxGuarantees = 1024
	}
	if c.Retain <= 0 {
		c.Retain = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	return nil
}

// Cluster is one collector's replica of its cluster chain.
type Cluster struct {
	cfg      Config
	log      *slog.Logger
	verifier *verify.Verifier
	run      *chainrun.Runner
	pool     *pool

	chain     *collection.Chain // rules and no-repeat index; owned by the consensus loop
	lastPrune time.Time         // consensus loop

	aggMu sync.Mutex
	agg   *collection.Aggregator

	mu       sync.Mutex
	formed   []*collection.Guarantee // formed, not yet taken
	colls    map[model.Identifier]*collection.Collection
	collFIFO []model.Identifier
}

// New restores the cluster chain from its store (or starts it from its
// root) and rebuilds the no-repeat index from the finalized blocks still
// inside the expiry window.
func New(cfg Config) (*Cluster, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	c := &Cluster{
		cfg: cfg, log: cfg.Logger.With("chain", cfg.Chain.String()),
		pool:  newPool(cfg.PoolTxs, cfg.PoolBytes),
		agg:   collection.NewAggregator(cfg.Scheme, cfg.Chain, cfg.Committee, 0),
		colls: map[model.Identifier]*collection.Collection{},
	}
	root, err := model.NewRootBlock(cfg.Chain, 0, 0, 0, nil)
	if err != nil {
		return nil, err
	}
	rootQC, err := model.NewRootQC(root.View, root.ID(), cfg.Committee.Size())
	if err != nil {
		return nil, err
	}
	c.verifier = verify.New(cfg.Chain, cfg.Committee, cfg.Scheme, rootQC)
	st, found, err := cfg.Store.LoadState()
	if err != nil {
		return nil, fmt.Errorf("collector: load cluster chain: %w", err)
	}
	if !found {
		st = core.GenesisState(root, rootQC)
		if err := cfg.Store.Init(st); err != nil {
			return nil, fmt.Errorf("collector: init cluster chain: %w", err)
		}
	}
	if c.chain, err = collection.NewChain(cfg.Rules, cfg.Main, root, cfg.IndexCap); err != nil {
		return nil, err
	}
	if err := c.rebuildIndex(st); err != nil {
		return nil, err
	}
	cr, err := core.New(core.Config{
		Self: cfg.Self, Key: cfg.Key, Scheme: cfg.Scheme, Schedule: cfg.Committee,
		Timeouts: cfg.Timeouts, Payloads: (*payloads)(c),
		MinBlockInterval: cfg.BlockInterval, IdleBlockInterval: cfg.IdleInterval,
	}, st)
	if err != nil {
		return nil, fmt.Errorf("collector: restore cluster replica: %w", err)
	}
	c.run, err = chainrun.New(chainrun.Config{
		Self: cfg.Self, Core: cr, Host: chainHost{c}, Transport: cfg.Transport,
		Hooks: chainrun.Hooks{
			// The rules need each block's main-chain reference, so an
			// unready synced block waits too instead of being refused.
			Store: chainStore{cfg.Store}, Ready: readiness{c}, ReadyBlocks: true, Applied: c.applied,
		},
		Logger: c.log, Metrics: chainrun.NewMetrics(cfg.Registry),
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Start runs the cluster replica's goroutines in the caller's group.
func (c *Cluster) Start(ctx context.Context, goFunc func(func()), fail func(error)) {
	c.run.Start(ctx, goFunc, fail)
}

// Chain is the cluster chain's ID.
func (c *Cluster) Chain() model.ChainID { return c.cfg.Chain }

// Submit queues a transaction this cluster may collect. Transactions of
// another cluster or epoch, malformed or oversize ones are refused here
// (the rules would skip them anyway); ErrPoolFull is backpressure.
func (c *Cluster) Submit(tx collection.Tx) error {
	r := c.cfg.Rules
	if err := tx.Check(r.Limits); err != nil {
		return err
	}
	if collection.ClusterOf(tx.ID(), r.K) != r.Index {
		return fmt.Errorf("%w: transaction %v belongs to cluster %d of %d, this is %d",
			collection.ErrWrongCluster, tx.ID(), collection.ClusterOf(tx.ID(), r.K), r.K, r.Index)
	}
	if err := c.pool.add(tx); err != nil {
		return err
	}
	c.run.SignalWork()
	return nil
}

// Handle takes one frame of this cluster chain from an authenticated
// member. It never blocks.
func (c *Cluster) Handle(from model.NodeID, frame []byte) {
	m, err := chainrun.Decode(frame)
	if err == nil {
		c.run.Handle(from, m)
		return
	}
	if !errors.Is(err, chainrun.ErrForeignKind) || len(frame) == 0 || frame[0] != kindShare {
		c.log.Debug("undecodable cluster frame", "from", c.nameOf(from), "err", err)
		return
	}
	sh, err := decodeShare(frame, from)
	if err != nil {
		c.log.Debug("undecodable share", "from", c.nameOf(from), "err", err)
		return
	}
	c.addShare(sh)
}

// Guarantees takes the guarantees formed since the last call, oldest
// first.
func (c *Cluster) Guarantees() []*collection.Guarantee {
	return c.TakeGuarantees(-1)
}

// TakeGuarantees takes at most n of the guarantees formed (all of them
// when n < 0), oldest first. Those left keep counting against
// MaxGuarantees: a hand-off that has no room leaves them here, and the
// leader then proposes empty collections.
func (c *Cluster) TakeGuarantees(n int) []*collection.Guarantee {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n < 0 || n >= len(c.formed) {
		out := c.formed
		c.formed = nil
		return out
	}
	out := slices.Clone(c.formed[:n])
	c.formed = slices.Delete(c.formed, 0, n)
	return out
}

// IsPending reports whether a transaction waits in the pool.
func (c *Cluster) IsPending(id model.Identifier) bool { return c.pool.has(id) }

// Collection returns a finalized collection this node guaranteed, by ID,
// while it is retained.
func (c *Cluster) Collection(id model.Identifier) (*collection.Collection, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	col, ok := c.colls[id]
	return col, ok
}

// Pending reports the transactions waiting in the pool.
func (c *Cluster) Pending() int {
	n, _ := c.pool.size()
	return n
}

func (c *Cluster) nameOf(id model.NodeID) string {
	if c.cfg.Names != nil {
		return c.cfg.Names(id)
	}
	return id.String()
}

// backlogged reports whether formed guarantees fill their queue.
func (c *Cluster) backlogged() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.formed) >= c.cfg.MaxGuarantees
}

// applied indexes the output's new blocks and, for its finalized blocks,
// finalizes the index, retains the collections and signs their shares.
// It runs on the consensus loop after the output was persisted.
func (c *Cluster) applied(_ core.Event, out *core.Output) {
	for _, b := range model.ByHeight(out.Blocks) {
		if err := c.chain.Add(b); err != nil {
			c.log.Warn("cluster block not indexed: its descendants cannot be checked", "view", b.View, "err", err)
		}
	}
	if len(out.Finalized) > 0 && time.Since(c.lastPrune) >= pruneEvery {
		c.lastPrune = time.Now()
		c.pruneExpired()
	}
	for _, b := range out.Finalized {
		p, err := c.chain.Finalize(b)
		if err != nil {
			c.log.Error("finalized cluster block missing from the index", "height", b.Height, "err", err)
			continue
		}
		if p.NeedsGuarantee() { // a finalized payload was checked when voted on
			c.guarantee(p)
		}
	}
}

// pruneEvery is how often finalization sweeps the pool for expired
// transactions.
const pruneEvery = time.Second

// pruneExpired drops pending transactions that can no longer be collected:
// their reference block is more than Expiry below the newest finalized
// main block, which honest leaders reference. Each is refused, not lost:
// its submitter sees it expire.
func (c *Cluster) pruneExpired() {
	_, latest := c.cfg.Main.Latest()
	expiry := c.cfg.Rules.Expiry
	if n := c.pool.prune(func(tx collection.Tx) bool {
		h, _, ok := c.cfg.Main.RefHeight(tx.Ref)
		return ok && h+expiry < latest
	}); n > 0 {
		c.log.Debug("expired transactions dropped", "count", n)
	}
}

// guarantee retains a finalized collection, drops its transactions from
// the pool, and signs and sends this member's share.
func (c *Cluster) guarantee(p *collection.Payload) {
	col := p.Collection
	id := col.ID()
	c.pool.remove(col.TxIDs()...)
	c.retain(col)
	sig, err := collection.SignShare(c.cfg.Key, id, p.Ref, c.cfg.Chain)
	if err != nil {
		c.log.Error("sign guarantee share", "collection", id, "err", err)
		return
	}
	c.cfg.Transport.Broadcast(encodeShare(id, p.Ref, sig))
	c.aggMu.Lock()
	g, err := c.agg.Expect(id, p.Ref)
	c.aggMu.Unlock()
	c.formedOrLogged(g, err)
	c.addShare(collection.Share{CollectionID: id, Ref: p.Ref, Signer: c.cfg.Self, Signature: sig})
}

// retain keeps a finalized collection to serve by ID (the oldest beyond
// Retain go) and tells OnCollection about a new one.
func (c *Cluster) retain(col *collection.Collection) {
	id := col.ID()
	c.mu.Lock()
	_, seen := c.colls[id]
	if !seen {
		c.colls[id] = col
		c.collFIFO = append(c.collFIFO, id)
		for len(c.collFIFO) > c.cfg.Retain {
			delete(c.colls, c.collFIFO[0])
			c.collFIFO = c.collFIFO[1:]
		}
	}
	c.mu.Unlock()
	if !seen && c.cfg.OnCollection != nil {
		c.cfg.OnCollection(c.cfg.Chain, col)
	}
}

// addShare adds one member's share; a guarantee it completes is queued.
func (c *Cluster) addShare(sh collection.Share) {
	c.aggMu.Lock()
	g, err := c.agg.Add(sh)
	c.aggMu.Unlock()
	c.formedOrLogged(g, err)
}

func (c *Cluster) formedOrLogged(g *collection.Guarantee, err error) {
	if err != nil {
		// Shares that do not verify are no transferable evidence (anyone
		// can write bytes that fail), so they are logged against the
		// authenticated sender. A guarantee can come with the error.
		c.log.Warn("guarantee shares refused", "err", err)
	}
	if g == nil {
		return
	}
	c.mu.Lock()
	c.formed = append(c.formed, g)
	c.mu.Unlock()
	c.log.Debug("guarantee formed", "collection", g.CollectionID, "signers", g.Signers.Count())
}

// rebuildIndex rebuilds the no-repeat index after a restart: the
// finalized window (whose collections are retained again, so guarantors
// keep serving them by ID across a restart), then the unfinalized blocks.
func (c *Cluster) rebuildIndex(st core.State) error {
	parent := func(b *model.Block) (*model.Block, error) { return c.cfg.Store.FinalizedByHeight(b.Height - 1) }
	if err := c.chain.Rebuild(st.Root, parent, c.cfg.IndexCap, c.retain); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	for _, b := range model.ByHeight(st.Blocks) {
		if err := c.chain.Add(b); err != nil {
			c.log.Warn("unfinalized cluster block not indexed after restart", "view", b.View, "err", err)
		}
	}
	return nil
}

// chainStore persists each output of the cluster replica, synced, before
// anything of it is sent.
type chainStore struct{ st Store }

func (s chainStore) Persist(out *core.Output) (core.Event, error) {
	return nil, s.st.Commit(storage.CommitFromOutput(out))
}

// readiness parks a proposal whose reference block this node's main-chain
// view has not finalized yet: checking it now would refuse a valid block.
type readiness struct{ c *Cluster }

func (r readiness) Ready(b *model.Block) bool { return r.c.chain.Ready(b) }

// MainAdvanced tells the cluster replica that the main chain's finalized
// blocks advanced: proposals and blocks waiting for their reference block
// (readiness) are retried.
func (c *Cluster) MainAdvanced() { c.run.SignalRetry() }

// FinalizedHeight is the height of the cluster chain's newest finalized
// block.
func (c *Cluster) FinalizedHeight() uint64 { return chainHost{c}.FinalizedHeight() }

// Drop removes pending transactions from the pool (the role gave up on
// them: a reference block that never became known).
func (c *Cluster) Drop(ids ...model.Identifier) { c.pool.remove(ids...) }
