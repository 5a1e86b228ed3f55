package execution

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// Guarantor is a collector that signed a guarantee, and so promised to
// serve its collection, with the base URL of its API ("" when the genesis
// directory lists none).
type Guarantor struct {
	ID  model.NodeID
	URL string
}

// Resolver names a guarantee's guarantors: the members of its cluster
// whose bits are set in its signer set. An error means the chain names a
// guarantee this node cannot place (an unknown reference block or
// cluster), which a finalized chain never does: it stops the executor.
type Resolver func(g *collection.Guarantee) ([]Guarantor, error)

// FetchConfig tunes the collection fetcher. Zero values take the defaults.
type FetchConfig struct {
	// RequestTimeout bounds one request to one guarantor (default 5s).
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between whole rounds over
	// a collection's guarantors (default 200ms doubling up to 5s).
	MinBackoff, MaxBackoff time.Duration
	// Parallel bounds the requests in flight (default 8).
	Parallel int
	// PrefetchBlocks is how many finalized blocks beyond the one being
	// executed have their collections fetched ahead (default 4).
	PrefetchBlocks int
	// Limits bound a fetched collection (default collection.DefaultLimits).
	Limits collection.Limits
}

func (c *FetchConfig) defaults() {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(5*time.Second, c.MinBackoff)
	}
	if c.Parallel <= 0 {
		c.Parallel = 8
	}
	if c.PrefetchBlocks < 0 {
		c.PrefetchBlocks = 0
	} else if c.PrefetchBlocks == 0 {
		c.PrefetchBlocks = 4
	}
	if c.Limits == (collection.Limits{}) {
		c.Limits = collection.DefaultLimits()
	}
}

// fetcher supplies a finalized block's transactions from the collections
// its guarantees name (ledger.Hooks.Transactions). It fetches each
// collection from its guarantors, in a rotating order starting at a random
// one, checked against the collection's ID; a guarantor that does not
// serve it (404, an error, another collection) is passed over for the
// next. It never skips a collection: when a whole round gave nothing it
// records the collection as missing (Missing, the metrics, a log line)
// and asks again after a backoff until one serves it or the node stops.
// Execution's liveness rests on one honest guarantor per collection.
//
// Concurrency: one goroutine per collection wanted (the block being
// executed and, for prefetching, up to PrefetchBlocks finalized blocks
// after it: at most (PrefetchBlocks+1) × collection.DefaultMaxGuarantees
// jobs), and at most Parallel requests in flight. Memory is bounded the
// same way: the collections of those blocks.
type fetcher struct {
	cfg     FetchConfig
	resolve Resolver
	// ahead returns the guarantees of the finalized block at height, if
	// there is one yet (prefetching); nil disables prefetching.
	ahead   func(height uint64) ([]*collection.Guarantee, bool)
	http    *http.Client
	m       *metrics
	missing *Missing
	log     *slog.Logger
	sem     chan struct{}
	maxJobs int

	mu       sync.Mutex
	jobs     map[model.Identifier]*job
	prefetch uint64 // highest height whose collections were asked for
	rng      *rand.Rand
}

// job fetches one collection; done closes with col or err set.
type job struct {
	g      *collection.Guarantee
	height uint64 // the highest block height that named it
	cancel context.CancelFunc
	done   chan struct{}
	col    *collection.Collection
	err    error
}

func newFetcher(cfg FetchConfig, resolve Resolver, ahead func(uint64) ([]*collection.Guarantee, bool),
	hc *http.Client, m *metrics, missing *Missing, log *slog.Logger, seed uint64) *fetcher {
	cfg.defaults()
	if hc == nil {
		hc = &http.Client{} // requests carry their own deadlines
	}
	return &fetcher{
		cfg: cfg, resolve: resolve, ahead: ahead, http: hc, m: m, missing: missing, log: log,
		sem:     make(chan struct{}, cfg.Parallel),
		maxJobs: (cfg.PrefetchBlocks + 1) * collection.DefaultMaxGuarantees,
		jobs:    make(map[model.Identifier]*job),
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// Collections returns the collections gs name (the guarantees of the
// finalized block at height that execution runs), in order, each checked
// against its ID. It waits for every collection until ctx ends: a
// collection is never skipped.
func (f *fetcher) Collections(ctx context.Context, height uint64, gs []*collection.Guarantee) ([]*collection.Collection, error) {
	jobs := make([]*job, len(gs))
	f.mu.Lock()
	for i, g := range gs {
		jobs[i] = f.startLocked(ctx, g, height)
	}
	f.mu.Unlock()
	defer f.release(height)
	f.prefetchAfter(ctx, height)
	cols := make([]*collection.Collection, len(jobs))
	for i, j := range jobs {
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if j.err != nil {
			return nil, fmt.Errorf("collection %v of block %d: %w", j.g.CollectionID, height, j.err)
		}
		cols[i] = j.col
	}
	return cols, nil
}

// startLocked returns the job of g's collection, starting it if needed.
func (f *fetcher) startLocked(ctx context.Context, g *collection.Guarantee, height uint64) *job {
	if j, ok := f.jobs[g.CollectionID]; ok {
		j.height = max(j.height, height)
		return j
	}
	jctx, cancel := context.WithCancel(ctx)
	j := &job{g: g, height: height, cancel: cancel, done: make(chan struct{})}
	f.jobs[g.CollectionID] = j
	go f.fetch(jctx, j)
	return j
}

// prefetchAfter starts the jobs of the finalized blocks after height, up
// to PrefetchBlocks of them and the job bound.
func (f *fetcher) prefetchAfter(ctx context.Context, height uint64) {
	if f.ahead == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for next := max(f.prefetch, height) + 1; next <= height+uint64(f.cfg.PrefetchBlocks); next++ {
		gs, ok := f.ahead(next)
		if !ok || len(f.jobs)+len(gs) > f.maxJobs {
			return
		}
		for _, g := range gs {
			f.startLocked(ctx, g, next)
		}
		f.prefetch = next
	}
}

// release drops the jobs no block above height names (done, or
// prefetched for a guarantee the ledger's window then held back).
func (f *fetcher) release(height uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, j := range f.jobs {
		if j.height <= height {
			j.cancel()
			delete(f.jobs, id)
		}
	}
}

// inFlight is the number of jobs held (tests).
func (f *fetcher) inFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jobs)
}

func (f *fetcher) intn(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.IntN(n)
}

// fetch asks j's guarantors in rounds until one serves the collection or
// ctx ends.
func (f *fetcher) fetch(ctx context.Context, j *job) {
	defer close(j.done)
	id := j.g.CollectionID
	reported := false
	defer func() {
		if reported {
			f.missing.resolve(id, time.Now(), j.col != nil)
		}
	}()
	backoff := f.cfg.MinBackoff
	start := -1
	for round := 1; ; round++ {
		gs, err := f.resolve(j.g)
		if err != nil {
			j.err = err
			return
		}
		if start < 0 && len(gs) > 0 {
			start = f.intn(len(gs))
		}
		reasons := make(map[string]string, len(gs))
		for k := range gs {
			gt := gs[(start+round-1+k)%len(gs)]
			if gt.URL == "" {
				reasons[gt.ID.Hex()] = ReasonNoAPI
				f.m.fetchFailures.WithLabelValues(ReasonNoAPI).Inc()
				continue
			}
			col, reason, err := f.ask(ctx, gt, id)
			if ctx.Err() != nil {
				j.err = ctx.Err()
				return
			}
			if err == nil {
				j.col = col
				f.m.fetched.Inc()
				if reported {
					f.log.Info("missing collection served at last", "collection", id, "guarantor", gt.ID, "rounds", round)
				}
				return
			}
			reasons[gt.ID.Hex()] = reason
			f.m.fetchFailures.WithLabelValues(reason).Inc()
			f.log.Debug("guarantor did not serve a collection", "collection", id, "guarantor", gt.ID, "reason", reason, "err", err)
		}
		rec := MissingRecord{Collection: id, ID: id.Hex(), Height: j.height, Chain: j.g.Chain.Hex(),
			Guarantors: reasons, Rounds: round, Since: time.Now()}
		if f.missing.report(rec) {
			f.log.Warn("collection missing: no guarantor served it, asking again (execution waits for it)",
				"collection", id, "height", j.height, "guarantors", len(gs), "reasons", reasons)
		}
		reported = true
		t := time.NewTimer(backoff/2 + time.Duration(f.intn(int(backoff/2)+1)))
		select {
		case <-ctx.Done():
			t.Stop()
			j.err = ctx.Err()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, f.cfg.MaxBackoff)
	}
}

// ask requests the collection from one guarantor, within the request
// timeout and the bound on requests in flight.
func (f *fetcher) ask(ctx context.Context, gt Guarantor, id model.Identifier) (*collection.Collection, string, error) {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	defer func() { <-f.sem }()
	rctx, cancel := context.WithTimeout(ctx, f.cfg.RequestTimeout)
	defer cancel()
	c := client.New(gt.URL, client.WithHTTPClient(f.http), client.WithMaxResponseBytes(int64(f.cfg.Limits.MaxBytes)+1))
	col, err := c.Collection(rctx, id, f.cfg.Limits)
	if err != nil {
		return nil, failureReason(err), err
	}
	return col, "", nil
}

// failureReason classifies a failed request for the metrics and the
// evidence.
func failureReason(err error) string {
	var ce *client.Error
	switch {
	case errors.Is(err, client.ErrWrongCollection):
		return ReasonWrongCollection
	case errors.As(err, &ce) && ce.Status == http.StatusNotFound:
		return ReasonNotFound
	case errors.As(err, &ce):
		return ReasonRefused
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, collection.ErrInvalid):
		return ReasonInvalid
	default:
		return ReasonUnreachable
	}
}
