package consensus

import (
	"slices"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
)

// ReceiptWindow is how far back, in heights, a main-chain block may carry
// a receipt: a block at height h carries receipts for results of heights
// h-ReceiptWindow and above (ErrReceiptTooOld below), and a receipt whose
// previous result is below that window chains without a check (the
// window's floor is the tree's root until sealing provides one). Counted
// from the carrying block's height, so every replica decides alike; an
// executor that trails by more resumes sending receipts within the window.
const ReceiptWindow = 3600

// receiptIndex is the fork-aware record of the results main-chain blocks
// incorporated: for each result ID its height and end state (what a later
// receipt chains onto), and which executor's receipt for which height a
// fork already carries (at most one per executor and height). Finalized
// incorporations stay for ReceiptWindow heights of executed blocks;
// unfinalized blocks keep theirs until they are finalized or lose.
// Owned by the consensus loop.
type receiptIndex struct {
	final map[model.Identifier]resultEntry // result ID →
	// finalBy names the result each executor's finalized receipt for a
	// height carries.
	finalBy map[execAt]model.Identifier
	// heights lists what to forget when a height leaves the window.
	heights map[uint64][]execAt
	pending map[model.Identifier]*pendingReceipts // unfinalized block →
	floor   uint64                                // heights below are forgotten
}

type resultEntry struct {
	height uint64
	end    model.Identifier
	block  model.Identifier
}

type execAt struct {
	executor model.NodeID
	height   uint64
}

type pendingReceipts struct {
	parent   model.Identifier
	height   uint64
	receipts []*payload.Receipt
	ids      []model.Identifier // the receipts' result IDs, computed once
}

func newReceiptIndex(genesis *payload.ExecutionResult) *receiptIndex {
	x := &receiptIndex{
		final:   map[model.Identifier]resultEntry{},
		finalBy: map[execAt]model.Identifier{},
		heights: map[uint64][]execAt{},
		pending: map[model.Identifier]*pendingReceipts{},
	}
	// The genesis result is known to every node and never forgotten.
	x.final[genesis.ID()] = resultEntry{height: 0, end: genesis.EndState(), block: genesis.Block}
	return x
}

// forkView is what a block extending parent sees: the finalized
// incorporations and those of parent's unfinalized ancestry, plus what
// the block itself added so far (add).
type forkView struct {
	x     *receiptIndex
	chain []*pendingReceipts // parent first
	own   pendingReceipts
}

// fork returns the view for a child of parent. An unknown parent is taken
// as finalized (the finalized block, or one below it: only the finalized
// set applies).
func (x *receiptIndex) fork(parent model.Identifier) *forkView {
	v := &forkView{x: x}
	for p, ok := x.pending[parent]; ok; p, ok = x.pending[p.parent] {
		v.chain = append(v.chain, p)
	}
	return v
}

// result finds an incorporated result by ID.
func (v *forkView) result(id model.Identifier) (resultEntry, bool) {
	if e, ok := v.x.final[id]; ok {
		return e, true
	}
	if i := slices.Index(v.own.ids, id); i >= 0 {
		return entryOf(v.own.receipts[i]), true
	}
	for _, p := range v.chain {
		if i := slices.Index(p.ids, id); i >= 0 {
			return entryOf(p.receipts[i]), true
		}
	}
	return resultEntry{}, false
}

func entryOf(r *payload.Receipt) resultEntry {
	return resultEntry{height: r.Result.Height, end: r.Result.EndState(), block: r.Result.Block}
}

// included reports whether the fork carries a receipt of executor for
// height.
func (v *forkView) included(executor model.NodeID, height uint64) bool {
	if _, ok := v.x.finalBy[execAt{executor, height}]; ok {
		return true
	}
	if v.own.carries(executor, height) {
		return true
	}
	for _, p := range v.chain {
		if p.carries(executor, height) {
			return true
		}
	}
	return false
}

func (p *pendingReceipts) carries(executor model.NodeID, height uint64) bool {
	for _, r := range p.receipts {
		if r.Executor == executor && r.Result.Height == height {
			return true
		}
	}
	return false
}

func (v *forkView) add(r *payload.Receipt) {
	v.own.receipts = append(v.own.receipts, r)
	v.own.ids = append(v.own.ids, r.Result.ID())
}

// addBlock records an unfinalized block's receipts (none: still recorded,
// so its children find their ancestry).
func (x *receiptIndex) addBlock(id, parent model.Identifier, height uint64, receipts []*payload.Receipt) {
	if _, ok := x.pending[id]; ok {
		return
	}
	ids := make([]model.Identifier, len(receipts))
	for i, r := range receipts {
		ids[i] = r.Result.ID()
	}
	x.pending[id] = &pendingReceipts{parent: parent, height: height, receipts: receipts, ids: ids}
}

// disagreement is a block two finalized receipts gave different results
// for.
type disagreement struct {
	height   uint64
	block    model.Identifier
	existing model.Identifier // a result already incorporated for the block
	receipt  *payload.Receipt // the receipt with another result
}

// finalize moves block id's receipts to the finalized set, drops the
// unfinalized blocks at or below its height (they lost, or are it), and
// forgets the heights that left the window. It returns the receipts that
// disagree with a result already finalized for the same block.
func (x *receiptIndex) finalize(id model.Identifier, height uint64, receipts []*payload.Receipt) []disagreement {
	if p, ok := x.pending[id]; ok {
		receipts = p.receipts
	}
	var out []disagreement
	for _, r := range receipts {
		rid := r.Result.ID()
		if r.Result.Height < x.floor {
			continue
		}
		for _, other := range x.resultsFor(r.Result.Height) {
			if other != rid {
				out = append(out, disagreement{height: r.Result.Height, block: r.Result.Block, existing: other, receipt: r})
				break
			}
		}
		x.final[rid] = entryOf(r)
		at := execAt{r.Executor, r.Result.Height}
		x.finalBy[at] = rid
		x.heights[r.Result.Height] = append(x.heights[r.Result.Height], at)
	}
	for bid, p := range x.pending {
		if p.height <= height {
			delete(x.pending, bid)
		}
	}
	if height > ReceiptWindow {
		x.forgetBelow(height - ReceiptWindow)
	}
	return out
}

// resultsFor lists the finalized result IDs of height (one per executor
// that has one included).
func (x *receiptIndex) resultsFor(height uint64) []model.Identifier {
	var ids []model.Identifier
	for _, at := range x.heights[height] {
		ids = append(ids, x.finalBy[at])
	}
	return ids
}

func (x *receiptIndex) forgetBelow(floor uint64) {
	for ; x.floor < floor; x.floor++ {
		h := x.floor
		if h == 0 {
			continue // the genesis result stays
		}
		for _, at := range x.heights[h] {
			delete(x.final, x.finalBy[at])
			delete(x.finalBy, at)
		}
		delete(x.heights, h)
	}
}
