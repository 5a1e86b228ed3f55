// Package observer is the observer role (floe follow, or role =
// "observer"): a node that never votes. It pulls blocks from upstream
// nodes' HTTP APIs, validates them with the follower engine (seed 001),
// executes the finalized chain in its ledger, and serves the same read API
// as a consensus node (blocks, transactions, state with proofs, the
// finalized stream, the sync endpoints, light proofs), so observers can
// follow observers. It refuses transactions.
//
// It is an assembly: a ledger (package ledger) + the follower engine
// (package follower) + upstream pullers over HTTP. Goroutines: the
// engine's verification workers; per upstream, a status poller (height
// polls) and a live-stream reader; one range syncer; the ledger's executor.
package observer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/evidence"
	"github.com/floe-bft/floe/follower"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/internal/service"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/storage"
)

// Config configures an observer.
type Config struct {
	Genesis *genesis.Genesis
	// DataDir holds the Pebble database (the follower engine keeps its
	// certified blocks there too).
	DataDir string
	// Upstreams are the base URLs of the nodes (participants or followers)
	// whose APIs this observer pulls from, e.g. http://10.0.0.1:8080.
	Upstreams []string
	// Workers is the size of the verification pool (default 2).
	Workers int
	// MaxUncertified bounds the uncertified-block cache (default 1024).
	MaxUncertified int
	// PollInterval is how often upstream heights are polled (default 1s).
	PollInterval time.Duration
	// BanDuration is how long an upstream that sent something invalid is
	// not asked for ranges (default 30s).
	BanDuration time.Duration
	// HTTPClient makes the requests (default: a client with no overall
	// timeout, since the live stream is long-lived; requests carry their
	// own deadlines).
	HTTPClient *http.Client

	// OnFinalized, when set, is told every batch of newly finalized
	// blocks in height order, after they were saved (the pipeline's
	// roles build their view of the main chain from it). It runs on the
	// follower engine's goroutine and must not block.
	OnFinalized func(final []*model.Block)
	// Hooks are passed to the ledger.
	Hooks ledger.Hooks
	// ExternalExecution is passed to the ledger: the role executes the
	// chain itself (an execution node) and reports it.
	ExternalExecution bool

	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// ErrObserver: an observer does not take transactions (submit them to a
// consensus node).
var ErrObserver = errors.New("this node is an observer: it does not accept transactions")

// Observer is a running observer node.
type Observer struct {
	ledger.Served // blocks, state, streams, sync, chain pages, light proofs

	cfg       Config
	log       *slog.Logger
	led       *ledger.Ledger
	engine    *follower.Engine
	upstreams []*upstream
	// rangeCount is how many blocks a range request asks for: the maximum,
	// shrunk when a range ran into an epoch not committed yet.
	rangeCount atomic.Int64
	// epochsChanged carries BeforeSave's verdict to OnFinalized (both run
	// under the engine's lock, one after the other).
	epochsChanged  bool
	view           atomic.Uint64 // one above the newest certified view
	bestPeerHeight atomic.Uint64
	syncedBlocks   prometheus.Counter
	viewGauge      prometheus.Gauge

	group *service.Group
	ctx   context.Context // the group's, from Start
}

type upstream struct {
	url      string
	height   atomic.Uint64 // finalized height it last reported
	banUntil atomic.Int64  // unix nanoseconds
}

func (u *upstream) banned(now time.Time) bool { return now.UnixNano() < u.banUntil.Load() }

// New opens the store (Pebble in cfg.DataDir) and builds an observer;
// Start runs it.
func New(cfg Config) (o *Observer, err error) {
	if cfg.Genesis == nil {
		return nil, errors.New("observer: genesis is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("observer: a data directory is required")
	}
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("observer: at least one upstream URL is required")
	}
	ups := make([]*upstream, 0, len(cfg.Upstreams))
	for _, raw := range cfg.Upstreams {
		u, perr := url.Parse(raw)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("observer: upstream %q is not an http(s) URL", raw)
		}
		ups = append(ups, &upstream{url: strings.TrimRight(raw, "/")})
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.BanDuration <= 0 {
		cfg.BanDuration = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pb, err := storage.OpenPebble(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	led, _, err := ledger.Open(ledger.Config{Genesis: cfg.Genesis, Store: pb, Logger: cfg.Logger, Metrics: cfg.Metrics, Hooks: cfg.Hooks, ExternalExecution: cfg.ExternalExecution})
	if err != nil {
		return nil, err // Open closed the store
	}
	defer func() {
		if err != nil {
			led.Close()
		}
	}()
	o = &Observer{
		cfg: cfg, log: cfg.Logger, led: led, upstreams: ups,
		syncedBlocks: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_synced_blocks_total", Help: "Blocks received through sync."}),
		viewGauge:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_view", Help: "One above the newest certified view."}),
	}
	if cfg.Metrics != nil {
		cfg.Metrics.MustRegister(o.syncedBlocks, o.viewGauge)
	}
	o.Served = led.Served()
	o.group = service.New(o.log, "observer", nil, func() error {
		o.engine.Stop() // it writes to the store
		return led.Close()
	})
	o.rangeCount.Store(follower.MaxRangeBlocks)
	root, err := led.BlockByHeight(0)
	if err != nil {
		return nil, fmt.Errorf("genesis block: %w", err)
	}
	store, err := follower.NewPebbleStore(pb, root, led.RootQC())
	if err != nil {
		return nil, err
	}
	o.engine, err = follower.New(follower.Config{
		Schedule:            func() committee.Schedule { return led.Directory().Schedule() },
		Scheme:              led.Scheme(),
		Root:                root,
		RootQC:              led.RootQC(),
		Store:               store,
		LeadersFromAncestry: cfg.Genesis.Params.Reputation().Enabled(),
		MaxUncertified:      cfg.MaxUncertified,
		Workers:             cfg.Workers,
		BeforeSave:          o.beforeSave,
		OnFinalized:         o.onFinalized,
		OnCertified: func(_ []*model.Block, tip *model.QC) {
			o.setView(tip.View + 1)
		},
		OnProposal: led.PublishProposal,
		Logger:     cfg.Logger,
		Metrics:    cfg.Metrics,
	})
	if err != nil {
		return nil, err
	}
	led.Finalized(o.engine.FinalizedHeight())
	o.setView(o.engine.TipQC().View + 1)
	return o, nil
}

func (o *Observer) setView(v model.View) {
	o.view.Store(uint64(v))
	o.viewGauge.Set(float64(v))
}

// beforeSave runs the epoch state machine over newly finalized blocks, so
// the new epoch state is written in the same batch as the blocks.
func (o *Observer) beforeSave(final []*model.Block) ([]byte, error) {
	enc, _, err := o.led.ApplyEpochs(final)
	o.epochsChanged = enc != nil
	return enc, err
}

// onFinalized publishes changed epochs (the engine verifies the next
// blocks against them) and wakes the executor.
func (o *Observer) onFinalized(final []*model.Block) {
	if o.epochsChanged {
		o.led.PublishEpochs()
		o.epochsChanged = false
	}
	o.led.Finalized(final[len(final)-1].Height)
	if o.cfg.OnFinalized != nil {
		o.cfg.OnFinalized(final)
	}
}

// Engine returns the follower engine: its caches, evidence and reports,
// for tests and operators.
func (o *Observer) Engine() *follower.Engine { return o.engine }

// Start launches the observer's goroutines. It returns at once; Done closes
// when it stops (Stop, or a fatal error reported by Err).
func (o *Observer) Start(ctx context.Context) error {
	o.ctx = o.group.Start(ctx)
	o.engine.Start()
	o.goFunc(func() {
		if err := o.led.Run(o.ctx); err != nil {
			o.fatal(err)
		}
	})
	o.goFunc(o.syncRanges)
	for _, u := range o.upstreams {
		o.goFunc(func() { o.pollUpstream(u) })
		o.goFunc(func() { o.followLive(u) })
	}
	o.goFunc(func() {
		select {
		case <-o.ctx.Done():
		case <-o.engine.Done():
			if err := o.engine.Err(); err != nil {
				o.fatal(err)
			}
		}
	})
	o.led.Wake()
	o.log.Info("observer started", "upstreams", len(o.upstreams), "finalized", o.led.FinalizedHeight(),
		"executed", o.led.ExecutedHeight())
	return nil
}

func (o *Observer) goFunc(fn func()) { o.group.Go(fn) }

// Stop shuts the observer down and closes its store.
func (o *Observer) Stop() { o.group.Stop() }

// Done is closed once the observer has stopped.
func (o *Observer) Done() <-chan struct{} { return o.group.Done() }

// Err is the fatal error that stopped the observer, or nil.
func (o *Observer) Err() error { return o.group.Err() }

func (o *Observer) fatal(err error) { o.group.Fail(err) }

// --- the read API (api.Backend and the sync, chain and light sources) -----

// SubmitTxs refuses every transaction: observers do not order any.
func (o *Observer) SubmitTxs(txs [][]byte) []api.Submission {
	out := make([]api.Submission, len(txs))
	for i := range out {
		out[i].Error = ErrObserver
	}
	return out
}

// TxStatus reports an executed transaction's result; an observer has no
// mempool, so anything else is unknown.
func (o *Observer) TxStatus(id model.Identifier) (api.TxStatus, error) {
	r, err := o.led.TxResult(id)
	switch {
	case err == nil:
		return api.TxStatus{ID: id, Status: "finalized", Result: &r}, nil
	case errors.Is(err, storage.ErrNotFound):
		return api.TxStatus{ID: id, Status: "unknown"}, nil
	default:
		return api.TxStatus{}, err
	}
}

// Status describes the observer: the chain as it has it and its upstreams'
// best height.
func (o *Observer) Status() api.Status {
	st := api.ChainStatus(o.led, model.View(o.view.Load()))
	st.Name = "observer"
	st.BestPeerHeight = o.bestPeerHeight.Load()
	st.Syncing = st.BestPeerHeight > st.FinalizedHeight+2
	for _, m := range o.led.Directory().Peers() {
		st.Peers = append(st.Peers, api.PeerState{ID: m.ID(), Name: m.Name, Address: m.Address})
	}
	return st
}

// Evidence returns the equivocations the follower engine proved (double
// proposals it saw from upstreams), oldest first, and how many older
// records it no longer keeps. They live in memory: an observer's
// evidence is what it saw since it started.
func (o *Observer) Evidence() ([]evidence.Record, int) {
	recs, total := o.engine.Records()
	var out []evidence.Record
	for _, r := range recs {
		if r.Evidence != nil {
			out = append(out, evidence.RecordOf(*r.Evidence, o.led.Directory().NameOf(r.Evidence.Offender), r.Time))
		}
	}
	return out, int(total) - len(recs)
}
