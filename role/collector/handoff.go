package collector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// handoff hands formed guarantees to every consensus node
// (POST /v1/guarantees), one goroutine per node so a slow or dead node
// delays no other. A guarantee stays queued until every node accepted or
// refused it, or it expired; then, until the main chain includes it or it
// expires, it is outstanding. Queued and outstanding guarantees together
// are bounded (max): while there is no room the node takes no more from
// its clusters, their formed queues fill, and their leaders propose empty
// collections, so nothing is collected that could not be handed on.
type handoff struct {
	log     *slog.Logger
	metrics *nodeMetrics
	refs    *Refs
	expiry  uint64
	max     int
	batch   int
	targets []*hoTarget
	// forge is the ForgeGuarantees test fault: every guarantee is handed
	// off with a broken signature.
	forge bool

	mu          sync.Mutex
	queue       []*hoEntry
	outstanding map[model.Identifier]model.Identifier // collection → reference block
}

type hoEntry struct {
	g    *collection.Guarantee
	left map[int]bool // targets that have not answered for it yet
}

type hoTarget struct {
	url  string
	cl   *client.Client
	wake chan struct{}
}

// Hand-off pacing: a failed node is retried after a backoff doubling from
// hoBackoffMin to hoBackoffMax; each request has hoTimeout.
const (
	hoBackoffMin = 100 * time.Millisecond
	hoBackoffMax = 5 * time.Second
	hoTimeout    = 5 * time.Second
)

func newHandoff(urls []string, max, batch int, expiry uint64, refs *Refs, m *nodeMetrics, log *slog.Logger) *handoff {
	h := &handoff{log: log, metrics: m, refs: refs, expiry: expiry, max: max, batch: batch,
		outstanding: map[model.Identifier]model.Identifier{}}
	for _, u := range urls {
		h.targets = append(h.targets, &hoTarget{url: u, cl: client.New(u), wake: make(chan struct{}, 1)})
	}
	return h
}

// room is how many more guarantees may be taken from the clusters.
func (h *handoff) room() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return max(0, h.max-len(h.queue)-len(h.outstanding))
}

// add queues guarantees for every consensus node.
func (h *handoff) add(gs []*collection.Guarantee) {
	if len(gs) == 0 {
		return
	}
	h.mu.Lock()
	for _, g := range gs {
		left := make(map[int]bool, len(h.targets))
		for i := range h.targets {
			left[i] = true
		}
		h.queue = append(h.queue, &hoEntry{g: g, left: left})
	}
	h.setGauge()
	h.mu.Unlock()
	for _, t := range h.targets {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

func (h *handoff) setGauge() {
	h.metrics.handoffQueued.Set(float64(len(h.queue)))
	h.metrics.handoffOutstanding.Set(float64(len(h.outstanding)))
}

// included drops guarantees the main chain carries: nothing is left to do
// for them.
func (h *handoff) included(ids []model.Identifier, _ uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := make(map[model.Identifier]bool, len(ids))
	for _, id := range ids {
		set[id] = true
		delete(h.outstanding, id)
	}
	h.queue = deleteEntries(h.queue, func(e *hoEntry) bool { return set[e.g.CollectionID] })
	h.metrics.guaranteesIncluded.Add(float64(len(ids)))
	h.setGauge()
}

// sweep drops guarantees whose reference block is past expiry at the
// newest followed height (or so old Refs forgot it): no consensus node
// may include them any more.
func (h *handoff) sweep() {
	_, latest := h.refs.Latest()
	expired := func(ref model.Identifier) bool {
		rh, _, ok := h.refs.RefHeight(ref)
		return !ok || rh+h.expiry < latest
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	h.queue = deleteEntries(h.queue, func(e *hoEntry) bool {
		if expired(e.g.Ref) {
			n++
			return true
		}
		return false
	})
	for id, ref := range h.outstanding {
		if expired(ref) {
			delete(h.outstanding, id)
			n++
		}
	}
	h.metrics.guaranteesExpired.Add(float64(n))
	h.setGauge()
}

func deleteEntries(q []*hoEntry, drop func(*hoEntry) bool) []*hoEntry {
	out := q[:0]
	for _, e := range q {
		if !drop(e) {
			out = append(out, e)
		}
	}
	clear(q[len(out):])
	return out
}

// pick returns up to batch queued guarantees target i has not answered.
func (h *handoff) pick(i int) []*hoEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*hoEntry
	for _, e := range h.queue {
		if e.left[i] {
			out = append(out, e)
			if len(out) == h.batch {
				break
			}
		}
	}
	return out
}

// answered records target i's answer for entries; rejected holds the
// indexes it refused (a refusal is final for that node: resending the
// same bytes cannot change it).
func (h *handoff) answered(i int, entries []*hoEntry, rejected map[int]string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	queued := make(map[*hoEntry]bool, len(h.queue))
	for _, e := range h.queue {
		queued[e] = true
	}
	done := map[*hoEntry]bool{}
	for j, e := range entries {
		if !queued[e] || !e.left[i] {
			continue // dropped meanwhile (included or expired)
		}
		delete(e.left, i)
		if reason, ok := rejected[j]; ok {
			h.metrics.guaranteesRejected.Inc()
			h.log.Warn("consensus node refused a guarantee", "node", h.targets[i].url, "collection", e.g.CollectionID, "reason", reason)
		}
		if len(e.left) == 0 {
			done[e] = true
		}
	}
	if len(done) == 0 {
		return
	}
	h.queue = deleteEntries(h.queue, func(e *hoEntry) bool { return done[e] })
	for e := range done {
		h.outstanding[e.g.CollectionID] = e.g.Ref
		h.metrics.guaranteesHandedOff.Inc()
	}
	h.setGauge()
}

// run is target i's loop until ctx ends.
func (h *handoff) run(ctx context.Context, i int) {
	t := h.targets[i]
	backoff := hoBackoffMin
	for {
		entries := h.pick(i)
		if len(entries) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-t.wake:
				continue
			}
		}
		gs := make([]*collection.Guarantee, len(entries))
		for j, e := range entries {
			gs[j] = e.g
			if h.forge {
				gs[j] = forged(e.g)
			}
		}
		rctx, cancel := context.WithTimeout(ctx, hoTimeout)
		resp, err := t.cl.SubmitGuarantees(rctx, gs)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			h.metrics.handoffFailures.Inc()
			h.log.Debug("guarantee hand-off failed, retrying", "node", t.url, "guarantees", len(gs), "backoff", backoff, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, hoBackoffMax)
			continue
		}
		backoff = hoBackoffMin
		rejected := make(map[int]string, len(resp.Rejected))
		for _, r := range resp.Rejected {
			rejected[r.Index] = r.Error
		}
		h.answered(i, entries, rejected)
	}
}

// forged is g with its aggregate signature broken (the ForgeGuarantees
// test fault): what a byzantine member hands off instead of the
// certificate its cluster formed.
func forged(g *collection.Guarantee) *collection.Guarantee {
	f := *g
	f.Signature = append([]byte(nil), g.Signature...)
	f.Signature[len(f.Signature)-1] ^= 1
	return &f
}
