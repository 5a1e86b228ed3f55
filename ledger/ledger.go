// Package ledger is the finalized chain a node keeps, whatever its role:
// the store (opened from genesis when empty), the epoch state committed with
// the chain, the application state and its executor, the results of recent
// heights, and the reads served from all of that (blocks, transactions,
// state with proofs, the finalized stream, sync ranges, light proofs).
//
// A role owns a Ledger and tells it what became final (Finalized); the
// ledger executes in height order on its own goroutine (Run) and reports
// each executed height back through Hooks. Consensus roles and the observer
// role share it, so what they serve is one implementation.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/storage"
)

// payloadCacheBytes bounds the decoded payloads a ledger keeps: the blocks
// between validation and execution are read several times.
const payloadCacheBytes = 64 << 20

// Store is what a node keeps durably: the consensus state and chain
// (storage.ConsensusStore), execution results and application state
// (storage.AppStore), and the epoch state. storage.Pebble is the
// production store; storage.Memory serves tests.
type Store interface {
	storage.ConsensusStore
	storage.AppStore
	FinalizedRange(from, to uint64, maxBlocks int) ([]*model.Block, error)
	EpochState() ([]byte, error)
	Close() error
}

var (
	_ Store = (*storage.Pebble)(nil)
	_ Store = (*storage.Memory)(nil)
)

// Config is what a ledger is opened from.
type Config struct {
	Genesis *genesis.Genesis
	// Store is the durable state; nil opens Pebble in DataDir.
	Store   Store
	DataDir string
	Logger  *slog.Logger
	Metrics prometheus.Registerer // nil: not registered
	Hooks   Hooks
	// ExternalExecution: the role executes the chain itself (a pipeline
	// network's execution node, package execution), so the ledger's own
	// execution of payload transactions is not what the role reports:
	// floe_executed_height and floe_executed_txs_total are left for the
	// role to register.
	ExternalExecution bool
}

// Hooks are how a ledger tells its role what happened. Each may be nil.
// They run on the ledger's goroutines and must not block.
type Hooks struct {
	// Executed: height was executed; ids are the transactions that ran
	// (repeats of recently executed ones are skipped).
	Executed func(height uint64, ids []model.Identifier)
	// Opened: Open succeeded. A role that hands its hooks to the ledger
	// through another role (an execution node through its observer) gets
	// hold of the ledger here, before any other hook runs (an execution
	// node's collection fetcher needs the epoch directory and the stored
	// chain to find a guarantee's guarantors).
	Opened func(l *Ledger)
	// Settled: a service event was accepted or rejected at finalization.
	Settled func(id model.Identifier)
}

// Ledger is one node's finalized chain and executed state.
type Ledger struct {
	cfg    Config
	log    *slog.Logger
	scheme crypto.Scheme
	rootQC *model.QC

	// Epochs: the state machine is owned by whoever finalizes (the role's
	// consensus loop or follower engine); dir is the published snapshot
	// (schedule, verifier, identities) everyone reads.
	epochs      *epoch.State
	epochParams epoch.Params // immutable
	dir         atomic.Pointer[Directory]

	store   Store
	app     *kvstore.Store
	appMu   sync.RWMutex // the executor writes, readers prove
	metrics *metrics

	finalizedHeight atomic.Uint64
	executedHeight  atomic.Uint64
	finalizedSignal chan struct{} // wakes the executor (capacity 1)
	results         *resultRing   // state roots of recent executed heights

	subs *fanout[FinalizedBlock]
	live *fanout[SyncFrame]
	// payloadCache decodes each block's payload once (payload.Cache).
	payloadCache *payload.Cache
	txIDs        *txIDCache // transaction IDs of recent blocks
	dedup        *Window    // transactions executed recently; owned by the executor
	// Application state written since the last flush, by key hash, and the
	// height and root it corresponds to; owned by the executor.
	dirty       map[[32]byte]storage.KV
	dirtyHeight uint64
	dirtyRoot   [32]byte
}

// Open opens (or initializes from genesis) the store and rebuilds the
// epoch state, the application state and the execution bookkeeping. It
// returns the consensus state found in the store. On error nothing stays
// open.
func Open(cfg Config) (l *Ledger, st consensus.State, err error) {
	if cfg.Genesis == nil {
		return nil, st, errors.New("ledger: genesis is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	com, _, err := cfg.Genesis.Committee()
	if err != nil {
		return nil, st, fmt.Errorf("genesis: %w", err)
	}
	root, rootQC, err := cfg.Genesis.Root(com.Size())
	if err != nil {
		return nil, st, err
	}
	genesisEpochs, err := cfg.Genesis.EpochState()
	if err != nil {
		return nil, st, fmt.Errorf("genesis: %w", err)
	}
	l = &Ledger{
		cfg: cfg, log: cfg.Logger, scheme: crypto.BLS(), rootQC: rootQC,
		epochParams:     genesisEpochs.Params(),
		metrics:         newMetrics(cfg.Metrics, cfg.ExternalExecution),
		finalizedSignal: make(chan struct{}, 1),
		results:         newResultRing(),
		subs:            newFanout[FinalizedBlock](subscriberBuffer, maxSubscribers),
		live:            newFanout[SyncFrame](liveBuffer, maxLiveSubscribers),
		payloadCache:    payload.NewCache(payloadCacheBytes, payload.Limits{MaxTxs: cfg.Genesis.Params.MaxBlockTxs}),
		txIDs:           newTxIDCache(),
		dedup:           NewWindow(DedupWindow),
		dirty:           make(map[[32]byte]storage.KV),
	}
	if l.store = cfg.Store; l.store == nil {
		if cfg.DataDir == "" {
			return nil, st, errors.New("ledger: a store or a data directory is required")
		}
		if l.store, err = storage.OpenPebble(cfg.DataDir); err != nil {
			return nil, st, fmt.Errorf("open store: %w", err)
		}
	}
	store := l.store // l is nil on the error returns below
	defer func() {
		if err != nil {
			store.Close()
		}
	}()
	st, found, err := l.store.LoadState()
	if err != nil {
		return nil, st, fmt.Errorf("load consensus state: %w", err)
	}
	if !found {
		st = consensus.GenesisState(root, rootQC)
		if err := l.store.Init(st); err != nil {
			return nil, st, fmt.Errorf("initialize store: %w", err)
		}
	} else if h, err := l.store.FinalizedByHeight(0); err != nil || h.ID() != root.ID() {
		return nil, st, fmt.Errorf("the data directory belongs to another chain (genesis block differs)")
	}
	if l.epochs, err = loadEpochs(l.store, l.epochParams, genesisEpochs); err != nil {
		return nil, st, err
	}
	l.publishDirectory()
	l.finalizedHeight.Store(st.Root.Height)

	if err := importGenesisState(l.store, cfg.Genesis); err != nil {
		return nil, st, err
	}
	if l.app, err = kvstore.New(l.store.Iterate); err != nil {
		return nil, st, fmt.Errorf("rebuild application state: %w", err)
	}
	executed, err := l.store.ExecutedHeight()
	if err != nil {
		return nil, st, err
	}
	if executed == 0 {
		want, err := cfg.Genesis.InitialRoot()
		if err != nil {
			return nil, st, err
		}
		if got := l.app.Root(); got != want {
			return nil, st, fmt.Errorf("%w: the state before height 1 has root %x, the genesis names %x",
				storage.ErrCorrupt, got, want)
		}
	} else {
		want, err := l.store.StateRoot(executed)
		if err != nil {
			return nil, st, err
		}
		if got := l.app.Root(); got != want {
			return nil, st, fmt.Errorf("%w: rebuilt state root %x differs from the stored root %x at height %d",
				storage.ErrCorrupt, got, want, executed)
		}
	}
	l.executedHeight.Store(executed)
	l.results.put(executed, l.app.Root())
	if err := l.rebuildDedup(executed); err != nil {
		return nil, st, fmt.Errorf("rebuild executed-transaction window: %w", err)
	}
	if cfg.Hooks.Opened != nil {
		cfg.Hooks.Opened(l)
	}
	return l, st, nil
}

// Store is the ledger's durable store (the role commits consensus outputs
// to it).
func (l *Ledger) Store() Store { return l.store }

// Close closes the store. Call it after Run has returned.
func (l *Ledger) Close() error {
	l.subs.closeAll()
	l.live.closeAll()
	return l.store.Close()
}

// Genesis is the chain's genesis.
func (l *Ledger) Genesis() *genesis.Genesis { return l.cfg.Genesis }

// RootQC certifies the genesis block.
func (l *Ledger) RootQC() *model.QC { return l.rootQC }

// Scheme is the signature scheme of the chain's committees.
func (l *Ledger) Scheme() crypto.Scheme { return l.scheme }

// EpochParams are the chain's epoch rules.
func (l *Ledger) EpochParams() epoch.Params { return l.epochParams }

// FinalizedHeight is the height of the newest finalized block.
func (l *Ledger) FinalizedHeight() uint64 { return l.finalizedHeight.Load() }

// ExecutedHeight is the height of the newest executed block.
func (l *Ledger) ExecutedHeight() uint64 { return l.executedHeight.Load() }

// Finalized records that blocks up to height are final and durable, and
// wakes the executor.
func (l *Ledger) Finalized(height uint64) {
	l.finalizedHeight.Store(height)
	l.metrics.finalizedHeight.Set(float64(height))
	l.Wake()
}

// Wake makes the executor look for finalized blocks not executed yet.
func (l *Ledger) Wake() {
	select {
	case l.finalizedSignal <- struct{}{}:
	default:
	}
}

// Decoded returns a block's payload, decoded once (bounded cache).
func (l *Ledger) Decoded(b *model.Block) (*payload.Payload, error) { return l.payloadCache.Get(b) }

// Run executes finalized blocks in height order until ctx ends (then it
// flushes the application state) or an error stops it.
func (l *Ledger) Run(ctx context.Context) error { return l.executor(ctx) }
