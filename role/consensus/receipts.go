package consensus

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/storage"
)

// The receipt sentinels. Each but ErrReceiptNotFinalized wraps
// model.ErrInvalid.
var (
	// ErrReceiptNotFinalized: a receipt for a height this node has not
	// finalized yet. Not invalid: the executor may be ahead of this node;
	// it retries (HTTP 409).
	ErrReceiptNotFinalized = errors.New("receipt for a height not finalized yet here")
	// ErrReceiptWrongBlock: the receipt's block is not the finalized block
	// at its height.
	ErrReceiptWrongBlock = fmt.Errorf("%w: receipt names another block than the finalized one at its height", model.ErrInvalid)
	// ErrNotExecutor: the receipt's executor is no execution member of the
	// epoch of the block it is for.
	ErrNotExecutor = fmt.Errorf("%w: receipt signer is not an execution member", model.ErrInvalid)
	// ErrBadReceiptSignature: the signature does not verify under the
	// executor's staking key.
	ErrBadReceiptSignature = fmt.Errorf("%w: bad receipt signature", model.ErrInvalid)
)

// maxReceiptBody bounds a POST /v1/receipts body (one receipt).
const maxReceiptBody = 1024

// ReceiptResponse answers POST /v1/receipts: the height the receipt was
// taken for.
type ReceiptResponse struct {
	Height uint64 `json:"height"`
}

// SubmitReceipt checks an execution receipt and keeps it for the next
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
	raw, ok := api.ReadBody(w, r, maxReceiptBody)
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
		api.WriteJSON(w, http.StatusAccepted, ReceiptResponse{Height: rc.Height})
	case errors.Is(err, ErrReceiptNotFinalized):
		w.Header().Set("Retry-After", "1")
		api.WriteError(w, http.StatusConflict, err.Error())
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
// keeps it.
func (p *pipeline) intakeReceipt(r *payload.Receipt) error {
	if err := p.checkReceipt(r, p.n.led.FinalizedHeight()); err != nil {
		p.metrics.receiptsRefused.WithLabelValues(receiptReason(err)).Inc()
		p.n.log.Debug("receipt refused", "height", r.Height, "executor", p.n.nameOf(r.Executor), "err", err)
		return err
	}
	p.rcpts.add(r)
	return nil
}

func receiptReason(err error) string {
	switch {
	case errors.Is(err, ErrReceiptNotFinalized):
		return "not_finalized"
	case errors.Is(err, ErrReceiptWrongBlock):
		return "wrong_block"
	case errors.Is(err, ErrNotExecutor):
		return "not_executor"
	case errors.Is(err, ErrBadReceiptSignature):
		return "bad_signature"
	default:
		return "error"
	}
}

// checkReceipt checks a receipt against the finalized chain up to height
// finalized: its block is the finalized block at its height, its executor
// an execution member of that block's epoch (a property of the finalized
// chain, so every replica decides alike), and its signature names the
// main chain and verifies under the executor's staking key.
func (p *pipeline) checkReceipt(r *payload.Receipt, finalized uint64) error {
	if r.Height > finalized {
		return fmt.Errorf("%w: height %d, finalized %d", ErrReceiptNotFinalized, r.Height, finalized)
	}
	b, err := p.n.led.Store().FinalizedByHeight(r.Height)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: height %d is below this node's oldest block", ErrReceiptWrongBlock, r.Height)
	}
	if err != nil {
		return fmt.Errorf("finalized block %d: %w", r.Height, err)
	}
	if b.ID() != r.Block {
		return fmt.Errorf("%w: height %d is block %v, the receipt names %v", ErrReceiptWrongBlock, r.Height, b.ID(), r.Block)
	}
	return p.checkReceiptSigner(r, b.View)
}

// checkReceiptInAncestry checks a receipt a block carries for a height
// above this node's finalized one, which only a block synced while
// catching up can (a proposal waits until the height is final here:
// ready): its block must be the carrying block's own ancestor at that
// height (the block names its parent, the parent its own, down to the
// finalized block), and its executor and signature are checked as
// checkReceipt does, against the epoch of that ancestor's view. Every
// replica that finalized the height decides the same: the ancestor it
// holds there is the block it finalizes.
func (p *pipeline) checkReceiptInAncestry(r *payload.Receipt, parent *model.Block) error {
	anc, ok := p.index.Ancestor(parent.ID(), r.Height)
	if !ok || anc != r.Block {
		return fmt.Errorf("%w: height %d of this block's ancestry is not %v", ErrReceiptWrongBlock, r.Height, r.Block)
	}
	view, ok := p.views.get(anc)
	if !ok {
		return fmt.Errorf("%w: the view of ancestor %v at height %d is not known here", ErrReceiptWrongBlock, anc, r.Height)
	}
	return p.checkReceiptSigner(r, view)
}

// checkReceiptSigner checks that the executor is an execution member of
// the epoch of view (the receipt's block's) and that the signature names
// the main chain and verifies under its staking key.
func (p *pipeline) checkReceiptSigner(r *payload.Receipt, view model.View) error {
	ep, err := p.n.led.Directory().Schedule().EpochAt(view)
	if err != nil {
		return fmt.Errorf("%w: epoch of block %d: %v", ErrNotExecutor, r.Height, err)
	}
	m, ok := ep.Member(r.Executor)
	if !ok || m.Role != epoch.RoleExecution {
		return fmt.Errorf("%w: %v in epoch %d", ErrNotExecutor, r.Executor, ep.Counter)
	}
	key, err := p.n.scheme.DecodePublicKey(m.StakingKey)
	if err != nil {
		return fmt.Errorf("%w: executor key: %v", ErrNotExecutor, err)
	}
	if err := r.Verify(p.n.epochParams.ChainID, key); err != nil {
		return fmt.Errorf("%w: %v", ErrBadReceiptSignature, err)
	}
	return nil
}

// receiptPool keeps the newest valid receipt per height above the last
// included one, at most max heights (the lowest go first: a leader only
// wants the highest above its parent's result).
type receiptPool struct {
	mu       sync.Mutex
	max      int
	byHeight map[uint64]*payload.Receipt
	floor    uint64 // the newest height a finalized block's receipt covered
}

func newReceiptPool(max int) *receiptPool {
	return &receiptPool{max: max, byHeight: map[uint64]*payload.Receipt{}}
}

func (q *receiptPool) add(r *payload.Receipt) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.Height <= q.floor {
		return // a finalized block already carries a result at least this new
	}
	if _, ok := q.byHeight[r.Height]; !ok && len(q.byHeight) >= q.max {
		low := r.Height
		for h := range q.byHeight {
			low = min(low, h)
		}
		if low == r.Height {
			return // lower than every kept one: never the one a leader wants
		}
		delete(q.byHeight, low)
	}
	q.byHeight[r.Height] = r
}

// best is the receipt of the highest height in (above, below), or nil.
func (q *receiptPool) best(above, below uint64) *payload.Receipt {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out *payload.Receipt
	for h, r := range q.byHeight {
		if h > above && h < below && (out == nil || h > out.Height) {
			out = r
		}
	}
	return out
}

// prune forgets receipts at or below a finalized block's receipt height.
func (q *receiptPool) prune(floor uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.floor = max(q.floor, floor)
	for h := range q.byHeight {
		if h <= q.floor {
			delete(q.byHeight, h)
		}
	}
}
