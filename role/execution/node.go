// Package execution is the execution role of a pipeline network (floe
// start with role = "execution"): a process that follows the finalized
// main chain from consensus nodes' APIs (an embedded observer), fetches
// the collections each block's guarantees name from their guarantors,
// executes them in block order (package execution: parallel, over the
// disk-backed register state, one chunk per collection), keeps each
// chunk's data pack, and hands a signed receipt for every executed
// height's chunked result to every consensus node, which include
// receipts in later blocks.
//
// It is an assembly: role/observer (follower engine, ledger, read API)
// whose finalized blocks the execution loop (runner.go) executes with
// the collection fetcher (fetcher.go) and engine.Engine, the receipt
// sender (receipts.go) and the reads (reads.go). Goroutines beyond the
// observer's: the execution loop, one per collection being fetched
// (bounded, fetcher), one receipt deliverer per consensus node.
// docs/execution.md.
package execution

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
	engine "github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/role/observer"
	"github.com/floe-bft/floe/state"
)

// Config configures an execution node.
type Config struct {
	Genesis *genesis.Genesis
	// DataDir holds the Pebble database (chain, results, state).
	DataDir string
	// StakingKey signs receipts; its node ID is the receipts' executor,
	// which consensus nodes check is an execution member of the epoch.
	StakingKey crypto.PrivateKey
	// Upstreams are the consensus nodes' API base URLs the main chain is
	// followed from; empty: the genesis api of every consensus member.
	Upstreams []string
	// ReceiptTargets are the consensus nodes' API base URLs receipts go
	// to; empty: the genesis api of every consensus member.
	ReceiptTargets []string
	// Fetch and Receipts tune collection fetching and receipt delivery.
	Fetch    FetchConfig
	Receipts ReceiptConfig
	// ExecWorkers is how many goroutines execute a block's transactions
	// (blockstm); 0: GOMAXPROCS; 1: the plain sequential loop. A node
	// setting: the results are the same whatever it is.
	ExecWorkers int
	// Retain is how many executed heights of state versions and chunk
	// data packs are kept (default DefaultRetain); older ones are pruned
	// online.
	Retain uint64
	// StateCacheBytes bounds the state store's caches (0: its defaults).
	StateCacheBytes int64
	// Sync tunes state sync (statesync.go).
	Sync SyncConfig
	// Fault is a test fault (EnvFault): a byzantine executor.
	Fault Fault
	// Follower settings, as the observer's (zero: its defaults).
	Workers        int
	MaxUncertified int
	PollInterval   time.Duration
	// HTTPClient makes the requests to guarantors and consensus nodes
	// (default: one without an overall timeout; requests carry their own).
	HTTPClient *http.Client
	// Seed starts the guarantor rotation (0: random).
	Seed uint64

	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// ErrExecution: an execution node takes no transactions (submit them to
// an access node).
var ErrExecution = errors.New("this node is an execution node: it does not accept transactions (submit them to an access node)")

// ErrNoConsensusAPI: neither the configuration nor the genesis directory
// names a consensus node's API.
var ErrNoConsensusAPI = errors.New("execution: no consensus node API (list [follower] upstreams or give consensus members an api in the genesis file)")

// Node is a running execution node. Its read API is the observer's
// (blocks, transactions with their results, state with proofs from its
// own ledger, streams, sync), plus GET /v1/execution/status.
type Node struct {
	*observer.Observer

	cfg      Config
	log      *slog.Logger
	led      *ledger.Ledger // set by the ledger's Opened hook, before New returns
	self     model.NodeID
	m        *metrics
	missing  *Missing
	fetcher  *fetcher
	receipts *receiptSender
	store    *engine.Store
	runner   *runner
	// closeVM releases the VM (programs' compiled code).
	closeVM func()
	// snapshots bounds the state snapshots served at once.
	snapshots chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error // the execution loop's fatal error
}

// DefaultRetain is the default retention of state versions and data
// packs, in executed heights: about a minute at 15 blocks/s, beyond the
// time a verifier takes to fetch a pack and past any fork of unsealed
// results (execution runs on finalized blocks only).
const DefaultRetain = 1000

// EnvFault names a test fault (Config.Fault) for the end-to-end runner:
// "wrong_end_state", "wrong_events" or "withhold_packs".
const EnvFault = "FLOE_TEST_EXECUTION_FAULT"

// New opens the store (Pebble in cfg.DataDir) and builds an execution
// node; Start runs it.
func New(cfg Config) (*Node, error) {
	if cfg.Genesis == nil {
		return nil, errors.New("execution: genesis is required")
	}
	if cfg.StakingKey == nil {
		return nil, errors.New("execution: a staking key is required (it signs receipts)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	defaults := cfg.Genesis.RoleAPIs(epoch.RoleConsensus)
	if len(cfg.Upstreams) == 0 {
		cfg.Upstreams = defaults
	}
	if len(cfg.ReceiptTargets) == 0 {
		cfg.ReceiptTargets = defaults
	}
	if len(cfg.Upstreams) == 0 || len(cfg.ReceiptTargets) == 0 {
		return nil, ErrNoConsensusAPI
	}
	if cfg.Retain == 0 {
		// Before n.cfg takes its copy: the runner prunes by n.cfg.Retain.
		cfg.Retain = DefaultRetain
	}
	n := &Node{cfg: cfg, log: cfg.Logger, snapshots: make(chan struct{}, maxSnapshotStreams), self: crypto.Sum(cfg.StakingKey.PublicKey().Bytes()), m: newMetrics(cfg.Metrics)}
	n.missing = newMissing(n.m)
	if err := n.checkMember(); err != nil {
		return nil, err
	}
	apis := cfg.Genesis.APIs()
	obs, err := observer.New(observer.Config{
		Genesis: cfg.Genesis, DataDir: cfg.DataDir, Upstreams: cfg.Upstreams,
		Workers: cfg.Workers, MaxUncertified: cfg.MaxUncertified, PollInterval: cfg.PollInterval,
		HTTPClient: cfg.HTTPClient, ExternalExecution: true,
		OnFinalized: func(final []*model.Block) {
			if n.runner != nil {
				n.runner.wake()
				n.noteCarried(final)
			}
		},
		Hooks: ledger.Hooks{
			Opened: func(l *ledger.Ledger) {
				n.led = l
				n.fetcher = newFetcher(cfg.Fetch, ledgerResolver(l, apis), n.ahead, cfg.HTTPClient, n.m, n.missing, n.log, cfg.Seed)
			},
		},
		Logger: cfg.Logger, Metrics: cfg.Metrics,
	})
	if err != nil {
		return nil, err
	}
	n.Observer = obs
	if err := n.openExecution(); err != nil {
		obs.Stop() // closes its store
		return nil, err
	}
	return n, nil
}

// openExecution opens the state and execution stores (importing the
// genesis state into a new one) and restores the execution loop.
func (n *Node) openExecution() error {
	cfg := n.cfg
	var err error
	stateDir, storeDir := "", ""
	if cfg.DataDir != "" {
		stateDir, storeDir = filepath.Join(cfg.DataDir, "state"), filepath.Join(cfg.DataDir, "execution")
	}
	if n.store, err = engine.OpenStore(storeDir); err != nil {
		return err
	}
	_, _, executed, err := n.store.Executed()
	if err != nil {
		n.store.Close()
		return err
	}
	if stateDir != "" {
		// A node that recorded no executed block starts from the genesis
		// state: whatever a state directory holds then (an interrupted
		// state sync) is dropped, and so is an unfinished import.
		if !executed {
			if err := os.RemoveAll(stateDir); err != nil {
				n.store.Close()
				return err
			}
		}
		if err := os.RemoveAll(stateDir + ".sync"); err != nil {
			n.store.Close()
			return err
		}
	}
	opts := stateOptions(stateDir, cfg.StateCacheBytes)
	st, err := openState(stateDir, opts, n.cfg.Genesis)
	if err != nil {
		n.store.Close()
		return err
	}
	genesisResult, err := n.led.GenesisResult()
	if err != nil {
		return n.closeStores(st, err)
	}
	vm, closeVM, err := ledger.NewVM(context.Background(), n.cfg.Genesis)
	if err != nil {
		return n.closeStores(st, fmt.Errorf("execution: the VM: %w", err))
	}
	n.closeVM = closeVM
	n.receipts = newReceiptSender(cfg.Receipts, cfg.StakingKey, n.led.EpochParams().ChainID, n.self,
		cfg.ReceiptTargets, n.store.Published, cfg.HTTPClient, n.m, n.log)
	sync := cfg.Sync
	if sync.Behind == 0 {
		sync.Behind = DefaultSyncBehind
	}
	if sync.Timeout <= 0 {
		sync.Timeout = 10 * time.Minute
	}
	if sync.Retry <= 0 {
		sync.Retry = 10 * time.Second
	}
	if len(sync.Peers) == 0 {
		sync.Peers = n.peerExecutors()
	}
	n.runner = &runner{
		led: n.led, fetch: n.fetcher, store: n.store,
		engine: &engine.Engine{VM: vm, Workers: cfg.ExecWorkers},
		window: ledger.NewWindow(ledger.CollectionWindow), fault: cfg.Fault, retain: cfg.Retain,
		genesis: genesisResult, log: n.log, m: n.m, signal: make(chan struct{}, 1),
		onExecuted: func(r *payload.ExecutionResult) {
			if err := n.receipts.Executed(r); err != nil {
				n.log.Error("execution: receipt", "height", r.Height, "err", err)
			}
		},
		onSynced:   n.receipts.start,
		sync:       sync,
		httpClient: cfg.HTTPClient, stateDir: stateDir, stateOpts: opts,
	}
	n.runner.setState(st)
	if err := n.runner.open(); err != nil {
		return n.closeStores(st, err)
	}
	if n.runner.prev.EndState() != genesisResult.EndState() && n.runner.prev.Height == 0 {
		return n.closeStores(st, fmt.Errorf("%w: the state store's genesis state does not match the genesis file", engine.ErrStateMismatch))
	}
	n.receipts.start(n.runner.prev.Height)
	return nil
}

// noteCarried tells the receipt sender the heights of this node's
// receipts that newly finalized blocks carry.
func (n *Node) noteCarried(final []*model.Block) {
	for _, b := range final {
		pl, err := n.led.Decoded(b)
		if err != nil {
			continue // the executor meets it and stops the node
		}
		for _, r := range pl.Receipts {
			if r.Executor == n.self {
				n.receipts.Carried(r.Height())
			}
		}
	}
}

// peerExecutors are the API base URLs of the other genesis execution
// members.
func (n *Node) peerExecutors() []string {
	ids, _, err := n.cfg.Genesis.Identities()
	if err != nil {
		return nil
	}
	apis := n.cfg.Genesis.APIs()
	var out []string
	for _, m := range ids {
		if m.Role == epoch.RoleExecution && m.ID() != n.self {
			if u := apis[m.ID()]; u != "" {
				out = append(out, u)
			}
		}
	}
	return out
}

func (n *Node) closeStores(st *state.Store, err error) error {
	n.store.Close()
	st.Close()
	if n.closeVM != nil {
		n.closeVM()
	}
	return err
}

// checkMember warns when the key is no execution member of the genesis
// epoch: consensus nodes refuse its receipts until an epoch makes it one.
func (n *Node) checkMember() error {
	ids, _, err := n.cfg.Genesis.Identities()
	if err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	for _, m := range ids {
		if m.ID() == n.self {
			if m.Role != epoch.RoleExecution {
				n.log.Warn("this key is a genesis member of another role: consensus nodes will refuse its receipts",
					"role", m.Role.String())
			}
			return nil
		}
	}
	n.log.Warn("this key is no genesis member: consensus nodes refuse its receipts until an epoch makes it an execution member",
		"node_id", n.self)
	return nil
}

// ahead returns the guarantees of the finalized block at height, for
// prefetching.
func (n *Node) ahead(height uint64) ([]*collection.Guarantee, bool) {
	if height > n.led.FinalizedHeight() {
		return nil, false
	}
	b, err := n.led.BlockByHeight(height)
	if err != nil {
		return nil, false
	}
	pl, err := n.led.Decoded(b)
	if err != nil {
		return nil, false
	}
	return pl.Guarantees, true
}

// Start runs the observer (which follows the chain and executes it) and
// the receipt sender.
func (n *Node) Start(ctx context.Context) error {
	if err := n.Observer.Start(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	n.mu.Lock()
	n.cancel = cancel
	n.mu.Unlock()
	n.receipts.run(rctx, func(f func()) {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); f() }()
	})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.runner.run(rctx); err != nil {
			// An execution error is no condition to run on with: stop
			// the node loudly (Err reports it).
			n.log.Error("execution stopped", "err", err)
			n.mu.Lock()
			n.err = err
			n.mu.Unlock()
			go n.Observer.Stop()
		}
	}()
	// The receipt goroutines end with the observer (Stop, or a fatal error).
	go func() {
		select {
		case <-rctx.Done():
		case <-n.Observer.Done():
			cancel()
		}
	}()
	n.log.Info("execution node started", "node_id", n.self, "upstreams", len(n.cfg.Upstreams),
		"receipt_targets", len(n.cfg.ReceiptTargets))
	return nil
}

// Stop stops the receipt sender and the observer, and closes the store.
func (n *Node) Stop() {
	n.mu.Lock()
	cancel := n.cancel
	n.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	n.wg.Wait()
	n.Observer.Stop()
	if err := n.store.Close(); err != nil {
		n.log.Error("close the execution store", "err", err)
	}
	if err := n.runner.stateStore().Close(); err != nil {
		n.log.Error("close the state store", "err", err)
	}
	n.closeVM()
}

// Err is the execution loop's fatal error, else the observer's.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.err != nil {
		return n.err
	}
	return n.Observer.Err()
}

// SubmitTxs refuses every transaction.
func (n *Node) SubmitTxs(txs [][]byte) []api.Submission {
	out := make([]api.Submission, len(txs))
	for i := range out {
		out[i].Error = ErrExecution
	}
	return out
}

// Status is the observer's, named "execution".
func (n *Node) Status() api.Status {
	st := n.Observer.Status()
	st.Name = "execution"
	st.NodeID = n.self
	return st
}

// Missing is the evidence of collections no guarantor served.
func (n *Node) Missing() *Missing { return n.missing }
