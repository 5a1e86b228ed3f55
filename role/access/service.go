package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/internal/service"
)

// Service is an access node's transaction path: checks, routing,
// forwarding, tracking and the event stream. It reads the main chain
// through Config.Chain and is told of newly finalized blocks through
// Finalized.
type Service struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	refs *refs
	tr   *tracker
	hub  *hub

	fwdMu      sync.Mutex
	forwarders map[queueKey]*forwarder

	clientsMu sync.Mutex
	clients   map[string]*client.Client // collectors' and executors'

	outcomeSlots chan struct{} // execution results being fetched
	fetches      chan fetchJob // finalized guarantees whose collection to read

	// target is the newest finalized height announced; wake nudges the
	// block processor.
	target atomic.Uint64
	wake   chan struct{}
	next   uint64 // the processor's next height (its goroutine only)

	// accounts caches proven accounts for ingress (Config.Accounts).
	accounts *accountCache

	group *service.Group
	ctx   context.Context
}

// New builds a Service; Start runs it.
func New(cfg Config) (*Service, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, log: cfg.Logger, m: newMetrics(cfg.Metrics),
		refs:       newRefs(2 * cfg.Expiry),
		hub:        newHub(cfg.MaxSubscribers, cfg.SubscriberBuffer),
		forwarders: make(map[queueKey]*forwarder),
		clients:    make(map[string]*client.Client),
		wake:       make(chan struct{}, 1),
	}
	if a := cfg.Accounts; a != nil {
		s.accounts = newAccountCache(a.CacheAccounts, a.CacheTTL, cfg.Now)
	}
	s.outcomeSlots = make(chan struct{}, cfg.PollWorkers)
	s.fetches = make(chan fetchJob, fetchQueue)
	s.tr = newTracker(cfg.TrackTxs, cfg.Expiry, cfg.PollInterval, s.m, s.hub.publish)
	s.group = service.New(cfg.Logger, "access", nil, nil)
	s.ctx = context.Background() // Start replaces it; nothing waits on it before
	return s, nil
}

// Start reads the window of finalized blocks already held (so references
// are known at once) and starts the goroutines. It returns once the
// window is loaded.
func (s *Service) Start(ctx context.Context) error {
	s.ctx = s.group.Start(ctx)
	latest, err := s.cfg.Chain.LatestBlock()
	if err != nil {
		return fmt.Errorf("access: latest finalized block: %w", err)
	}
	if keep := 2 * s.cfg.Expiry; latest.Height >= keep {
		s.next = latest.Height - keep + 1
	}
	s.Finalized(latest.Height)
	if err := s.process(); err != nil {
		return err
	}
	s.goFunc(s.processLoop)
	s.goFunc(s.poll)
	for range fetchWorkers {
		s.goFunc(s.fetch)
	}
	return nil
}

func (s *Service) goFunc(fn func()) { s.group.Go(fn) }

// Stop stops the goroutines and waits for them.
func (s *Service) Stop() { s.group.Stop() }

// Done is closed once the service has stopped.
func (s *Service) Done() <-chan struct{} { return s.group.Done() }

// Err is the fatal error that stopped the service, or nil.
func (s *Service) Err() error { return s.group.Err() }

// Finalized announces that the main chain is finalized up to height. It
// never blocks (the observer's OnFinalized calls it on the follower's
// goroutine): the processor reads the blocks from Chain.
func (s *Service) Finalized(height uint64) {
	for {
		cur := s.target.Load()
		if height <= cur || s.target.CompareAndSwap(cur, height) {
			break
		}
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) processLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		if err := s.process(); err != nil {
			s.group.Fail(err)
			return
		}
	}
}

// process applies the finalized blocks from next up to the target. An
// error reading a finalized block or its epoch is fatal: the view of the
// chain would have a gap.
func (s *Service) process() error {
	target := s.target.Load()
	for ; s.next <= target; s.next++ {
		if s.ctx.Err() != nil {
			return nil
		}
		b, err := s.cfg.Chain.BlockByHeight(s.next)
		if err != nil {
			return fmt.Errorf("access: finalized block %d: %w", s.next, err)
		}
		if err := s.apply(b); err != nil {
			return err
		}
	}
	if oldest, ok := s.refs.oldestEpoch(); ok {
		s.retire(oldest)
	}
	return nil
}

// apply records one finalized block: a reference in the window, the
// collections its guarantees finalize, the result it carries.
func (s *Service) apply(b *model.Block) error {
	ep, err := s.cfg.Directory.EpochOf(b.View)
	if err != nil {
		return fmt.Errorf("access: epoch of finalized block %d (view %d): %w", b.Height, b.View, err)
	}
	s.refs.add(b.ID(), b.Height, ep)
	p, err := s.cfg.Decode(b)
	if err != nil {
		// The follower validated the block; a payload this node cannot
		// read is a bug, but it must not stop references being served.
		s.log.Error("access: undecodable finalized payload", "height", b.Height, "err", err)
		s.tr.block(b.Height, nil, 0, false, s.cfg.Now())
		return nil
	}
	colls := make([]model.Identifier, len(p.Guarantees))
	for i, g := range p.Guarantees {
		colls[i] = g.CollectionID
	}
	defer func() {
		// After the block is applied, so a fetched collection finds its
		// guarantee's height recorded.
		for _, g := range p.Guarantees {
			s.queueFetch(fetchJob{coll: g.CollectionID, chain: g.Chain, height: b.Height})
		}
	}()
	var resultHeight uint64
	if p.Result != nil {
		resultHeight = p.Result.Height
	}
	s.tr.block(b.Height, colls, resultHeight, p.Result != nil, s.cfg.Now())
	return nil
}

// apiClient returns the API client of a collector or an execution node
// (one per URL: members of the known epochs, a bounded set).
func (s *Service) apiClient(url string) *client.Client {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	c, ok := s.clients[url]
	if !ok {
		c = client.New(url, client.WithHTTPClient(s.cfg.HTTPClient))
		s.clients[url] = c
	}
	return c
}

// Submit checks, routes and queues transactions (api.Backend.SubmitTxs).
// Each is an encoded collection.Tx. A transaction already tracked is
// accepted again without being forwarded twice.
func (s *Service) Submit(txs [][]byte) []api.Submission {
	out := make([]api.Submission, len(txs))
	grown := s.refs.changed() // before the first check: no block slips by
	var waiting []int         // transactions whose reference block is not here yet
	for i, raw := range txs {
		id, err := s.submit(raw, false)
		out[i] = api.Submission{ID: id, Error: err}
		if errors.Is(err, errRefNotYet) {
			waiting = append(waiting, i)
		}
	}
	if len(waiting) == 0 {
		return out
	}
	// Wait for the blocks they name, re-checking as blocks arrive, up to
	// RefWait; then refuse what is still unknown.
	timer := time.NewTimer(max(s.cfg.RefWait, 0))
	defer timer.Stop()
	for final := false; len(waiting) > 0; {
		select {
		case <-grown:
		case <-timer.C:
			final = true
		case <-s.ctx.Done():
			final = true
		}
		grown = s.refs.changed()
		still := waiting[:0]
		for _, i := range waiting {
			id, err := s.submit(txs[i], final)
			out[i] = api.Submission{ID: id, Error: err}
			if errors.Is(err, errRefNotYet) {
				still = append(still, i)
			}
		}
		waiting = still
	}
	return out
}

// errRefNotYet: the reference block is not held yet; the submission
// waits for it (never returned by Submit).
var errRefNotYet = errors.New("reference block not held yet")

// submit checks and queues one transaction; with final false, an unknown
// reference is errRefNotYet (the caller waits for more blocks) rather than
// a refusal.
func (s *Service) submit(raw []byte, final bool) (model.Identifier, error) {
	tx, err := collection.DecodeTx(raw, s.cfg.TxLimits)
	if err != nil {
		if errors.Is(err, collection.ErrTooLarge) {
			s.m.refused.WithLabelValues(reasonTooLarge).Inc()
			return model.ZeroID, fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		s.m.refused.WithLabelValues(reasonMalformed).Inc()
		return model.ZeroID, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	id := tx.ID()
	ref, latest, ok := s.refs.lookup(tx.Ref)
	if !ok || ref.height > latest {
		if !final && s.cfg.RefWait > 0 {
			return id, errRefNotYet
		}
		s.m.refused.WithLabelValues(reasonUnknown).Inc()
		return id, fmt.Errorf("%w: %v", ErrUnknownRef, tx.Ref)
	}
	if ref.height+s.cfg.Expiry < latest {
		s.m.refused.WithLabelValues(reasonExpired).Inc()
		return id, fmt.Errorf("%w: reference height %d + expiry %d < finalized height %d", ErrExpiredRef, ref.height, s.cfg.Expiry, latest)
	}
	if s.cfg.Accounts != nil {
		if err := s.checkSigned(s.ctx, tx.Ref, tx.Body); err != nil {
			s.m.refused.WithLabelValues(signedReason(err)).Inc()
			return id, err
		}
	}
	route, err := s.cfg.Directory.Route(ref.epoch, id)
	if err != nil {
		s.m.refused.WithLabelValues(reasonNoRoute).Inc()
		return id, err
	}
	f := s.forwarderFor(route)
	// The forwarder may hold raw: the API gives each transaction its own
	// slice (hex decoding, or the binary batch it keeps whole).
	e := &entry{id: id, refHeight: ref.height, epoch: ref.epoch, cluster: route.Cluster}
	known, err := s.tr.admit(e, s.cfg.Now(), func() bool { return f.offer(outTx{id: id, raw: raw}) })
	if err != nil {
		s.m.refused.WithLabelValues(reasonBusy).Inc()
		return id, fmt.Errorf("%w: cluster %d of epoch %d", err, route.Cluster, route.Epoch)
	}
	if !known {
		s.m.submitted.Inc()
		s.m.queueDepth(f.key, f.depth())
	}
	return id, nil
}

// TxStatus reports a tracked transaction: its status and stages, and for
// an executed one the result ID, chunk, computation and events an
// execution node reported; one this node does not track is "unknown"
// (the API answers 404).
func (s *Service) TxStatus(id model.Identifier) api.TxStatus {
	status, stages, x, fetch, ok := s.tr.lookup(id)
	if !ok {
		return api.TxStatus{ID: id, Status: "unknown"}
	}
	if fetch {
		if got, fetched := s.fetchOutcome(id, stages.Epoch); fetched {
			status, stages, x, _, _ = s.tr.lookup(id)
			if x == nil {
				x = got // not kept (over the budget): this answer still has it
			}
		}
	}
	return api.TxStatus{ID: id, Status: status, Stages: stages, Execution: x}
}

// fetchOutcome asks the epoch's execution nodes for an executed
// transaction's result (GET /v1/transactions/{id}: they store results
// under the envelope ID) and records the first answer that has one: its
// outcome, and its execution record (result ID, chunk, computation,
// events) within the tracker's budget. At most PollWorkers lookups run
// at once; beyond, the answer goes without them (the next lookup fetches
// them). It returns the execution record fetched and whether an answer
// was recorded.
//
// Nothing here is proven: the outcome and events are the answering
// executor's word, as the result it signed is until sealing exists.
func (s *Service) fetchOutcome(id model.Identifier, epoch uint64) (*api.TxExecution, bool) {
	select {
	case s.outcomeSlots <- struct{}{}:
		defer func() { <-s.outcomeSlots }()
	default:
		return nil, false
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
	defer cancel()
	for _, url := range s.cfg.Directory.Executors(epoch) {
		r, err := s.apiClient(url).Tx(ctx, id.Hex())
		if err != nil || r.OK == nil {
			s.log.Debug("access: execution node has no result", "executor", url, "tx", id, "err", err)
			continue
		}
		if r.Execution != nil {
			outcome := "not_kept"
			if s.tr.outcome(id, *r.OK, r.Error, r.Execution) {
				outcome = "kept"
			}
			s.m.execInfo.WithLabelValues(outcome).Inc()
		} else {
			s.tr.outcome(id, *r.OK, r.Error, nil)
		}
		return r.Execution, true
	}
	return nil, false
}

// Routes serves the access node's own endpoint: GET /v1/access/events.
func (s *Service) Routes(handle func(pattern string, h http.HandlerFunc)) {
	handle("GET /v1/access/events", s.handleEvents)
	if s.cfg.Accounts != nil {
		handle("GET /v1/accounts/{address}", s.handleAccount)
	}
}
