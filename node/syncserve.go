package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/follower"
)

// Serving block sync to followers (seed 001). Followers are not in the
// pinned-key peer set; they pull over the HTTP API (api/sync.go):
//
//   - ranges of finalized blocks, each answer ending with the QC that
//     certifies its last block, so a follower validates the whole range with
//     one signature check (chained validation);
//   - a live stream of the proposals this node accepted (and those it made),
//     with their proposer signatures, so a follower can check each proposal
//     by itself before its ancestors arrive.
//
// Participants and followers serve the same: a follower re-serves what it
// validated, so followers can follow followers.

// ErrBadSyncRequest: a range request the node does not serve.
var ErrBadSyncRequest = errors.New("bad sync request")

// maxSyncRangeBytes bounds one range answer, whatever the block sizes.
const maxSyncRangeBytes = 16 << 20

// SyncRange returns finalized blocks from, from+1, … (at most count, at
// most follower.MaxRangeBlocks, at most maxSyncRangeBytes) in the sync wire
// format, with the QC that certifies the last one. That QC is the next
// finalized block's parent QC, so an answer ends one below the finalized
// height; the newest blocks reach followers on the live stream.
func (n *Node) SyncRange(from uint64, count int) ([]byte, error) {
	if from == 0 || count <= 0 {
		return nil, fmt.Errorf("%w: from must be ≥ 1 and count positive", ErrBadSyncRequest)
	}
	count = min(count, follower.MaxRangeBlocks)
	final := n.finalizedHeight.Load()
	if from >= final {
		return follower.EncodeRange(nil, nil), nil
	}
	to := min(from+uint64(count), final) // the extra block carries the QC
	blocks, err := n.store.FinalizedRange(from, to, count+1)
	if err != nil {
		return nil, err
	}
	size := 0
	for i, b := range blocks {
		size += len(b.Payload) + 512
		if size > maxSyncRangeBytes && i >= 2 {
			blocks = blocks[:i]
			break
		}
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
// and catches up with ranges.
func (n *Node) SubscribeSync(ctx context.Context) <-chan SyncFrame { return n.live.add(ctx) }

// publishAccepted streams a received proposal once the core accepted it
// into its tree (it is among the output's new blocks).
func (n *Node) publishAccepted(ev consensus.Event, blocks []*model.Block) {
	pe, ok := ev.(consensus.ProposalEvent)
	if !ok || !n.live.active() {
		return
	}
	for _, b := range blocks {
		if b.ID() == pe.Proposal.Block.ID() {
			n.live.publishProposal(pe.Proposal)
			return
		}
	}
}

const (
	liveBuffer         = 1024
	maxLiveSubscribers = 64
)

// liveFeed fans live frames out to sync subscribers.
type liveFeed struct{ *fanout[SyncFrame] }

func newLiveFeed() *liveFeed { return &liveFeed{newFanout[SyncFrame](liveBuffer, maxLiveSubscribers)} }

func (f *liveFeed) publishProposal(p *model.Proposal) {
	if !f.active() {
		return // encoding costs: only for someone listening
	}
	f.publish(SyncFrame{Kind: follower.FrameProposal, Body: p.Encode()})
}
