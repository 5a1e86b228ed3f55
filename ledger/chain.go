package ledger

import (
	"context"
	"errors"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/storage"
)

// MaxChainBlocks bounds one FinalizedChain call.
const MaxChainBlocks = 256

// ChainBlock is a finalized block with the state root after executing it,
// for auditors that compare whole chains across nodes.
type ChainBlock struct {
	Block *model.Block
	// StateRoot is the application state root after executing Block; valid
	// only when Executed.
	StateRoot [32]byte
	Executed  bool
}

// FinalizedChain returns up to max (at most MaxChainBlocks) consecutive
// finalized blocks from height from, with their state roots where this node
// has executed them. A height above the finalized height gives an empty
// result. ctx is checked between blocks: a client that went away stops
// the work (ctx.Err()).
func (l *Ledger) FinalizedChain(ctx context.Context, from uint64, max int) ([]ChainBlock, error) {
	max = min(max, MaxChainBlocks)
	if max <= 0 {
		return nil, nil
	}
	top := l.finalizedHeight.Load()
	if from > top {
		return nil, nil
	}
	blocks, err := l.store.FinalizedRange(from, top, max)
	if err != nil {
		return nil, err
	}
	executed := l.executedHeight.Load()
	out := make([]ChainBlock, len(blocks))
	for i, b := range blocks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i].Block = b
		if b.Height > executed {
			continue
		}
		root, err := l.store.StateRoot(b.Height)
		switch {
		case err == nil:
			out[i].StateRoot, out[i].Executed = root, true
		case errors.Is(err, storage.ErrNotFound):
			// Height 0 (genesis) has no execution; neither has a height
			// being re-executed after a crash.
		default:
			return nil, err
		}
	}
	return out, nil
}
