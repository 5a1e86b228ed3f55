package consensus

import (
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
)

// resultLag is how far behind its own execution a leader commits: other
// replicas execute the same finalized blocks a little later, and a
// commitment they have not executed yet makes them wait before voting.
const resultLag = 2

// latestResult is the result commitment a leader proposes: a recent
// executed height and its root. The core never lets it fall behind the
// parent's.
func (n *Node) latestResult() model.Result {
	h := n.led.ExecutedHeight()
	if h >= resultLag {
		h -= resultLag
	} else {
		h = 0
	}
	root, err := n.led.ResultAt(h)
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
	if b.Result.Height > n.led.ExecutedHeight() {
		return nil
	}
	root, err := n.led.ResultAt(b.Result.Height)
	if err != nil {
		return fmt.Errorf("state root of height %d: %w", b.Result.Height, err)
	}
	if root != b.Result.Root {
		return fmt.Errorf("%w: block for view %d commits to state root %v at height %d, this node computed %v",
			model.ErrInvalid, b.View, b.Result.Root, b.Result.Height, root)
	}
	return nil
}
