package consensus

import (
	"context"

	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/replica"
)

// newPool is the node's verification pool (replica.Pool): signatures and
// certificates are checked off the consensus loop, and only what passes
// reaches the core.
func (n *Node) newPool() *replica.Pool {
	return replica.NewPool(replica.PoolConfig{
		Workers:  n.cfg.VerifyWorkers,
		Queue:    n.cfg.VerifyQueue,
		Verifier: n.verifier,
		Deliver: func(_ context.Context, from model.NodeID, ev core.Event) {
			n.deliver(loopEvent{ev: ev, from: from})
		},
		Rejected: func(from model.NodeID, err error) {
			n.metrics.dropped.WithLabelValues("invalid").Inc()
			n.log.Warn("rejected message", "from", n.nameOf(from), "err", err)
		},
	})
}

// syncedBlocks is the pool's work for a sync answer: validate the blocks
// against what this node holds, deliver them, then let the sync client
// ask for the next range (after the delivery, so answers reach the loop in
// order).
func (n *Node) syncedBlocks(from model.NodeID, answer []*model.Block) func() (core.Event, error) {
	return func() (core.Event, error) {
		// What checks out below a failing block is delivered; the failure
		// is reported (the pool logs and counts it).
		blocks, err := n.sync.validate(answer)
		if len(blocks) == 0 {
			return nil, err
		}
		n.metrics.syncedBlocks.Add(float64(len(blocks)))
		n.deliver(loopEvent{ev: core.BlocksEvent{Blocks: blocks}, from: from})
		n.sync.received(from, blocks)
		return nil, err
	}
}
