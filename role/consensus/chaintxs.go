package consensus

import (
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/mempool"
)

// chainTxs knows which transactions recent blocks carry, so that block
// building and validation can tell whether a transaction is already on a
// block's chain. The rule it serves is defined by the chain alone, so every
// replica applies it the same way: a block may not carry a transaction
// that its own ancestry already carries within the last dedupWindow
// heights (or that it carries twice).
//
// It replaces marking transactions "in flight" when a block is seen: a
// transaction in a block that is never finalized (its view failed, or it
// lost a fork) is on no chain a leader extends later, so the next leader
// proposes it again at once, instead of after a sweep of stale entries.
//
// Only the consensus loop touches it (block building and validation run
// inside the core's Step, blocks and finalization are applied after it).
type chainTxs struct {
	// blocks holds unfinalized blocks (and blocks finalized but not yet
	// applied by the loop), with their parent and transaction IDs; holders
	// indexes them by transaction, so a check costs one lookup per
	// transaction instead of a set built from every ancestor's.
	blocks  map[model.Identifier]*blockTxs
	holders map[mempool.ID][]model.Identifier
	// final maps transactions finalized in the last dedupWindow heights
	// to their height; finalHeight is the last finalized height applied.
	final       map[mempool.ID]uint64
	finalAt     map[uint64][]mempool.ID
	finalHeight uint64
	window      uint64
}

type blockTxs struct {
	parent model.Identifier
	height uint64
	ids    []mempool.ID
}

func newChainTxs(window uint64) *chainTxs {
	return &chainTxs{blocks: make(map[model.Identifier]*blockTxs), holders: make(map[mempool.ID][]model.Identifier),
		final:   make(map[mempool.ID]uint64),
		finalAt: make(map[uint64][]mempool.ID), window: window}
}

// add records an unfinalized block (idempotent).
func (c *chainTxs) add(id, parent model.Identifier, height uint64, ids []mempool.ID) {
	if height <= c.finalHeight {
		return
	}
	if _, ok := c.blocks[id]; ok {
		return
	}
	c.blocks[id] = &blockTxs{parent: parent, height: height, ids: ids}
	for _, tx := range ids {
		c.holders[tx] = append(c.holders[tx], id)
	}
}

// finalized applies a finalized block: its transactions join the window,
// and every tracked block at or below its height leaves the tree (it is
// this block, or it lost to it).
func (c *chainTxs) finalized(height uint64, ids []mempool.ID) {
	for _, id := range ids {
		c.final[id] = height
	}
	c.finalAt[height] = append(c.finalAt[height], ids...)
	c.finalHeight = height
	for id, b := range c.blocks {
		if b.height <= height {
			delete(c.blocks, id)
			for _, tx := range b.ids {
				c.unhold(tx, id)
			}
		}
	}
	if height > c.window {
		old := height - c.window
		for h, ids := range c.finalAt {
			if h > old {
				continue
			}
			for _, id := range ids {
				if c.final[id] == h {
					delete(c.final, id)
				}
			}
			delete(c.finalAt, h)
		}
	}
}

// tracked returns the transaction IDs of a tracked (unfinalized) block.
func (c *chainTxs) tracked(id model.Identifier) ([]mempool.ID, bool) {
	b, ok := c.blocks[id]
	if !ok {
		return nil, false
	}
	return b.ids, true
}

func (c *chainTxs) unhold(tx mempool.ID, block model.Identifier) {
	hs := c.holders[tx]
	for i, h := range hs {
		if h == block {
			hs = append(hs[:i], hs[i+1:]...)
			break
		}
	}
	if len(hs) == 0 {
		delete(c.holders, tx)
	} else {
		c.holders[tx] = hs
	}
}

// ancestry returns the blocks of the chain ending at parent above the
// finalized height (their transactions are looked up through holders,
// finalized ones in c.final). ok is false when a block between parent and
// the finalized height is unknown: the caller cannot decide. txs reports
// whether any of those blocks carries transactions.
func (c *chainTxs) ancestry(parent model.Identifier, parentHeight uint64) (blocks map[model.Identifier]struct{}, txs, ok bool) {
	blocks = make(map[model.Identifier]struct{})
	id, h := parent, parentHeight
	for h > c.finalHeight {
		b, known := c.blocks[id]
		if !known {
			return nil, false, false
		}
		blocks[id] = struct{}{}
		txs = txs || len(b.ids) > 0
		id, h = b.parent, b.height-1
	}
	return blocks, txs, true
}

// unfinalizedTxs counts the transactions the blocks of the chain ending at
// parent carry above the finalized height (ok false: a block is unknown).
func (c *chainTxs) unfinalizedTxs(parent model.Identifier, parentHeight uint64) (n int, ok bool) {
	id, h := parent, parentHeight
	for h > c.finalHeight {
		b, known := c.blocks[id]
		if !known {
			return 0, false
		}
		n += len(b.ids)
		id, h = b.parent, b.height-1
	}
	return n, true
}

// onChain reports whether a block at height whose unfinalized ancestors
// are ancestors may not carry tx: one of them carries it, or it was
// finalized within the window below height.
func (c *chainTxs) onChain(ancestors map[model.Identifier]struct{}, height uint64, tx mempool.ID) bool {
	for _, h := range c.holders[tx] {
		if _, ok := ancestors[h]; ok {
			return true
		}
	}
	at, ok := c.final[tx]
	return ok && at+c.window >= height
}

// check is the validation rule for a block's transactions.
func (c *chainTxs) check(b *model.Block, ids []mempool.ID) error {
	ancestors, _, ok := c.ancestry(b.ParentID, b.Height-1)
	if !ok {
		// The core only validates blocks whose parent is in its tree, and
		// every block of the tree passed through here or through the loop.
		return fmt.Errorf("%w: ancestry of block for view %d is not tracked", model.ErrInvalid, b.View)
	}
	seen := make(map[mempool.ID]struct{}, len(ids))
	for i, id := range ids {
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: transaction %d (%x) appears twice in the block", model.ErrInvalid, i, id[:8])
		}
		seen[id] = struct{}{}
		if c.onChain(ancestors, b.Height, id) {
			return fmt.Errorf("%w: transaction %d (%x) is already on the block's chain", model.ErrInvalid, i, id[:8])
		}
	}
	return nil
}
