package chainrun

import (
	"sync"
	"time"

	core "github.com/floe-bft/floe/consensus"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/replica"
)

// Block sync is replica.Sync (what to ask, whom, when) behind a lock:
// fetches come from the consensus loop, peers' height announcements from
// the receive loop, answers from the verification workers. Peers announce
// their finalized height every StatusInterval (height polls).

const (
	rangeBatch     = 64
	rangeTimeout   = 2 * time.Second
	fetchRepeatGap = 200 * time.Millisecond
	maxFetchMemory = 1024
)

type syncJob struct {
	from model.NodeID
	msg  *Message
}

type syncClient struct {
	r    *Runner
	mu   sync.Mutex
	sync *replica.Sync[model.NodeID]
	turn int
}

func newSyncClient(r *Runner) *syncClient {
	s := &syncClient{r: r}
	s.sync = replica.NewSync[model.NodeID](replica.SyncConfig{Batch: rangeBatch, RepeatGap: fetchRepeatGap,
		RangeTimeout: rangeTimeout, MaxTracked: maxFetchMemory}, func(k int) int { s.turn++; return s.turn % k })
	return s
}

// send queues one request's frame.
func (s *syncClient) send(req replica.SyncRequest[model.NodeID], ok bool) {
	if !ok {
		return
	}
	if req.Block != (model.Identifier{}) {
		s.r.out.Send(req.To, encodeBlockRequest(req.Block, req.Have))
		return
	}
	s.r.out.Send(req.To, encodeRangeRequest(req.From, uint32(req.Count)))
}

// fetch asks a peer for block id and its missing ancestors. Called from the
// consensus loop; it only queues a frame.
func (s *syncClient) fetch(id model.Identifier) {
	peers := s.r.host.Peers()
	s.mu.Lock()
	req, ok := s.sync.Fetch(time.Now(), id, s.r.host.FinalizedHeight(), peers)
	s.mu.Unlock()
	s.send(req, ok)
}

// onStatus records a peer's height and starts range sync when behind.
func (s *syncClient) onStatus(from model.NodeID, height uint64, _ model.View) {
	s.mu.Lock()
	req, ok := s.sync.Status(time.Now(), from, height, s.r.host.FinalizedHeight())
	s.r.bestPeerHeight.Store(s.sync.BestPeerHeight())
	s.mu.Unlock()
	s.send(req, ok)
}

// validate checks a batch of blocks from a peer (replica.CheckBatch). It
// runs in a verification worker.
func (s *syncClient) validate(blocks []*model.Block) ([]*model.Block, error) {
	return replica.CheckBatch(blocks, rangeBatch, s.r.host.Verifier().Block)
}

// received notes an answer; after a range answer it asks for the next
// range at once, so a node far behind catches up at full speed.
func (s *syncClient) received(from model.NodeID, blocks []*model.Block) {
	s.mu.Lock()
	req, ok := s.sync.Received(time.Now(), from, blocks, s.r.host.FinalizedHeight())
	s.mu.Unlock()
	s.send(req, ok)
}

// syncServer answers block requests from the store, off the receive loop.
func (r *Runner) syncServer() {
	for {
		select {
		case <-r.ctx.Done():
			return
		case j := <-r.serve:
			var blocks []*model.Block
			switch j.msg.kind {
			case kindBlockRequest:
				blocks = r.ancestry(j.msg.blockID, j.msg.height)
			case kindRangeRequest:
				count := min(uint64(j.msg.count), rangeBatch)
				if count == 0 || j.msg.height == 0 {
					continue
				}
				var err error
				blocks, err = r.host.FinalizedRange(j.msg.height, j.msg.height+count-1, rangeBatch)
				if err != nil {
					continue
				}
			}
			if len(blocks) > 0 {
				r.out.Send(j.from, encodeBlocks(blocks))
			}
		}
	}
}

// ancestry returns block id and its ancestors above height have, oldest
// first, at most rangeBatch of them.
func (r *Runner) ancestry(id model.Identifier, have uint64) []*model.Block {
	get := func(id model.Identifier) *model.Block {
		b, err := r.host.Block(id)
		if err != nil {
			return nil
		}
		return b
	}
	return replica.Ancestry(get, id, func(b *model.Block) bool { return b.Height > have }, rangeBatch)
}

// statusLoop announces our finalized height to every peer (height polls).
func (r *Runner) statusLoop() {
	t := time.NewTicker(r.cfg.StatusInterval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			r.out.Broadcast(encodeStatus(r.host.FinalizedHeight(), r.View()))
			connected := 0
			for _, p := range r.out.Peers() {
				if p.Connected {
					connected++
				}
			}
			r.metrics.Peers.Set(float64(connected))
			if r.hooks.Status != nil {
				r.hooks.Status()
			}
		}
	}
}

// syncedBlocks is the pool's work for a sync answer: validate the blocks
// against what this node holds, deliver them, then let the sync client
// ask for the next range (after the delivery, so answers reach the loop in
// order).
func (r *Runner) syncedBlocks(from model.NodeID, answer []*model.Block) func() (core.Event, error) {
	return func() (core.Event, error) {
		// What checks out below a failing block is delivered; the failure
		// is reported (the pool logs and counts it).
		blocks, err := r.sync.validate(answer)
		if len(blocks) == 0 {
			return nil, err
		}
		r.metrics.SyncedBlocks.Add(float64(len(blocks)))
		r.deliver(loopEvent{ev: core.BlocksEvent{Blocks: blocks}, from: from})
		r.sync.received(from, blocks)
		return nil, err
	}
}
