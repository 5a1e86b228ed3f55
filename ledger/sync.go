package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/follower"
)

// ErrBadSyncRequest: a range request the node does not serve.
var ErrBadSyncRequest = errors.New("bad sync request")

// maxSyncRangeBytes bounds one range answer, whatever the block sizes.
const maxSyncRangeBytes = 16 << 20

// syncChunkBlocks is how many blocks a range reads between checks that its
// client is still there.
const syncChunkBlocks = 32

// SyncRange returns finalized blocks from, from+1, … (at most count, at
// most follower.MaxRangeBlocks, at most maxSyncRangeBytes) in the sync wire
// format, with the QC that certifies the last one. That QC is the next
// finalized block's parent QC, so an answer ends one below the finalized
// height; the newest blocks reach followers on the live stream.
//
// The blocks are read in chunks of syncChunkBlocks, and ctx is checked
// between chunks: a client that went away stops the work (ctx.Err()).
func (l *Ledger) SyncRange(ctx context.Context, from uint64, count int) ([]byte, error) {
	if from == 0 || count <= 0 {
		return nil, fmt.Errorf("%w: from must be ≥ 1 and count positive", ErrBadSyncRequest)
	}
	count = min(count, follower.MaxRangeBlocks)
	final := l.finalizedHeight.Load()
	if from >= final {
		return follower.EncodeRange(nil, nil), nil
	}
	to := min(from+uint64(count), final) // the extra block carries the QC
	var blocks []*model.Block
	size := 0
read:
	for next := from; next <= to; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		chunk, err := l.store.FinalizedRange(next, to, min(syncChunkBlocks, int(to-next)+1))
		if err != nil {
			return nil, err
		}
		if len(chunk) == 0 {
			break
		}
		for _, b := range chunk {
			size += len(b.Payload) + 512
			if size > maxSyncRangeBytes && len(blocks) >= 2 {
				break read
			}
			blocks = append(blocks, b)
		}
		next = chunk[len(chunk)-1].Height + 1
	}
	if len(blocks) < 2 {
		return follower.EncodeRange(nil, nil), nil
	}
	last := len(blocks) - 1
	return follower.EncodeRange(blocks[:last], blocks[last].QC), nil
}

// SyncFrame is one frame of the live stream.
type SyncFrame struct {
	Kind byte
	Body []byte
}

// SubscribeSync streams live frames until ctx ends. A subscriber that falls
// liveBuffer frames behind is dropped (its channel closed); it reconnects
// and catches up with ranges. Beyond maxLiveSubscribers a new one gets
// ErrTooManySubscribers.
func (l *Ledger) SubscribeSync(ctx context.Context) (<-chan SyncFrame, error) { return l.live.add(ctx) }

const (
	liveBuffer         = 1024
	maxLiveSubscribers = 64
)

// PublishProposal streams a proposal (one this node made or accepted into
// its tree) to live subscribers.
func (l *Ledger) PublishProposal(p *model.Proposal) {
	if !l.live.active() {
		return // encoding costs: only for someone listening
	}
	l.live.publish(SyncFrame{Kind: follower.FrameProposal, Body: p.Encode()})
}

// LiveActive reports whether anyone listens to the live stream (publishers
// skip work otherwise).
func (l *Ledger) LiveActive() bool { return l.live.active() }
