package consensus

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/ledger"
)

// ErrGuaranteePoolFull refuses a guarantee when the pool holds its
// maximum: busy, retry once blocks have drained it (HTTP 503).
var ErrGuaranteePoolFull = errors.New("guarantee pool full: busy, retry")

// maxGuaranteeBody bounds a POST /v1/guarantees body: the largest batch of
// the largest guarantees (a cluster of model.MaxCommitteeSize members, a
// signature of model.MaxSignatureSize bytes) and the batch's count.
var maxGuaranteeBody = int64(4 + collection.MaxGuaranteeBatch*collection.GuaranteeSize(model.MaxCommitteeSize, model.MaxSignatureSize))

// Routes serves a pipeline network's consensus-node endpoints beside the
// common API: guarantees from collectors and receipts from execution
// nodes. Networks without clusters serve neither.
func (n *Node) Routes(handle func(pattern string, h http.HandlerFunc)) {
	if n.pipe == nil {
		return
	}
	handle("POST /v1/guarantees", n.pipe.handleGuarantees)
	handle("POST /v1/receipts", n.pipe.handleReceipts)
	handle("GET /v1/execution/disagreements", n.pipe.handleDisagreements)
}

var _ api.RouteProvider = (*Node)(nil)

// SubmitGuarantees checks a batch of guarantees and pools the valid ones
// (the HTTP handler's work, for in-process callers). Known collections
// count as accepted. It fails with ErrGuaranteePoolFull, after pooling
// what fitted, when the pool is full, and with an error in a network
// without clusters, whose consensus nodes take no guarantees.
func (n *Node) SubmitGuarantees(ctx context.Context, gs []*collection.Guarantee) (api.GuaranteesResponse, error) {
	if n.pipe == nil {
		return api.GuaranteesResponse{}, errors.New("not a pipeline network: this node takes no guarantees")
	}
	return n.pipe.intakeGuarantees(ctx, gs)
}

func (p *pipeline) handleGuarantees(w http.ResponseWriter, r *http.Request) {
	if !api.RequireBinary(w, r, "guarantees") {
		return
	}
	raw, ok := api.ReadBody(w, r, maxGuaranteeBody)
	if !ok {
		return
	}
	gs, err := collection.DecodeGuarantees(raw, collection.MaxGuaranteeBatch)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(gs) == 0 {
		api.WriteError(w, http.StatusBadRequest, "empty batch")
		return
	}
	resp, err := p.intakeGuarantees(r.Context(), gs)
	switch {
	case errors.Is(err, ErrGuaranteePoolFull):
		w.Header().Set("Retry-After", "1")
		api.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("%v (%d of %d accepted)", err, resp.Accepted, len(gs)))
	case err != nil:
		w.Header().Set("Retry-After", "1")
		api.WriteError(w, http.StatusServiceUnavailable, err.Error())
	default:
		api.WriteJSON(w, http.StatusOK, resp)
	}
}

// intakeGuarantees checks each new guarantee (CheckOne against the
// finalized chain, for the next height) on the caller's goroutine, at most
// a few batches at once, and pools the valid ones.
func (p *pipeline) intakeGuarantees(ctx context.Context, gs []*collection.Guarantee) (api.GuaranteesResponse, error) {
	var resp api.GuaranteesResponse
	select {
	case p.intake <- struct{}{}:
		defer func() { <-p.intake }()
	case <-ctx.Done():
		return resp, fmt.Errorf("busy, retry: %w", ctx.Err())
	}
	added := 0
	defer func() {
		if added > 0 {
			p.metrics.pending.Set(float64(p.pool.len()))
			p.n.run.SignalWork()
		}
	}()
	for i, g := range gs {
		if p.pool.known(g.CollectionID) {
			resp.Accepted++
			continue
		}
		main := p.refs.main()
		refHeight, err := p.incl.CheckOneCached(main, p.cluster, main.Finalized+1, g, p.checked)
		if err != nil {
			p.refused(g, err, "intake")
			resp.Rejected = append(resp.Rejected, api.RejectedEntry{Index: i, Error: err.Error()})
			continue
		}
		if err := p.pool.add(g, refHeight); err != nil {
			return resp, err
		}
		added++
		resp.Accepted++
	}
	return resp, nil
}

// refusalReason names a refused guarantee's broken rule for the metric.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, collection.ErrTooLittleWeight):
		return "too_little_weight"
	case errors.Is(err, collection.ErrBadSignature):
		return "bad_signature"
	case errors.Is(err, collection.ErrUnknownCluster):
		return "unknown_cluster"
	case errors.Is(err, collection.ErrGuaranteeExpired):
		return "expired"
	case errors.Is(err, collection.ErrUnknownRef):
		return "unknown_ref"
	case errors.Is(err, collection.ErrWrongChain):
		return "wrong_chain"
	case errors.Is(err, collection.ErrIncluded):
		return "included"
	default:
		return "invalid"
	}
}

// refused counts a refused guarantee and logs it. A guarantee with too
// little weight, a bad signature or no cluster is forged (no honest
// cluster forms one): it is logged as evidence with its chain and signers,
// so operators can trace the collectors or the relay that sent it. An
// expired or not-yet-known reference can be honest lag and is only
// debug-logged.
func (p *pipeline) refused(g *collection.Guarantee, err error, where string) {
	reason := refusalReason(err)
	p.metrics.refused.WithLabelValues(reason).Inc()
	switch reason {
	case "too_little_weight", "bad_signature", "unknown_cluster", "wrong_chain", "invalid":
		p.n.log.Warn("forged guarantee refused", "at", where, "reason", reason, "chain", g.Chain,
			"collection", g.CollectionID, "ref", g.Ref, "signers", g.Signers.Indices(), "err", err)
	default:
		p.n.log.Debug("guarantee refused", "at", where, "reason", reason, "chain", g.Chain,
			"collection", g.CollectionID, "err", err)
	}
}

// guaranteePool holds checked guarantees waiting for a block, oldest
// first, deduplicated by collection ID, at most max. It also remembers the
// collections finalized blocks included (until their guarantees expire),
// so a guarantee resubmitted after inclusion is answered as known instead
// of pooled again; the index refuses it on the chain either way.
type guaranteePool struct {
	mu     sync.Mutex
	max    int
	expiry uint64
	byID   map[model.Identifier]*pooled
	order  []*pooled // arrival order; removed entries are skipped and compacted
	// final maps included collections to the height that finalized them;
	// finalOrder lists them by that height, for pruning.
	final      map[model.Identifier]uint64
	finalOrder []finalEntry
}

type pooled struct {
	collection.Pooled
	removed bool
}

type finalEntry struct {
	id     model.Identifier
	height uint64
}

func newGuaranteePool(max int, expiry uint64) *guaranteePool {
	return &guaranteePool{max: max, expiry: expiry, byID: map[model.Identifier]*pooled{}, final: map[model.Identifier]uint64{}}
}

func (q *guaranteePool) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.byID)
}

// known: pooled, or included by a finalized block.
func (q *guaranteePool) known(id model.Identifier) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, pooled := q.byID[id]
	_, final := q.final[id]
	return pooled || final
}

// add pools a checked guarantee (a known collection is a no-op).
func (q *guaranteePool) add(g *collection.Guarantee, refHeight uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.byID[g.CollectionID]; ok {
		return nil
	}
	if _, ok := q.final[g.CollectionID]; ok {
		return nil
	}
	if len(q.byID) >= q.max {
		return ErrGuaranteePoolFull
	}
	e := &pooled{Pooled: collection.Pooled{Guarantee: g, RefHeight: refHeight}}
	q.byID[g.CollectionID] = e
	q.order = append(q.order, e)
	return nil
}

// candidates returns up to limit pooled guarantees, oldest first.
func (q *guaranteePool) candidates(limit int) []collection.Pooled {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]collection.Pooled, 0, min(limit, len(q.byID)))
	for _, e := range q.order {
		if len(out) >= limit {
			break
		}
		if !e.removed {
			out = append(out, e.Pooled)
		}
	}
	return out
}

// remove drops collections from the pool and returns its new size.
func (q *guaranteePool) remove(ids []model.Identifier) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.removeLocked(ids)
	return len(q.byID)
}

func (q *guaranteePool) removeLocked(ids []model.Identifier) {
	for _, id := range ids {
		if e, ok := q.byID[id]; ok {
			e.removed = true
			delete(q.byID, id)
		}
	}
	// Compact once removed entries outnumber live ones: amortized O(1).
	if len(q.order) > 2*len(q.byID)+64 {
		live := q.order[:0]
		for _, e := range q.order {
			if !e.removed {
				live = append(live, e)
			}
		}
		clear(q.order[len(live):])
		q.order = live
	}
}

// finalized records collections a block finalized at height included:
// they leave the pool and are remembered while a guarantee for them could
// still be valid (its reference is at most expiry below the next height,
// and at most the finalized height).
func (q *guaranteePool) finalized(ids []model.Identifier, height uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.removeLocked(ids)
	for _, id := range ids {
		if _, ok := q.final[id]; !ok {
			q.final[id] = height
			q.finalOrder = append(q.finalOrder, finalEntry{id, height})
		}
	}
	// A guarantee included at height h references a block at or below
	// h-1; past h+expiry every such guarantee is expired.
	drop := 0
	for drop < len(q.finalOrder) && q.finalOrder[drop].height+q.expiry < height {
		delete(q.final, q.finalOrder[drop].id)
		drop++
	}
	// Bound the memory: past q.max × 64 remembered collections the oldest
	// are forgotten (the index still refuses them on the chain, and Build
	// drops them from the pool: Index.Final).
	for len(q.finalOrder)-drop > 64*q.max {
		delete(q.final, q.finalOrder[drop].id)
		drop++
	}
	if drop > 0 {
		q.finalOrder = append(q.finalOrder[:0], q.finalOrder[drop:]...)
	}
}

// sweep drops pooled guarantees expired for a block at height.
func (q *guaranteePool) sweep(height uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var dead []model.Identifier
	for id, e := range q.byID {
		if height > q.expiry && e.RefHeight < height-q.expiry {
			dead = append(dead, id)
		}
	}
	q.removeLocked(dead)
}

// clusterDir answers collection.Clusters from the published epoch
// directory: a cluster chain of an epoch and its members as a committee
// (canonical member order, weights, keys with checked possession), cached
// per chain. Safe for concurrent use.
type clusterDir struct {
	mu     sync.Mutex
	dir    func() *ledger.Directory
	main   model.ChainID
	scheme crypto.Scheme
	cache  map[model.ChainID]clusterEntry
}

type clusterEntry struct {
	epoch uint64
	c     *committee.Committee
}

// maxClusterCache bounds the cached committees: a few epochs' clusters.
const maxClusterCache = 4096

func newClusterDir(dir func() *ledger.Directory, main model.ChainID, scheme crypto.Scheme) *clusterDir {
	return &clusterDir{dir: dir, main: main, scheme: scheme, cache: map[model.ChainID]clusterEntry{}}
}

// Cluster implements collection.Clusters.
func (d *clusterDir) Cluster(epochCounter uint64, chain model.ChainID) (*committee.Committee, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.cache[chain]; ok {
		return e.c, e.epoch == epochCounter
	}
	ep, err := d.dir().Schedule().Epoch(epochCounter)
	if err != nil {
		return nil, false
	}
	for i := range ep.Clusters {
		members, id := ep.Cluster(i, d.main)
		if id != chain {
			continue
		}
		ms := make([]committee.Member, 0, len(members))
		for _, m := range members {
			pk, err := d.scheme.DecodePublicKey(m.StakingKey)
			if err != nil {
				return nil, false // epoch.New checked every key: unreachable
			}
			ms = append(ms, committee.Member{ID: m.ID(), Weight: m.Weight, StakingKey: pk, Possession: m.Possession})
		}
		c, err := committee.New(ms, chain)
		if err != nil {
			return nil, false
		}
		if len(d.cache) >= maxClusterCache {
			clear(d.cache)
		}
		d.cache[chain] = clusterEntry{epoch: epochCounter, c: c}
		return c, true
	}
	return nil, false
}

// verifiedSet remembers, by the hash of their encoding, guarantees whose
// aggregate signature this node checked (collection.Verified): a block's
// guarantees usually reached this node's intake first. Bounded: the
// oldest are forgotten first.
type verifiedSet struct{ set *hashSet }

func newVerifiedSet(max int) *verifiedSet { return &verifiedSet{newHashSet(max)} }

func verifiedKey(g *collection.Guarantee) [32]byte { return sha256.Sum256(g.Encode()) }

func (s *verifiedSet) Has(g *collection.Guarantee) bool { return s.set.has(verifiedKey(g)) }

func (s *verifiedSet) Add(g *collection.Guarantee) { s.set.add(verifiedKey(g)) }
