package consensus

import (
	"time"

	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/replica"
	"github.com/floe-bft/floe/storage"
)

// The node's side of the replica engine: where its persisted state, its
// transport, its execution progress and its bookkeeping plug in. The
// engine (package replica) owns the order in which they run.

// nodeReplica adapts the node to replica.Store, replica.Transport,
// replica.Readiness and replica.Observer. Every method runs on the
// consensus loop.
type nodeReplica struct {
	n *Node
	// epochsChanged: the last Persist stored new epoch state, which Applied
	// publishes to the verifiers and the API.
	epochsChanged bool
	// view is the core's view after the previous output.
	view model.View
}

var (
	_ replica.Store     = (*nodeReplica)(nil)
	_ replica.Transport = (*nodeReplica)(nil)
	_ replica.Readiness = (*nodeReplica)(nil)
	_ replica.Observer  = (*nodeReplica)(nil)
)

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

// Send hands the messages to the transport (or, for the node's own vote,
// to its vote batcher).
func (r *nodeReplica) Send(msgs []core.Message) error {
	for _, m := range msgs {
		r.n.send(m)
	}
	return nil
}

// Ready: a proposal whose execution result names a height this node has
// not executed cannot be checked yet.
func (r *nodeReplica) Ready(b *model.Block) bool {
	return resultHeight(b) <= r.n.led.ExecutedHeight()
}

// Stepped logs proposals and streams accepted ones to live subscribers.
func (r *nodeReplica) Stepped(ev core.Event, out *core.Output, err error) {
	n := r.n
	if pe, ok := ev.(core.ProposalEvent); ok {
		voted := false
		for _, m := range out.Messages {
			voted = voted || m.Vote != nil
		}
		n.log.Debug("proposal stepped", "view", pe.Proposal.Block.View, "in_view", r.view,
			"bytes", len(pe.Proposal.Block.Payload), "voted", voted, "err", err)
	}
	n.publishAccepted(ev, out.Blocks)
	if err != nil {
		n.log.Debug("event dropped by consensus", "event", eventName(ev), "err", err)
	}
}

// Applied does everything that follows persisting and sending: track new
// blocks' transactions, hand finalized blocks to the executor, record
// evidence, fetch missing blocks, publish epochs and the new view.
func (r *nodeReplica) Applied(ev core.Event, out *core.Output) {
	n := r.n
	for _, b := range out.Blocks {
		n.trackBlock(b)
	}
	for _, b := range out.Finalized {
		n.finalizeTxs(b)
	}
	if len(out.Finalized) > 0 {
		n.led.Finalized(out.Finalized[len(out.Finalized)-1].Height)
	}
	for _, e := range out.Evidence {
		n.metrics.evidence.WithLabelValues(e.Kind.String()).Inc()
		n.log.Warn("equivocation evidence", "kind", e.Kind.String(), "offender", n.nameOf(e.Offender), "view", e.View)
		if err := n.evidence.Record(e, n.nameOf(e.Offender), time.Now()); err != nil {
			n.log.Error("persist evidence", "err", err)
		}
	}
	for _, id := range out.Fetch {
		n.sync.fetch(id)
	}
	if r.epochsChanged {
		r.epochsChanged = false
		n.publishEpochs()
	}
	core := n.engine.Core()
	if nv := core.CurrentView(); nv != r.view || n.leader.Load() == nil {
		n.storeLeader(nv)
		n.log.Debug("view change", "from", r.view, "to", nv, "event", eventName(ev), "finalized", core.Finalized().Height)
		r.view = nv
		n.view.Store(uint64(nv))
		n.metrics.view.Set(float64(nv))
		if out.Liveness != nil && out.Liveness.LastViewTC != nil && out.Liveness.LastViewTC.View+1 == nv {
			n.metrics.tcs.Inc()
		} else {
			n.metrics.qcs.Inc()
		}
		n.votes.Prune(nv)
	}
}

// Parked logs a proposal that waits for execution, or counts one dropped.
func (r *nodeReplica) Parked(b *model.Block, dropped bool) {
	n := r.n
	if dropped {
		n.metrics.dropped.WithLabelValues("parked_full").Inc()
		return
	}
	n.log.Debug("proposal parked until execution catches up", "view", b.View,
		"result_height", resultHeight(b), "executed", n.led.ExecutedHeight(), "finalized", n.led.FinalizedHeight())
}
func (n *Node) send(m core.Message) {
	var frame []byte
	switch {
	case m.Proposal != nil:
		frame = encodeProposal(m.Proposal)
		n.metrics.proposals.Inc()
		n.led.PublishProposal(m.Proposal)
	case m.Vote != nil:
		if m.To == n.self {
			// Our own vote, for the view we lead next, joins the batch of
			// votes for its block like anyone's, so that the batch reaches
			// a supermajority with it.
			if batch := n.votes.Add(m.Vote, n.engine.Core().CurrentView()); batch != nil {
				n.enqueueVerify(replica.Job{From: n.self, Votes: batch})
			}
			return
		}
		frame = encodeVote(m.Vote)
	case m.Timeout != nil:
		frame = encodeTimeout(m.Timeout)
		n.metrics.timeouts.Inc()
	case m.QC != nil:
		frame = encodeSyncInfo(m.QC, m.TC)
	default:
		return
	}
	if m.Broadcast {
		n.transport.Broadcast(frame)
		return
	}
	if !n.transport.Send(m.To, frame) {
		n.metrics.dropped.WithLabelValues("send_queue_full").Inc()
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
