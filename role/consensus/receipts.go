package consensus

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/storage"
)

// The receipt sentinels. Each but ErrReceiptNotFinalized and
// ErrReceiptUnchained wraps model.ErrInvalid.
var (
	// ErrReceiptNotFinalized: a receipt for a height this node has not
	// finalized yet. Not invalid: the executor may be ahead of this node;
	// it retries (HTTP 409).
	ErrReceiptNotFinalized = errors.New("receipt for a height not finalized yet here")
	// ErrReceiptUnchained: a receipt whose previous result no block of
	// the fork incorporated yet. A leader leaves it in its pool until the
	// previous one is; in a proposed block it is invalid.
	ErrReceiptUnchained = errors.New("receipt's previous result is not incorporated on this fork")
	// ErrReceiptWrongBlock: the receipt's block is not the finalized block
	// at its height.
	ErrReceiptWrongBlock = fmt.Errorf("%w: receipt names another block than the finalized one at its height", model.ErrInvalid)
	// ErrReceiptChunks: the result's chunks are not the block's
	// collections in order, or the first does not start where the
	// previous result ended.
	ErrReceiptChunks = fmt.Errorf("%w: receipt's chunks do not match its block", model.ErrInvalid)
	// ErrReceiptTooOld: the result is more than ReceiptWindow heights
	// below the block that would carry it.
	ErrReceiptTooOld = fmt.Errorf("%w: receipt older than the receipt window", model.ErrInvalid)
	// ErrReceiptIncluded: the fork already carries this executor's
	// receipt for this height.
	ErrReceiptIncluded = fmt.Errorf("%w: the fork already carries this executor's receipt for the height", model.ErrInvalid)
	// ErrConflictingReceipt: the executor already signed another result
	// for the same block (its first one is kept).
	ErrConflictingReceipt = fmt.Errorf("%w: executor signed two results for one block", model.ErrInvalid)
	// ErrReceiptPoolFull: the executor already has as many receipts
	// waiting as the pool keeps for one executor; not invalid: they are
	// included lowest first, so the executor retries (HTTP 503).
	ErrReceiptPoolFull = errors.New("receipt pool full for this executor")
	// ErrNotExecutor: the receipt's executor is no execution member of the
	// epoch of the block it is for.
	ErrNotExecutor = fmt.Errorf("%w: receipt signer is not an execution member", model.ErrInvalid)
	// ErrBadReceiptSignature: the signature does not verify under the
	// executor's staking key.
	ErrBadReceiptSignature = fmt.Errorf("%w: bad receipt signature", model.ErrInvalid)
)

// ReceiptResponse answers POST /v1/receipts: the height and result the
// receipt was taken for.
type ReceiptResponse struct {
	Height uint64 `json:"height"`
	Result string `json:"result"`
}

// SubmitReceipt checks an execution receipt and keeps it for a later
// block (the HTTP handler's work, for in-process callers).
func (n *Node) SubmitReceipt(r *payload.Receipt) error {
	if n.pipe == nil {
		return errors.New("not a pipeline network: this node takes no receipts")
	}
	return n.pipe.intakeReceipt(r)
}

func (p *pipeline) handleReceipts(w http.ResponseWriter, r *http.Request) {
	if !api.RequireBinary(w, r, "receipts") {
		return
	}
	raw, ok := api.ReadBody(w, r, payload.MaxReceiptSize)
	if !ok {
		return
	}
	rc, err := payload.DecodeReceipt(raw)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch err := p.intakeReceipt(rc); {
	case err == nil:
		api.WriteJSON(w, http.StatusAccepted, ReceiptResponse{Height: rc.Height(), Result: rc.Result.ID().Hex()})
	case errors.Is(err, ErrReceiptNotFinalized):
		w.Header().Set("Retry-After", "1")
		api.WriteError(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrReceiptPoolFull):
		w.Header().Set("Retry-After", "1")
		api.WriteError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, ErrNotExecutor):
		api.WriteError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, model.ErrInvalid):
		api.WriteError(w, http.StatusBadRequest, err.Error())
	default:
		w.Header().Set("Retry-After", "1")
		api.WriteError(w, http.StatusServiceUnavailable, err.Error())
	}
}

// intakeReceipt checks a receipt against this node's finalized chain and
// keeps it for inclusion.
func (p *pipeline) intakeReceipt(r *payload.Receipt) error {
	fin := p.n.led.FinalizedHeight()
	err := p.checkReceiptAge(r, fin+1)
	if err == nil {
		err = p.checkReceipt(r, fin)
	}
	if err == nil {
		err = p.rcpts.add(r)
	}
	if err != nil {
		p.metrics.receiptsRefused.WithLabelValues(receiptReason(err)).Inc()
		if errors.Is(err, ErrConflictingReceipt) {
			p.n.log.Warn("executor signed two results for one block", "height", r.Height(), "executor", p.n.nameOf(r.Executor))
		} else {
			p.n.log.Debug("receipt refused", "height", r.Height(), "executor", p.n.nameOf(r.Executor), "err", err)
		}
		return err
	}
	return nil
}

func receiptReason(err error) string {
	switch {
	case errors.Is(err, ErrReceiptNotFinalized):
		return "not_finalized"
	case errors.Is(err, ErrReceiptWrongBlock):
		return "wrong_block"
	case errors.Is(err, ErrReceiptChunks):
		return "chunks"
	case errors.Is(err, ErrReceiptTooOld):
		return "too_old"
	case errors.Is(err, ErrConflictingReceipt):
		return "conflicting"
	case errors.Is(err, ErrReceiptPoolFull):
		return "pool_full"
	case errors.Is(err, ErrNotExecutor):
		return "not_executor"
	case errors.Is(err, ErrBadReceiptSignature):
		return "bad_signature"
	default:
		return "error"
	}
}

// checkReceiptAge refuses a result more than ReceiptWindow heights below
// the block height that would carry it, and one not below it.
func (p *pipeline) checkReceiptAge(r *payload.Receipt, carrier uint64) error {
	h := r.Height()
	if h >= carrier {
		return fmt.Errorf("%w: height %d carried at height %d", ErrReceiptNotFinalized, h, carrier)
	}
	if h+ReceiptWindow < carrier {
		return fmt.Errorf("%w: height %d carried at height %d", ErrReceiptTooOld, h, carrier)
	}
	return nil
}

// checkReceipt checks a receipt against the finalized chain up to height
// finalized: its block is the finalized block at its height, its chunks
// are that block's collections, its executor an execution member of that
// block's epoch (a property of the finalized chain, so every replica
// decides alike), and its signature names the main chain and verifies
// under the executor's staking key.
func (p *pipeline) checkReceipt(r *payload.Receipt, finalized uint64) error {
	h := r.Height()
	if h > finalized {
		return fmt.Errorf("%w: height %d, finalized %d", ErrReceiptNotFinalized, h, finalized)
	}
	b, err := p.n.led.Store().FinalizedByHeight(h)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: height %d is below this node's oldest block", ErrReceiptWrongBlock, h)
	}
	if err != nil {
		return fmt.Errorf("finalized block %d: %w", h, err)
	}
	if b.ID() != r.Result.Block {
		return fmt.Errorf("%w: height %d is block %v, the receipt names %v", ErrReceiptWrongBlock, h, b.ID(), r.Result.Block)
	}
	if err := p.checkChunks(r, b); err != nil {
		return err
	}
	return p.checkReceiptSigner(r, b.View)
}

// checkReceiptInAncestry checks a receipt a block carries for a height
// above this node's finalized one, which only a block synced while
// catching up can (a proposal waits until the height is final here:
// ready): its block must be the carrying block's own ancestor at that
// height (the block names its parent, the parent its own, down to the
// finalized block), and the rest is checked as checkReceipt does, against
// that ancestor. Every replica that finalized the height decides the
// same: the ancestor it holds there is the block it finalizes.
func (p *pipeline) checkReceiptInAncestry(r *payload.Receipt, parent *model.Block) error {
	h := r.Height()
	anc, ok := p.index.Ancestor(parent.ID(), h)
	if !ok || anc != r.Result.Block {
		return fmt.Errorf("%w: height %d of this block's ancestry is not %v", ErrReceiptWrongBlock, h, r.Result.Block)
	}
	b, err := p.n.led.Store().Block(anc)
	if err != nil {
		return fmt.Errorf("%w: ancestor %v at height %d is not held here: %v", ErrReceiptWrongBlock, anc, h, err)
	}
	if err := p.checkChunks(r, b); err != nil {
		return err
	}
	return p.checkReceiptSigner(r, b.View)
}

// checkChunks: one chunk per guarantee of the block, naming its
// collection, in order, then the system chunk. (Result.Check, which ran
// at decoding, already chained the chunks to each other.)
func (p *pipeline) checkChunks(r *payload.Receipt, b *model.Block) error {
	pl, err := p.n.led.Decoded(b)
	if err != nil {
		return fmt.Errorf("block %d: %w", b.Height, err)
	}
	chunks := r.Result.Chunks
	if len(chunks) != len(pl.Guarantees)+1 {
		return fmt.Errorf("%w: %d chunks for a block of %d collections", ErrReceiptChunks, len(chunks), len(pl.Guarantees))
	}
	for i, g := range pl.Guarantees {
		if chunks[i].CollectionID != g.CollectionID {
			return fmt.Errorf("%w: chunk %d executes %v, the block's collection %d is %v", ErrReceiptChunks, i, chunks[i].CollectionID, i, g.CollectionID)
		}
	}
	return nil
}

// checkReceiptSigner checks that the executor is an execution member of
// the epoch of view (the receipt's block's) and that the signature names
// the main chain and verifies under its staking key. A receipt verified
// once (at intake, usually) is not verified again.
func (p *pipeline) checkReceiptSigner(r *payload.Receipt, view model.View) error {
	ep, err := p.n.led.Directory().Schedule().EpochAt(view)
	if err != nil {
		return fmt.Errorf("%w: epoch of block %d: %v", ErrNotExecutor, r.Height(), err)
	}
	m, ok := ep.Member(r.Executor)
	if !ok || m.Role != epoch.RoleExecution {
		return fmt.Errorf("%w: %v in epoch %d", ErrNotExecutor, r.Executor, ep.Counter)
	}
	key := sha256.Sum256(r.Encode())
	if p.receiptsChecked.has(key) {
		return nil
	}
	pub, err := p.n.scheme.DecodePublicKey(m.StakingKey)
	if err != nil {
		return fmt.Errorf("%w: executor key: %v", ErrNotExecutor, err)
	}
	if err := r.Verify(p.n.epochParams.ChainID, pub); err != nil {
		return fmt.Errorf("%w: %v", ErrBadReceiptSignature, err)
	}
	p.receiptsChecked.add(key)
	return nil
}

// chain checks that r extends the fork's results: its previous result is
// incorporated (for the height below), and its first chunk starts where
// that one ended. A previous result below the window of the carrying
// block at height carrier is not checked (the window's floor is the
// tree's root until sealing).
func chain(v *forkView, r *payload.Receipt, carrier uint64) error {
	h := r.Height()
	if h-1+ReceiptWindow < carrier {
		return nil
	}
	prev, ok := v.result(r.Result.Previous)
	if !ok {
		return fmt.Errorf("%w: result %v for height %d", ErrReceiptUnchained, r.Result.Previous, h-1)
	}
	if prev.height != h-1 {
		return fmt.Errorf("%w: previous result is for height %d, not %d", ErrReceiptChunks, prev.height, h-1)
	}
	if r.Result.StartState() != prev.end {
		return fmt.Errorf("%w: first chunk starts at %v, the previous result ended at %v", ErrReceiptChunks, r.Result.StartState(), prev.end)
	}
	return nil
}

// selectReceipts is the leader's choice for a block at height extending
// parent: pool receipts in (height, executor) order that the fork does
// not carry yet and that chain onto it (or onto one chosen before them),
// at most payload.MaxReceipts.
func (p *pipeline) selectReceipts(parent model.Identifier, height uint64) []*payload.Receipt {
	v := p.rindex.fork(parent)
	var out []*payload.Receipt
	for _, r := range p.rcpts.candidates() {
		if len(out) == payload.MaxReceipts {
			break
		}
		if p.checkReceiptAge(r, height) != nil || v.included(r.Executor, r.Height()) || chain(v, r, height) != nil {
			continue
		}
		v.add(r)
		out = append(out, r)
	}
	return out
}

// validateReceipts checks a proposed block's receipts in order on the
// parent's fork and returns the Result they give the block.
func (p *pipeline) validateReceipts(b, parent *model.Block, receipts []*payload.Receipt, parentResult payload.Result) (payload.Result, error) {
	v := p.rindex.fork(parent.ID())
	fin := p.refs.finalized()
	for _, r := range receipts {
		if err := p.checkReceiptAge(r, b.Height); err != nil {
			return payload.Result{}, err
		}
		var err error
		if r.Height() <= fin {
			err = p.checkReceipt(r, fin)
		} else {
			err = p.checkReceiptInAncestry(r, parent)
		}
		if err != nil {
			return payload.Result{}, err
		}
		if v.included(r.Executor, r.Height()) {
			return payload.Result{}, fmt.Errorf("%w: %v at height %d", ErrReceiptIncluded, p.n.nameOf(r.Executor), r.Height())
		}
		if err := chain(v, r, b.Height); err != nil {
			if errors.Is(err, ErrReceiptUnchained) {
				err = fmt.Errorf("%w: %w", model.ErrInvalid, err)
			}
			return payload.Result{}, err
		}
		v.add(r)
	}
	return payload.FromReceipts(parentResult, receipts), nil
}

// receiptPool keeps valid receipts not yet carried by a finalized block,
// one per executor and height, at most max per executor: beyond, intake
// answers ErrReceiptPoolFull and the executor retries (receipts are
// included lowest first, so the pool drains; dropping one instead would
// leave a gap its later receipts could never chain across). It remembers
// which (executor, height) finalized blocks carried, within the receipt
// window, so a receipt offered again after its inclusion is a no-op
// rather than a stale entry. Executors are bounded by the membership
// intake checks.
type receiptPool struct {
	mu      sync.Mutex
	max     int
	byKey   map[execAt]*payload.Receipt
	count   map[model.NodeID]int
	carried map[execAt]model.Identifier // carried by finalized blocks: the result ID
	floor   uint64                      // heights below are no longer wanted
}

func newReceiptPool(max int) *receiptPool {
	return &receiptPool{max: max, byKey: map[execAt]*payload.Receipt{}, count: map[model.NodeID]int{},
		carried: map[execAt]model.Identifier{}}
}

// add keeps r unless the pool or the finalized chain holds the same
// executor's receipt for the height: the same result is a no-op, another
// result is ErrConflictingReceipt.
func (q *receiptPool) add(r *payload.Receipt) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	at := execAt{r.Executor, r.Height()}
	if r.Height() < q.floor {
		return nil
	}
	id := r.Result.ID()
	if old, ok := q.carried[at]; ok {
		if old != id {
			return fmt.Errorf("%w: height %d", ErrConflictingReceipt, at.height)
		}
		return nil
	}
	if old, ok := q.byKey[at]; ok {
		if old.Result.ID() != id {
			return fmt.Errorf("%w: height %d", ErrConflictingReceipt, at.height)
		}
		return nil
	}
	if q.count[r.Executor] >= q.max {
		return fmt.Errorf("%w: %d waiting", ErrReceiptPoolFull, q.count[r.Executor])
	}
	q.byKey[at] = r
	q.count[r.Executor]++
	return nil
}

// candidates lists the pool in (height, executor) order.
func (q *receiptPool) candidates() []*payload.Receipt {
	q.mu.Lock()
	out := make([]*payload.Receipt, 0, len(q.byKey))
	for _, r := range q.byKey {
		out = append(out, r)
	}
	q.mu.Unlock()
	slices.SortFunc(out, func(a, b *payload.Receipt) int {
		if c := cmp.Compare(a.Height(), b.Height()); c != 0 {
			return c
		}
		return slices.Compare(a.Executor[:], b.Executor[:])
	})
	return out
}

// len is the number of receipts held.
func (q *receiptPool) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.byKey)
}

// included forgets the receipts a finalized block carries, and every
// receipt below floor.
func (q *receiptPool) included(receipts []*payload.Receipt, floor uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range receipts {
		at := execAt{r.Executor, r.Height()}
		if _, ok := q.byKey[at]; ok {
			delete(q.byKey, at)
			q.count[r.Executor]--
		}
		q.carried[at] = r.Result.ID()
	}
	if floor <= q.floor {
		return
	}
	q.floor = floor
	for at := range q.byKey {
		if at.height < floor {
			delete(q.byKey, at)
			q.count[at.executor]--
		}
	}
	for at := range q.carried {
		if at.height < floor {
			delete(q.carried, at)
		}
	}
}

// hashSet remembers up to max 32-byte keys, forgetting the oldest first
// (receipts whose signature this node checked).
type hashSet struct {
	mu    sync.Mutex
	max   int
	set   map[[32]byte]struct{}
	order [][32]byte
	head  int
}

func newHashSet(max int) *hashSet {
	return &hashSet{max: max, set: make(map[[32]byte]struct{}, max)}
}

func (s *hashSet) has(k [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.set[k]
	return ok
}

func (s *hashSet) add(k [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[k]; ok {
		return
	}
	if len(s.order) < s.max {
		s.order = append(s.order, k)
	} else {
		delete(s.set, s.order[s.head])
		s.order[s.head] = k
		s.head = (s.head + 1) % s.max
	}
	s.set[k] = struct{}{}
}
