package consensus

import (
	"sync"
	"time"

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
	msg  *message
}

type syncClient struct {
	n    *Node
	mu   sync.Mutex
	sync *replica.Sync[model.NodeID]
	turn int
}

func newSyncClient(n *Node) *syncClient {
	s := &syncClient{n: n}
	s.sync = replica.NewSync[model.NodeID](replica.SyncConfig{Batch: rangeBatch, RepeatGap: fetchRepeatGap,
		RangeTimeout: rangeTimeout, MaxTracked: maxFetchMemory}, func(k int) int { s.turn++; return s.turn % k })
	return s
}

// peers lists the other members in canonical order.
func (s *syncClient) peers() []model.NodeID {
	var out []model.NodeID
	for _, m := range s.n.led.Directory().Peers() {
		if m.ID() != s.n.self {
			out = append(out, m.ID())
		}
	}
	return out
}

// send queues one request's frame.
func (s *syncClient) send(req replica.SyncRequest[model.NodeID], ok bool) {
	if !ok {
		return
	}
	if req.Block != (model.Identifier{}) {
		s.n.transport.Send(req.To, encodeBlockRequest(req.Block, req.Have))
		return
	}
	s.n.transport.Send(req.To, encodeRangeRequest(req.From, uint32(req.Count)))
}

// fetch asks a peer for block id and its missing ancestors. Called from the
// consensus loop; it only queues a frame.
func (s *syncClient) fetch(id model.Identifier) {
	peers := s.peers()
	s.mu.Lock()
	req, ok := s.sync.Fetch(time.Now(), id, s.n.led.FinalizedHeight(), peers)
	s.mu.Unlock()
	s.send(req, ok)
}

// onStatus records a peer's height and starts range sync when behind.
func (s *syncClient) onStatus(from model.NodeID, height uint64, _ model.View) {
	if !s.n.isKnownMember(from) {
		return
	}
	s.mu.Lock()
	req, ok := s.sync.Status(time.Now(), from, height, s.n.led.FinalizedHeight())
	s.n.bestPeerHeight.Store(s.sync.BestPeerHeight())
	s.mu.Unlock()
	s.send(req, ok)
}

// validate checks a batch of blocks from a peer (replica.CheckBatch). It
// runs in a verification worker.
func (s *syncClient) validate(blocks []*model.Block) ([]*model.Block, error) {
	return replica.CheckBatch(blocks, rangeBatch, s.n.verifier().Block)
}

// received notes an answer; after a range answer it asks for the next
// range at once, so a node far behind catches up at full speed.
func (s *syncClient) received(from model.NodeID, blocks []*model.Block) {
	s.mu.Lock()
	req, ok := s.sync.Received(time.Now(), from, blocks, s.n.led.FinalizedHeight())
	s.mu.Unlock()
	s.send(req, ok)
}

// syncServer answers block requests from the store, off the receive loop.
func (n *Node) syncServer() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case j := <-n.serve:
			var blocks []*model.Block
			switch j.msg.kind {
			case kindBlockRequest:
				blocks = n.ancestry(j.msg.blockID, j.msg.height)
			case kindRangeRequest:
				count := min(uint64(j.msg.count), rangeBatch)
				if count == 0 || j.msg.height == 0 {
					continue
				}
				var err error
				blocks, err = n.led.Store().FinalizedRange(j.msg.height, j.msg.height+count-1, rangeBatch)
				if err != nil {
					continue
				}
			}
			if len(blocks) > 0 {
				n.transport.Send(j.from, encodeBlocks(blocks))
			}
		}
	}
}

// ancestry returns block id and its ancestors above height have, oldest
// first, at most rangeBatch of them.
func (n *Node) ancestry(id model.Identifier, have uint64) []*model.Block {
	get := func(id model.Identifier) *model.Block {
		b, err := n.led.Store().Block(id)
		if err != nil {
			return nil
		}
		return b
	}
	return replica.Ancestry(get, id, func(b *model.Block) bool { return b.Height > have }, rangeBatch)
}

// statusLoop announces our finalized height to every peer (height polls).
func (n *Node) statusLoop() {
	t := time.NewTicker(n.cfg.StatusInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.transport.Broadcast(encodeStatus(n.led.FinalizedHeight(), model.View(n.view.Load())))
			connected := 0
			for _, p := range n.transport.Peers() {
				if p.Connected {
					connected++
				}
			}
			n.metrics.peers.Set(float64(connected))
			mt, mb := n.mempool.Size()
			n.metrics.mempoolTxs.Set(float64(mt))
			n.metrics.mempoolBytes.Set(float64(mb))
		}
	}
}
