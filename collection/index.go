package collection

import (
	"container/heap"
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
)

// DefaultIndexCap bounds the entries an Index holds. An entry stays for a
// transaction's expiry window (DefaultExpiry main-chain blocks, a few
// minutes), so 2^20 entries carry about 3-5k collected transactions per
// second per cluster, and take on the order of 100 MB.
const DefaultIndexCap = 1 << 20

// Index is the no-repeat index of one cluster replica: which transactions
// the cluster chain's collections carry, per cluster block, so Rules can
// refuse a transaction already collected on the fork a block extends.
//
// It holds the finalized cluster block and the unfinalized blocks above
// it, and the transactions of finalized blocks whose expiry window is
// still open. A transaction of an unfinalized block counts only on forks
// through that block: if the block loses, its transactions are free to be
// collected again on the winning fork, at once.
//
// Entries are bounded (ErrFull). An Index is not safe for concurrent use,
// and a ForkView is valid until the next Add or Finalize.
//
// After a restart, rebuild the index from a finalized cluster block whose
// payload's reference is at least Expiry main-chain blocks below the
// latest finalized one's (or from the chain's root), adding and finalizing
// the blocks above it in order: an Index started at the latest finalized
// block would not know the transactions finalized below it.
type Index struct {
	expiry     uint64
	maxEntries int

	final indexBlock // the finalized block; its entries are in finalTxs
	// blocks are the unfinalized blocks, all descendants of final.
	blocks map[model.Identifier]*indexBlock
	// holders maps a transaction to the unfinalized blocks that carry it.
	holders map[model.Identifier][]model.Identifier
	// finalTxs maps the finalized chain's transactions to their reference
	// heights; byRef lists them by reference height, for pruning.
	finalTxs map[model.Identifier]uint64
	byRef    map[uint64][]model.Identifier
	refs     heightHeap // the keys of byRef
	entries  int        // len(finalTxs) + the entries of blocks
}

// indexBlock is one cluster block as the index sees it.
type indexBlock struct {
	id        model.Identifier
	parent    model.Identifier
	height    uint64 // cluster chain height
	refHeight uint64 // main-chain height of its payload's reference block
	entries   []Entry
}

// NewIndex returns an index whose finalized block is root, at cluster
// height height, whose payload referenced main height refHeight (0 for
// the cluster chain's root). It holds at most maxEntries entries (0:
// DefaultIndexCap) and prunes with expiry (Rules.Expiry).
func NewIndex(root model.Identifier, height, refHeight, expiry uint64, maxEntries int) *Index {
	if maxEntries <= 0 {
		maxEntries = DefaultIndexCap
	}
	return &Index{
		expiry:     expiry,
		maxEntries: maxEntries,
		final:      indexBlock{id: root, height: height, refHeight: refHeight},
		blocks:     make(map[model.Identifier]*indexBlock),
		holders:    make(map[model.Identifier][]model.Identifier),
		finalTxs:   make(map[model.Identifier]uint64),
		byRef:      make(map[uint64][]model.Identifier),
	}
}

// Len is the number of entries held.
func (x *Index) Len() int { return x.entries }

// Room is how many more entries fit.
func (x *Index) Room() int { return x.maxEntries - x.entries }

// Finalized returns the finalized block's ID and cluster height.
func (x *Index) Finalized() (model.Identifier, uint64) { return x.final.id, x.final.height }

// Add records block, a child of parent (the finalized block or one already
// added) whose payload referenced main height refHeight and carries
// entries (Rules.Check's or Select's). Adding a block twice is a no-op. It
// fails with ErrUnknownBlock if parent is not held, ErrRefRegressed if
// refHeight is below the parent's, and ErrFull if the entries do not fit;
// nothing changes then.
func (x *Index) Add(block, parent model.Identifier, refHeight uint64, entries []Entry) error {
	if _, ok := x.blocks[block]; ok || block == x.final.id {
		return nil
	}
	var parentHeight, parentRef uint64
	switch p, ok := x.blocks[parent]; {
	case parent == x.final.id:
		parentHeight, parentRef = x.final.height, x.final.refHeight
	case ok:
		parentHeight, parentRef = p.height, p.refHeight
	default:
		return fmt.Errorf("%w: parent %v of block %v", ErrUnknownBlock, parent, block)
	}
	if refHeight < parentRef {
		// Rules.Check refuses such a block; pruning relies on it.
		return fmt.Errorf("%w: block %v references main height %d, its parent %d", ErrRefRegressed, block, refHeight, parentRef)
	}
	if len(entries) > x.Room() {
		return fmt.Errorf("%w: %d entries, room for %d", ErrFull, len(entries), x.Room())
	}
	b := &indexBlock{id: block, parent: parent, height: parentHeight + 1, refHeight: refHeight,
		entries: append([]Entry(nil), entries...)}
	x.blocks[block] = b
	for _, e := range b.entries {
		x.holders[e.ID] = append(x.holders[e.ID], block)
	}
	x.entries += len(b.entries)
	return nil
}

// Finalize makes block (held, a descendant of the finalized block) the
// finalized block: the transactions of the blocks from the old finalized
// block up to it join the finalized set, every held block that does not
// descend from it is dropped (it lost), and finalized transactions whose
// window closed are pruned.
//
// Pruning is safe because of the rules, not because of time: a finalized
// transaction whose reference height plus Expiry is below the finalized
// block's payload reference height cannot be collected again on any
// descendant. Every descendant's payload reference is at least the
// finalized one's (references never regress along a fork), so the
// transaction is ErrExpired there whether or not the index remembers it.
// The index can forget it; the rule still refuses it.
func (x *Index) Finalize(block model.Identifier) error {
	if block == x.final.id {
		return nil
	}
	b, ok := x.blocks[block]
	if !ok {
		return fmt.Errorf("%w: finalizing %v", ErrUnknownBlock, block)
	}
	var path []*indexBlock // block down to the old finalized block's child
	for p := b; ; p = x.blocks[p.parent] {
		path = append(path, p)
		if p.parent == x.final.id {
			break
		}
	}
	// Every held block leaves but block's descendants: the path becomes
	// final, and the rest lost. memo marks block and what descends from it.
	memo := map[model.Identifier]bool{}
	for _, p := range path {
		memo[p.id] = false
	}
	memo[block] = true
	var lost []*indexBlock
	for id, h := range x.blocks {
		if id == block || !x.descends(id, memo) {
			lost = append(lost, h)
		}
	}
	for _, h := range lost {
		x.drop(h)
	}
	for i := len(path) - 1; i >= 0; i-- {
		for _, e := range path[i].entries {
			x.addFinal(e)
		}
	}
	x.final = indexBlock{id: b.id, height: b.height, refHeight: b.refHeight}
	x.pruneFinal()
	return nil
}

// descends reports whether held block id is, or descends from, a block
// marked true in memo, memoizing the answer for every block it walks.
// Blocks not held (the old finalized block) and blocks marked false end
// the walk with false.
func (x *Index) descends(id model.Identifier, memo map[model.Identifier]bool) bool {
	var walked []model.Identifier
	answer := false
	for {
		if v, ok := memo[id]; ok {
			answer = v
			break
		}
		b, ok := x.blocks[id]
		if !ok {
			break
		}
		walked = append(walked, id)
		id = b.parent
	}
	for _, w := range walked {
		memo[w] = answer
	}
	return answer
}

// drop removes an unfinalized block and its entries.
func (x *Index) drop(b *indexBlock) {
	delete(x.blocks, b.id)
	for _, e := range b.entries {
		hs := x.holders[e.ID]
		for i, h := range hs {
			if h == b.id {
				hs = append(hs[:i], hs[i+1:]...)
				break
			}
		}
		if len(hs) == 0 {
			delete(x.holders, e.ID)
		} else {
			x.holders[e.ID] = hs
		}
	}
	x.entries -= len(b.entries)
}

// addFinal records a transaction of a newly finalized block. Its entry was
// counted with its block, which drop uncounted.
func (x *Index) addFinal(e Entry) {
	if _, ok := x.finalTxs[e.ID]; ok {
		return // the rules make this unreachable; keep the count exact anyway
	}
	x.finalTxs[e.ID] = e.RefHeight
	if _, ok := x.byRef[e.RefHeight]; !ok {
		heap.Push(&x.refs, e.RefHeight)
	}
	x.byRef[e.RefHeight] = append(x.byRef[e.RefHeight], e.ID)
	x.entries++
}

// pruneFinal forgets the finalized transactions expired at the finalized
// block's reference height.
func (x *Index) pruneFinal() {
	for len(x.refs) > 0 && expired(x.refs[0], x.final.refHeight, x.expiry) {
		h := heap.Pop(&x.refs).(uint64)
		for _, id := range x.byRef[h] {
			delete(x.finalTxs, id)
			x.entries--
		}
		delete(x.byRef, h)
	}
}

// Fork returns the view of the fork ending at block (the finalized block
// or a held one): what Rules see when they check a child of block.
func (x *Index) Fork(block model.Identifier) (*ForkView, error) {
	v := &ForkView{x: x, ancestors: make(map[model.Identifier]struct{})}
	for id := block; id != x.final.id; {
		b, ok := x.blocks[id]
		if !ok {
			return nil, fmt.Errorf("%w: fork of %v", ErrUnknownBlock, block)
		}
		v.ancestors[id] = struct{}{}
		id = b.parent
	}
	return v, nil
}

// ForkView is one fork of an Index: the finalized chain's transactions and
// those of the unfinalized blocks up to the fork's tip.
type ForkView struct {
	x         *Index
	ancestors map[model.Identifier]struct{}
}

var _ Fork = (*ForkView)(nil)

// Seen reports whether a collection of the fork carries transaction id
// (finalized ones only while their expiry window is open).
func (v *ForkView) Seen(id model.Identifier) bool {
	if _, ok := v.x.finalTxs[id]; ok {
		return true
	}
	for _, h := range v.x.holders[id] {
		if _, ok := v.ancestors[h]; ok {
			return true
		}
	}
	return false
}

// heightHeap is a min-heap of main-chain heights.
type heightHeap []uint64

func (h heightHeap) Len() int           { return len(h) }
func (h heightHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h heightHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *heightHeap) Push(v any)        { *h = append(*h, v.(uint64)) }
func (h *heightHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// Pending reports whether block or one of its unfinalized ancestors
// carries transactions: they await finality, so an idle proposer should
// not wait to extend block.
func (x *Index) Pending(block model.Identifier) bool {
	for b, ok := x.blocks[block]; ok; b, ok = x.blocks[b.parent] {
		if len(b.entries) > 0 {
			return true
		}
	}
	return false
}

// Unfinalized counts the transactions block and its unfinalized ancestors
// carry: they are still in a proposer's pool (a pool drops transactions
// at finality), so they do not fill the next block.
func (x *Index) Unfinalized(block model.Identifier) int {
	n := 0
	for b, ok := x.blocks[block]; ok; b, ok = x.blocks[b.parent] {
		n += len(b.entries)
	}
	return n
}

// Ancestor is block's ancestor at height (block itself at its own
// height), walking the unfinalized blocks down to the finalized one; false
// when block is not held or height is not on its way down.
func (x *Index) Ancestor(block model.Identifier, height uint64) (model.Identifier, bool) {
	for id := block; ; {
		if id == x.final.id {
			if height != x.final.height {
				return model.ZeroID, false
			}
			return id, true
		}
		b, ok := x.blocks[id]
		switch {
		case !ok || b.height < height:
			return model.ZeroID, false
		case b.height == height:
			return id, true
		}
		id = b.parent
	}
}

// Final reports whether a finalized collection carries transaction id
// (while its expiry window is open): no fork can collect it again, so a
// pool may drop it.
func (x *Index) Final(id model.Identifier) bool {
	_, ok := x.finalTxs[id]
	return ok
}
