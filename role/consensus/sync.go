package consensus

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

// Sync has two halves. Fetch by ID answers the core's Output.Fetch: a block
// it saw certified (or a proposal's parent) and does not have, with its
// ancestors above our finalized height. Range sync is for a node that fell
// behind: peers announce their finalized height every StatusInterval
// (height polls), and a node behind asks one of them for the next
// rangeBatch finalized blocks, again and again until it has caught up; then
// live proposals take over.

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
	n  *Node
	mu sync.Mutex
	// peerHeights are the finalized heights peers last announced.
	peerHeights map[model.NodeID]uint64
	// One range request at a time: to whom, from which height, when.
	rangePeer   model.NodeID
	rangeFrom   uint64
	rangeSentAt time.Time
	nextFrom    uint64
	// fetched remembers recent fetches so a block asked for in every
	// output is requested at most every fetchRepeatGap.
	fetched map[model.Identifier]time.Time
	turn    int
}

func newSyncClient(n *Node) *syncClient {
	return &syncClient{n: n, peerHeights: make(map[model.NodeID]uint64), fetched: make(map[model.Identifier]time.Time)}
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

// fetch asks a peer for block id and its missing ancestors. Called from the
// consensus loop; it only queues a frame.
func (s *syncClient) fetch(id model.Identifier) {
	now := time.Now()
	s.mu.Lock()
	if at, ok := s.fetched[id]; ok && now.Sub(at) < fetchRepeatGap {
		s.mu.Unlock()
		return
	}
	if len(s.fetched) >= maxFetchMemory {
		for k, at := range s.fetched {
			if now.Sub(at) >= fetchRepeatGap {
				delete(s.fetched, k)
			}
		}
	}
	if len(s.fetched) < maxFetchMemory {
		s.fetched[id] = now
	}
	peers := s.peers()
	s.turn++
	to := peers[s.turn%len(peers)]
	s.mu.Unlock()
	s.n.transport.Send(to, encodeBlockRequest(id, s.n.led.FinalizedHeight()))
}

// onStatus records a peer's height and starts range sync when behind.
func (s *syncClient) onStatus(from model.NodeID, height uint64, _ model.View) {
	if !s.n.isKnownMember(from) {
		return
	}
	s.mu.Lock()
	s.peerHeights[from] = height
	best := uint64(0)
	for _, h := range s.peerHeights {
		best = max(best, h)
	}
	s.n.bestPeerHeight.Store(best)
	s.mu.Unlock()
	s.maybeRequestRange(from)
}

// maybeRequestRange asks peer for the next batch if we are behind it and no
// request is outstanding (or the last one timed out).
func (s *syncClient) maybeRequestRange(peer model.NodeID) {
	s.mu.Lock()
	ours := s.n.led.FinalizedHeight()
	from := max(ours+1, s.nextFrom)
	if s.peerHeights[peer] < from+1 || (!s.rangeSentAt.IsZero() && time.Since(s.rangeSentAt) < rangeTimeout) {
		s.mu.Unlock()
		return
	}
	s.rangePeer, s.rangeFrom, s.rangeSentAt = peer, from, time.Now()
	s.mu.Unlock()
	s.n.transport.Send(peer, encodeRangeRequest(from, rangeBatch))
}

// validate checks a batch of blocks from a peer: at most rangeBatch, hash
// links between consecutive heights, and every block's certificates. It
// runs in a verification worker.
func (s *syncClient) validate(from model.NodeID, blocks []*model.Block) ([]*model.Block, error) {
	if len(blocks) > rangeBatch {
		return nil, fmt.Errorf("%w: %d blocks in one answer", model.ErrInvalid, len(blocks))
	}
	sorted := append([]*model.Block(nil), blocks...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Height < sorted[j].Height })
	var out []*model.Block
	for i, b := range sorted {
		if b.IsRoot() {
			continue
		}
		if i > 0 && !sorted[i-1].IsRoot() && b.Height == sorted[i-1].Height+1 && b.ParentID != sorted[i-1].ID() {
			return nil, fmt.Errorf("%w: block at height %d does not link to the one below it", model.ErrInvalid, b.Height)
		}
		if err := s.n.verifier().Block(b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// received notes an answer; after a range answer it asks for the next
// range at once, so a node far behind catches up at full speed.
func (s *syncClient) received(from model.NodeID, blocks []*model.Block) {
	var top uint64
	for _, b := range blocks {
		top = max(top, b.Height)
	}
	s.mu.Lock()
	if from == s.rangePeer && !s.rangeSentAt.IsZero() {
		s.rangeSentAt = time.Time{}
		if top >= s.rangeFrom {
			s.nextFrom = top + 1
		}
	}
	s.mu.Unlock()
	s.maybeRequestRange(from)
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
	var chain []*model.Block
	for len(chain) < rangeBatch {
		b, err := n.led.Store().Block(id)
		if err != nil || b.IsRoot() || b.Height <= have {
			break
		}
		chain = append(chain, b)
		id = b.ParentID
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain
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
