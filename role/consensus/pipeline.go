package consensus

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/storage"
)

// ErrPipelineNetwork refuses transactions submitted to a consensus node of
// a pipeline network: its blocks order guarantees of collections, and
// transactions go to access nodes (docs/pipeline.md, "Roles and wiring").
// It wraps api.ErrWrongRole, which the API answers with 400.
var ErrPipelineNetwork = fmt.Errorf("%w: this is a pipeline network: submit transactions to an access node", api.ErrWrongRole)

// pipeline is what a consensus node does in a pipeline network
// (genesis params.clusters > 0) instead of holding and executing
// transactions: it takes guarantees from collectors and receipts from
// execution nodes, orders the guarantees in its blocks (each collection at
// most once) and carries the newest receipt's result as the block's
// Result (docs/pipeline.md, "Consensus in a pipeline network").
//
// The index is the consensus loop's alone (Build, Validate and the
// runner's hooks all run there). refs, clusters, pool, receipts and
// verified are shared with the HTTP goroutines that check intake, and lock.
type pipeline struct {
	n       *Node
	incl    collection.Inclusion
	maxPer  int // guarantees per block
	refs    *finalRefs
	cluster *clusterDir
	pool    *guaranteePool
	rcpts   *receiptPool
	// rindex is the fork-aware record of incorporated results, owned by
	// the consensus loop; receiptsChecked remembers verified receipt
	// signatures (shared with intake).
	rindex          *receiptIndex
	receiptsChecked *hashSet
	disagreements   *disagreements
	checked         *verifiedSet
	index           *collection.Index
	// views are the views of the unfinalized blocks in the index, for
	// receipts a synced block carries for a height not final here yet
	// (checkReceiptInAncestry). Owned by the consensus loop.
	views blockViews
	// intake bounds the guarantee batches being verified at once, so that
	// collectors cannot take every core from the consensus loop.
	intake chan struct{}
	// validators is how many goroutines check one block's guarantees.
	validators    int
	genesisResult payload.Result
	metrics       *pipelineMetrics
	sweptAt       uint64 // finalized height of the last pool expiry sweep
}

// newPipeline builds the pipeline state and rebuilds, from the store, the
// finalized references and the index of included collections (st is the
// core's restored state: its root is the newest finalized block, its
// blocks the unfinalized ones).
func newPipeline(n *Node, st core.State) (*pipeline, error) {
	cfg := n.cfg
	expiry := cfg.GuaranteeExpiry
	genesisResult, err := n.led.GenesisResult()
	if err != nil {
		return nil, err
	}
	p := &pipeline{
		n:       n,
		incl:    collection.Inclusion{Scheme: n.scheme, Expiry: expiry, MaxGuarantees: collection.DefaultMaxGuarantees},
		maxPer:  collection.DefaultMaxGuarantees,
		refs:    newFinalRefs(2*expiry + 1),
		cluster: newClusterDir(n.led.Directory, n.epochParams.ChainID, n.scheme),
		pool:    newGuaranteePool(cfg.GuaranteePoolSize, expiry),
		rcpts:   newReceiptPool(cfg.ReceiptPoolSize),
		rindex:  newReceiptIndex(genesisResult),
		// Every executor's receipts of a few heights: the pool's bound.
		receiptsChecked: newHashSet(4 * cfg.ReceiptPoolSize),
		disagreements:   newDisagreements(),
		checked:         newVerifiedSet(4 * cfg.GuaranteePoolSize),
		intake:          make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
		// A block's guarantees are checked on up to four goroutines: each
		// check is one pairing-heavy aggregate verification (~1 ms), so
		// fan-out pays for itself from two guarantees on.
		validators:    min(4, max(1, runtime.GOMAXPROCS(0))),
		genesisResult: genesisResult.Summary(),
		metrics:       newPipelineMetrics(cfg.Metrics),
		views:         blockViews{},
	}
	if err := p.rebuild(st); err != nil {
		return nil, err
	}
	return p, nil
}

// rebuild restores the finalized references within two expiry windows and
// the index of included collections: the finalized blocks within one
// expiry window of the newest (a guarantee older than that is expired
// everywhere the chain can grow), then the unfinalized blocks.
func (p *pipeline) rebuild(st core.State) error {
	store := p.n.led.Store()
	top := st.Root.Height
	expiry := p.incl.Expiry
	from := uint64(0)
	if top > 2*expiry {
		from = top - 2*expiry
	}
	base := uint64(0)
	if top > expiry+1 {
		base = top - expiry - 1
	}
	var final []*model.Block
	for h := from; h <= top; h++ {
		b, err := store.FinalizedByHeight(h)
		if errors.Is(err, storage.ErrNotFound) && h < top {
			continue // below a snapshot root: nothing older is kept
		}
		if err != nil {
			return fmt.Errorf("finalized block %d: %w", h, err)
		}
		p.refs.add(b.ID(), b.Height, p.epochOf(b.View))
		if h >= base {
			final = append(final, b)
		}
	}
	if len(final) == 0 {
		final = []*model.Block{st.Root}
	}
	if err := p.rebuildReceipts(top); err != nil {
		return err
	}
	first := final[0]
	p.index = collection.NewIndex(first.ID(), first.Height, first.Height, expiry, p.n.cfg.GuaranteeIndexCap)
	for _, b := range final[1:] {
		if err := p.track(b); err != nil {
			return fmt.Errorf("finalized block %d: %w", b.Height, err)
		}
		p.finalizeIndex(b)
	}
	blocks := slices.Clone(st.Blocks)
	slices.SortFunc(blocks, func(a, b *model.Block) int { return cmp.Compare(a.Height, b.Height) })
	for _, b := range blocks {
		if err := p.track(b); err != nil {
			p.n.log.Warn("unfinalized block left out of the guarantee index", "height", b.Height, "view", b.View, "err", err)
		}
	}
	return nil
}

// epochOf is the counter of the epoch a main-chain view belongs to (0 if
// the schedule no longer knows it: such a block is long expired).
func (p *pipeline) epochOf(v model.View) uint64 {
	e, err := p.n.led.Directory().Schedule().EpochAt(v)
	if err != nil {
		return 0
	}
	return e.Counter
}

// parentResult is the result a child of parent starts from: the parent's,
// or for a child of the genesis block (which carries none) the genesis
// state at height 0, which every node computes from the genesis file.
func (p *pipeline) parentResult(parent *model.Block) payload.Result {
	if r := p.n.resultOf(parent); r != nil {
		return *r
	}
	return p.genesisResult
}

// build is the leader's payload in a pipeline network: service events
// alone when governance has some ready (as in every network); otherwise
// the guarantees the pool holds that the fork has not included, and the
// newest receipt above the parent's result, whose result the block then
// carries.
func (p *pipeline) build(view model.View, parent *model.Block) []byte {
	res := p.parentResult(parent)
	if events := p.n.governance.Ready(view, epoch.MaxEventsPerBlock); len(events) > 0 {
		return (&payload.Payload{Result: &res, ServiceEvents: events}).Encode()
	}
	height := parent.Height + 1
	pl := &payload.Payload{Receipts: p.selectReceipts(parent.ID(), height)}
	res = payload.FromReceipts(res, pl.Receipts)
	pl.Result = &res
	fork, err := p.index.Fork(parent.ID())
	if err != nil {
		return pl.Encode() // a parent the index pruned cannot be finalized
	}
	cands := p.pool.candidates(4 * p.maxPer)
	var gone []model.Identifier
	live := cands[:0]
	for _, c := range cands {
		if p.index.Final(c.Guarantee.CollectionID) {
			gone = append(gone, c.Guarantee.CollectionID)
			continue
		}
		live = append(live, c)
	}
	take, _, expired := p.incl.Select(height, live, fork, p.index.Room())
	for _, i := range expired {
		gone = append(gone, live[i].Guarantee.CollectionID)
	}
	if len(gone) > 0 {
		p.metrics.pending.Set(float64(p.pool.remove(gone)))
	}
	pl.Guarantees = take
	return pl.Encode()
}

// hasWork: guarantees wait that the fork has not included, or blocks
// between the finalized one and parent carry guarantees whose 2-chain
// must not wait for the idle interval. A new receipt alone is no work:
// receipts come with every finalized height, and proposing for each
// would never let the chain idle; it rides with the next block.
func (p *pipeline) hasWork(parent *model.Block) bool {
	if p.index.Pending(parent.ID()) {
		return true
	}
	if p.pool.len() == 0 {
		return false
	}
	fork, err := p.index.Fork(parent.ID())
	if err != nil {
		return true
	}
	for _, c := range p.pool.candidates(p.maxPer) {
		if !fork.Seen(c.Guarantee.CollectionID) {
			return true
		}
	}
	return false
}

// full: the pool holds a block's worth of guarantees.
func (p *pipeline) full() bool { return p.pool.len() >= p.maxPer }

// validate checks a proposed payload of a pipeline network: no
// transactions; the Result is the receipt's when the block carries one
// (a valid receipt above the parent's result), else the parent's; every
// guarantee passes Inclusion.Check on the parent's fork. CheckResult (the
// chain rule) ran before.
func (p *pipeline) validate(b, parent *model.Block, pl *payload.Payload) error {
	if len(pl.Transactions) > 0 {
		return fmt.Errorf("%w: block for view %d carries %d transactions: %v", model.ErrInvalid, b.View, len(pl.Transactions), ErrPipelineNetwork)
	}
	if len(pl.ServiceEvents) > 0 && (len(pl.Guarantees) > 0 || len(pl.Receipts) > 0) {
		return fmt.Errorf("%w: block for view %d carries service events beside guarantees or receipts", model.ErrInvalid, b.View)
	}
	want, err := p.validateReceipts(b, parent, pl.Receipts, p.parentResult(parent))
	if err != nil {
		return fmt.Errorf("block for view %d: %w", b.View, err)
	}
	if pl.Result == nil || *pl.Result != want {
		return fmt.Errorf("%w: block for view %d carries result %v, its receipts or parent give %v", model.ErrInvalid, b.View, pl.Result, want)
	}
	entries, err := p.checkGuarantees(b.Height, parent.ID(), pl.Guarantees)
	if err != nil {
		return fmt.Errorf("block for view %d: %w", b.View, err)
	}
	// Validated blocks join the tree next: a synced child validated in
	// the same step must find this one as its parent.
	if err := p.index.Add(b.ID(), parent.ID(), b.Height, entries); err != nil {
		return err
	}
	p.rindex.addBlock(b.ID(), parent.ID(), b.Height, pl.Receipts)
	p.views.put(b)
	return nil
}

// checkGuarantees is Inclusion.Check with the signature checks spread over
// a few goroutines (and skipped for guarantees this node verified before:
// the verified set), for a block at height extending parent.
func (p *pipeline) checkGuarantees(height uint64, parent model.Identifier, gs []*collection.Guarantee) ([]collection.Entry, error) {
	if len(gs) > p.maxPer {
		return nil, fmt.Errorf("%w: %d, at most %d", collection.ErrTooManyGuarantees, len(gs), p.maxPer)
	}
	if len(gs) == 0 {
		return nil, nil
	}
	fork, err := p.index.Fork(parent)
	if err != nil {
		return nil, err
	}
	seen := make(map[model.Identifier]struct{}, len(gs))
	for _, g := range gs {
		if _, dup := seen[g.CollectionID]; dup || fork.Seen(g.CollectionID) {
			return nil, fmt.Errorf("%w: collection %v", collection.ErrIncluded, g.CollectionID)
		}
		seen[g.CollectionID] = struct{}{}
	}
	main := p.refs.main()
	entries := make([]collection.Entry, len(gs))
	errs := make([]error, len(gs))
	check := func(i int) {
		h, err := p.incl.CheckOneCached(main, p.cluster, height, gs[i], p.checked)
		entries[i], errs[i] = collection.Entry{ID: gs[i].CollectionID, RefHeight: h}, err
	}
	workers := min(p.validators, len(gs))
	if workers <= 1 {
		for i := range gs {
			check(i)
		}
	} else {
		var wg sync.WaitGroup
		next := make(chan int, len(gs))
		for i := range gs {
			next <- i
		}
		close(next)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					check(i)
				}
			}()
		}
		wg.Wait()
	}
	for i, err := range errs {
		if err != nil {
			p.refused(gs[i], err, "block")
			return nil, err
		}
	}
	return entries, nil
}

// ready: a proposal whose receipt, or one of whose guarantees' reference
// blocks, this node holds but has not finalized yet cannot be checked
// until it has (the leader finalized them; this node follows shortly).
func (p *pipeline) ready(b *model.Block) bool {
	pl, err := p.n.led.Decoded(b)
	if err != nil {
		return true // Validate refuses it
	}
	fin := p.refs.finalized()
	for _, r := range pl.Receipts {
		if r.Height() > fin && r.Height() < b.Height {
			return false
		}
	}
	for _, g := range pl.Guarantees {
		if _, _, ok := p.refs.RefHeight(g.Ref); ok {
			continue
		}
		if ref, err := p.n.led.Store().Block(g.Ref); err == nil && ref.Height > fin && ref.Height < b.Height {
			return false
		}
	}
	return true
}

// track records a block that joined the tree (or, at start-up, a stored
// one) in the index: its collections are included on the forks through
// it. A block already held is left as it is.
func (p *pipeline) track(b *model.Block) error {
	if b.IsRoot() {
		return nil
	}
	pl, err := p.n.led.Decoded(b)
	if err != nil {
		return err
	}
	entries := make([]collection.Entry, 0, len(pl.Guarantees))
	for _, g := range pl.Guarantees {
		h, _, ok := p.refs.RefHeight(g.Ref)
		if !ok {
			ref, err := p.n.led.Store().Block(g.Ref)
			if err != nil {
				return fmt.Errorf("reference block %v of collection %v: %w", g.Ref, g.CollectionID, err)
			}
			h = ref.Height
		}
		entries = append(entries, collection.Entry{ID: g.CollectionID, RefHeight: h})
	}
	if err := p.index.Add(b.ID(), b.ParentID, b.Height, entries); err != nil {
		return err
	}
	p.rindex.addBlock(b.ID(), b.ParentID, b.Height, pl.Receipts)
	p.views.put(b)
	return nil
}

// finalized moves a finalized block's guarantees out of the pool and into
// the index's finalized set, records the block as a reference, and counts
// what it included.
func (p *pipeline) finalized(b *model.Block) {
	p.refs.add(b.ID(), b.Height, p.epochOf(b.View))
	if err := p.track(b); err != nil {
		p.n.log.Error("finalized block left out of the guarantee index", "height", b.Height, "err", err)
	}
	p.finalizeIndex(b)
	pl, err := p.n.led.Decoded(b)
	if err != nil {
		p.n.fatal(fmt.Errorf("finalized block %v has an undecodable payload: %w", b.ID(), err))
		return
	}
	if len(pl.Guarantees) > 0 {
		ids := make([]model.Identifier, len(pl.Guarantees))
		for i, g := range pl.Guarantees {
			ids[i] = g.CollectionID
		}
		p.pool.finalized(ids, b.Height)
		p.metrics.included.Add(float64(len(ids)))
	}
	p.finalizeReceipts(b, pl.Receipts)
	// Expired guarantees can never be included: sweep them out of the pool
	// every so often (Select reports those it meets in between).
	if b.Height >= p.sweptAt+64 {
		p.sweptAt = b.Height
		p.pool.sweep(b.Height + 1)
	}
	p.metrics.pending.Set(float64(p.pool.len()))
}

// rebuildReceipts replays the receipts of the finalized blocks of the
// last ReceiptWindow heights into the result index: every result a later
// receipt may chain onto was incorporated there.
func (p *pipeline) rebuildReceipts(top uint64) error {
	from := uint64(1)
	if top > ReceiptWindow {
		from = top - ReceiptWindow
	}
	store := p.n.led.Store()
	for h := from; h <= top; h++ {
		b, err := store.FinalizedByHeight(h)
		if errors.Is(err, storage.ErrNotFound) {
			continue // below a snapshot root
		}
		if err != nil {
			return fmt.Errorf("finalized block %d: %w", h, err)
		}
		pl, err := p.n.led.Decoded(b)
		if err != nil {
			return fmt.Errorf("finalized block %d: %w", h, err)
		}
		for _, d := range p.rindex.finalize(b.ID(), b.Height, pl.Receipts) {
			p.disagreements.add(p.disagreementInfo(d, b.Height))
		}
		p.rcpts.included(pl.Receipts, 0)
	}
	if top > ReceiptWindow {
		p.rcpts.included(nil, top-ReceiptWindow)
	}
	return nil
}

// finalizeReceipts moves a finalized block's receipts into the result
// index, out of the pool, and records disagreements they reveal.
func (p *pipeline) finalizeReceipts(b *model.Block, receipts []*payload.Receipt) {
	for _, d := range p.rindex.finalize(b.ID(), b.Height, receipts) {
		info := p.disagreementInfo(d, b.Height)
		p.disagreements.add(info)
		p.metrics.disagreements.Inc()
		p.n.log.Warn("execution results disagree", "height", d.height, "block", d.block,
			"result", info.Results[0].Result, "other_result", info.Results[1].Result, "other_executor", info.Results[1].ExecutorName)
	}
	floor := uint64(0)
	if b.Height > ReceiptWindow {
		floor = b.Height - ReceiptWindow
	}
	p.rcpts.included(receipts, floor)
	p.metrics.receiptsIncluded.Add(float64(len(receipts)))
}

func (p *pipeline) finalizeIndex(b *model.Block) {
	if err := p.index.Finalize(b.ID()); err != nil {
		p.n.log.Error("guarantee index: finalize", "height", b.Height, "err", err)
	}
	p.views.prune(b.Height)
}

// blockViews maps the index's unfinalized blocks to their views and
// heights; finalization prunes it with the index, so it holds what the
// index holds.
type blockViews map[model.Identifier]viewAt

type viewAt struct {
	view   model.View
	height uint64
}

func (v blockViews) put(b *model.Block) { v[b.ID()] = viewAt{b.View, b.Height} }

func (v blockViews) get(id model.Identifier) (model.View, bool) {
	e, ok := v[id]
	return e.view, ok
}

// prune forgets the blocks at or below the finalized height.
func (v blockViews) prune(finalized uint64) {
	for id, e := range v {
		if e.height <= finalized {
			delete(v, id)
		}
	}
}

// finalRefs are the finalized main-chain blocks a guarantee may reference
// (collection.RefLookup): the newest keep heights, with their epochs.
// Written by the consensus loop at finalization, read by intake.
type finalRefs struct {
	mu       sync.RWMutex
	keep     uint64
	byID     map[model.Identifier]refEntry
	byHeight map[uint64]model.Identifier
	top      uint64
}

type refEntry struct{ height, epoch uint64 }

func newFinalRefs(keep uint64) *finalRefs {
	return &finalRefs{keep: max(keep, 1), byID: map[model.Identifier]refEntry{}, byHeight: map[uint64]model.Identifier{}}
}

func (r *finalRefs) add(id model.Identifier, height, epoch uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[id]; ok {
		return
	}
	r.byID[id] = refEntry{height, epoch}
	r.byHeight[height] = id
	r.top = max(r.top, height)
	// Heights come in order: one falls out of the window per new one.
	if height >= r.keep {
		old := height - r.keep
		if oldID, ok := r.byHeight[old]; ok {
			delete(r.byHeight, old)
			delete(r.byID, oldID)
		}
	}
}

// RefHeight answers for the finalized blocks kept.
func (r *finalRefs) RefHeight(id model.Identifier) (height, epoch uint64, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.byID[id]
	return e.height, e.epoch, ok
}

func (r *finalRefs) finalized() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.top
}

func (r *finalRefs) main() collection.Main {
	return collection.Main{Refs: r, Finalized: r.finalized()}
}
