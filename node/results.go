package node

import (
	"fmt"
	"sync"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/consensus/model"
)

// resultRing keeps the state roots of the most recent executed heights, so
// the consensus loop can build and check block result commitments without
// a disk read. Older heights fall back to the store.
type resultRing struct {
	mu    sync.RWMutex
	roots map[uint64]model.Identifier
	low   uint64 // lowest height still held
}

const resultRingSize = 4096

func newResultRing() *resultRing { return &resultRing{roots: make(map[uint64]model.Identifier)} }

func (r *resultRing) put(height uint64, root model.Identifier) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roots[height] = root
	for len(r.roots) > resultRingSize {
		delete(r.roots, r.low)
		r.low++
	}
	if height < r.low {
		r.low = height
	}
}

func (r *resultRing) get(height uint64) (model.Identifier, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	root, ok := r.roots[height]
	return root, ok
}

// resultAt returns the state root after executing height, from memory or the
// store. Height 0 is the genesis state.
func (n *Node) resultAt(height uint64) (model.Identifier, error) {
	if root, ok := n.results.get(height); ok {
		return root, nil
	}
	if height == 0 {
		return model.Identifier(merkle.Empty), nil
	}
	return n.store.StateRoot(height)
}

// resultLag is how far behind its own execution a leader commits: other
// replicas execute the same finalized blocks a little later, and a
// commitment they have not executed yet makes them wait before voting.
const resultLag = 2

// latestResult is the result commitment a leader proposes: a recent
// executed height and its root. The core never lets it fall behind the
// parent's.
func (n *Node) latestResult() model.Result {
	h := n.executedHeight.Load()
	if h >= resultLag {
		h -= resultLag
	} else {
		h = 0
	}
	root, err := n.resultAt(h)
	if err != nil {
		return model.Result{}
	}
	return model.Result{Height: h, Root: root}
}

// checkResult compares a block's result commitment with this node's own
// execution. A commitment to a height not executed here yet cannot be
// checked: proposals wait for it in the consensus loop (see parkProposal);
// synced blocks are certified, so a supermajority checked them.
func (n *Node) checkResult(b *model.Block) error {
	if b.Result.Height > n.executedHeight.Load() {
		return nil
	}
	root, err := n.resultAt(b.Result.Height)
	if err != nil {
		return fmt.Errorf("state root of height %d: %w", b.Result.Height, err)
	}
	if root != b.Result.Root {
		return fmt.Errorf("%w: block for view %d commits to state root %v at height %d, this node computed %v",
			model.ErrInvalid, b.View, b.Result.Root, b.Result.Height, root)
	}
	return nil
}
