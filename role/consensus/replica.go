package consensus

import (
	"time"

	"github.com/floe-bft/floe/chainrun"
	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/replica"
	"github.com/floe-bft/floe/storage"
)

// The node's side of the main chain's replica: where its persisted state,
// its execution progress and its bookkeeping plug into the chain runner
// (package chainrun), which owns the order in which they run.

// nodeReplica adapts the node to replica.Store and replica.Readiness and
// provides the runner's hooks. Every method runs on the consensus loop.
type nodeReplica struct {
	n *Node
	// epochsChanged: the last Persist stored new epoch state, which Applied
	// publishes to the verifiers and the API.
	epochsChanged bool
}

var (
	_ replica.Store     = (*nodeReplica)(nil)
	_ replica.Readiness = (*nodeReplica)(nil)
)

// hooks are the runner's hooks for the main chain.
func (r *nodeReplica) hooks() chainrun.Hooks {
	n := r.n
	return chainrun.Hooks{
		Store: r, Ready: r, Stepped: r.stepped, Applied: r.applied,
		Proposed: n.led.PublishProposal,
		Status: func() {
			mt, mb := n.mempool.Size()
			n.metrics.mempoolTxs.Set(float64(mt))
			n.metrics.mempoolBytes.Set(float64(mb))
		},
		Evidence: func(e model.Evidence) {
			if err := n.evidence.Record(e, n.nameOf(e.Offender), time.Now()); err != nil {
				n.log.Error("persist evidence", "err", err)
			}
		},
	}
}

// Persist commits the output and the epoch state its finalized blocks
// imply in one synced batch. When the committees changed, the core learns
// the new schedule once it is durable.
func (r *nodeReplica) Persist(out *core.Output) (core.Event, error) {
	n := r.n
	c := storage.CommitFromOutput(out)
	scheduleChanged := false
	if len(out.Finalized) > 0 {
		var err error
		if c.Epochs, scheduleChanged, err = n.led.ApplyEpochs(out.Finalized); err != nil {
			return nil, err
		}
	}
	r.epochsChanged = c.Epochs != nil
	if !c.Empty() {
		start := time.Now()
		if err := n.led.Store().Commit(c); err != nil {
			return nil, err
		}
		n.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	}
	if scheduleChanged {
		return n.led.ScheduleEvent(), nil
	}
	return nil, nil
}

// Ready: a proposal whose execution result names a height this node has
// not executed cannot be checked yet.
func (r *nodeReplica) Ready(b *model.Block) bool {
	if p := r.n.pipe; p != nil {
		return p.ready(b)
	}
	return resultHeight(b) <= r.n.led.ExecutedHeight()
}

// stepped logs proposals and streams accepted ones to live subscribers.
func (r *nodeReplica) stepped(ev core.Event, out *core.Output, err error) {
	n := r.n
	if pe, ok := ev.(core.ProposalEvent); ok {
		voted := false
		for _, m := range out.Messages {
			voted = voted || m.Vote != nil
		}
		n.log.Debug("proposal stepped", "view", pe.Proposal.Block.View,
			"bytes", len(pe.Proposal.Block.Payload), "voted", voted, "err", err)
	}
	n.publishAccepted(ev, out.Blocks)
}

// applied does the main chain's part of what follows persisting and
// sending: track new blocks' transactions, hand finalized blocks to the
// executor, publish epochs (before the runner computes the new view's
// leader under them).
func (r *nodeReplica) applied(_ core.Event, out *core.Output) {
	n := r.n
	for _, b := range out.Blocks {
		n.trackBlock(b)
	}
	for _, b := range out.Finalized {
		n.finalizeTxs(b)
	}
	if len(out.Finalized) > 0 {
		n.led.Finalized(out.Finalized[len(out.Finalized)-1].Height)
		if n.pipe != nil {
			// Proposals parked on a receipt or reference this node had
			// not finalized may be checkable now.
			n.run.SignalRetry()
		}
	}
	if r.epochsChanged {
		r.epochsChanged = false
		n.publishEpochs()
	}
}

// publishAccepted streams a received proposal once the core accepted it
// into its tree (it is among the output's new blocks).
func (n *Node) publishAccepted(ev core.Event, blocks []*model.Block) {
	pe, ok := ev.(core.ProposalEvent)
	if !ok || !n.led.LiveActive() {
		return
	}
	for _, b := range blocks {
		if b.ID() == pe.Proposal.Block.ID() {
			n.led.PublishProposal(pe.Proposal)
			return
		}
	}
}
