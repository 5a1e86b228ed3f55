package consensus

import (
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
)

// resultLag is how far behind its own execution a leader commits: other
// replicas execute the same finalized blocks a little later, and a
// commitment they have not executed yet makes them wait before voting.
const resultLag = 2

// latestResult is the result a leader would commit to: a recent executed
// height and its root (payload.Newest keeps it from falling behind the
// parent's).
func (n *Node) latestResult() payload.Result {
	h := n.led.ExecutedHeight()
	if h >= resultLag {
		h -= resultLag
	} else {
		h = 0
	}
	root, err := n.led.ResultAt(h)
	if err != nil {
		return payload.Result{}
	}
	return payload.Result{Height: h, Root: root}
}

// resultOf is the execution result a block of the tree carries: nil for
// the genesis block, which carries none.
func (n *Node) resultOf(b *model.Block) *payload.Result {
	if b == nil {
		return nil
	}
	pl, err := n.led.Decoded(b)
	if err != nil {
		return nil // blocks of the tree passed Validate: this cannot happen
	}
	return pl.Result
}

// checkResult compares a block's execution result with this node's own
// execution. A result for a height not executed here yet cannot be
// checked: the replica engine holds such proposals back until it is (see
// nodeReplica.Ready); synced blocks are certified, so a supermajority
// checked them.
func (n *Node) checkResult(view model.View, r *payload.Result) error {
	if r.Height > n.led.ExecutedHeight() {
		return nil
	}
	root, err := n.led.ResultAt(r.Height)
	if err != nil {
		return fmt.Errorf("state root of height %d: %w", r.Height, err)
	}
	if root != r.Root {
		return fmt.Errorf("%w: block for view %d commits to state root %v at height %d, this node computed %v",
			model.ErrInvalid, view, r.Root, r.Height, root)
	}
	return nil
}

// resultHeight is the height a block's execution result names, 0 if it
// carries none or cannot be decoded (Validate rejects those).
func resultHeight(b *model.Block) uint64 {
	r, err := payload.ResultOf(b.Payload)
	if err != nil || r == nil {
		return 0
	}
	return r.Height
}
