package node

import (
	"log/slog"
	"slices"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/storage"
)

// consensusLoop is the only goroutine that touches the core. It steps the
// core with one event at a time, persists the output (synced), and only
// then sends what the output signed.
func (n *Node) consensusLoop(initial consensus.Output) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	n.apply(initial, timer)
	for {
		select {
		case <-n.ctx.Done():
			return
		case ev := <-n.events:
			n.metrics.loopQueue.Set(float64(len(n.events)))
			if n.parkProposal(ev, timer) {
				continue
			}
			n.step(ev.ev, timer)
		case <-n.executedSignal:
			n.releaseParked(timer)
		case <-n.workSignal:
			n.step(consensus.WorkEvent{}, timer)
		case <-timer.C:
			n.step(consensus.TimerEvent{}, timer)
		}
	}
}

func (n *Node) step(ev consensus.Event, timer *time.Timer) {
	view := n.core.CurrentView()
	began := time.Now()
	out, err := n.core.Step(n.now(), ev)
	if pe, ok := ev.(consensus.ProposalEvent); ok {
		voted := false
		for _, m := range out.Messages {
			voted = voted || m.Vote != nil
		}
		n.log.Debug("proposal stepped", "view", pe.Proposal.Block.View, "in_view", view, "bytes", len(pe.Proposal.Block.Payload),
			"voted", voted, "step", time.Since(began), "err", err)
	}
	n.publishAccepted(ev, out.Blocks)
	if err != nil {
		if consensus.IsFatal(err) {
			n.fatal(err)
			return
		}
		n.log.Debug("event dropped by consensus", "event", eventName(ev), "err", err)
	}
	n.apply(out, timer)
	if nv := n.core.CurrentView(); nv != view || n.leader.Load() == nil {
		n.storeLeader(nv)
		n.log.Debug("view change", "from", view, "to", nv, "event", eventName(ev), "finalized", n.core.Finalized().Height)
		n.view.Store(uint64(nv))
		n.metrics.view.Set(float64(nv))
		if out.Liveness != nil && out.Liveness.LastViewTC != nil && out.Liveness.LastViewTC.View+1 == nv {
			n.metrics.tcs.Inc()
		} else {
			n.metrics.qcs.Inc()
		}
		n.votes.prune(nv)
	}
}

// apply carries out one output in the order the core's contract demands.
func (n *Node) apply(out consensus.Output, timer *time.Timer) {
	c := storage.CommitFromOutput(&out)
	scheduleChanged := false
	if len(out.Finalized) > 0 {
		var err error
		if c.Epochs, scheduleChanged, err = n.applyEpochs(out.Finalized); err != nil {
			n.fatal(err)
			return
		}
	}
	if !c.Empty() {
		start := time.Now()
		if err := n.store.Commit(c); err != nil {
			// Nothing signed under this state may leave the node.
			n.fatal(err)
			return
		}
		n.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	}
	for _, m := range out.Messages {
		n.send(m)
	}
	for _, b := range out.Blocks {
		n.trackBlock(b)
	}
	for _, b := range out.Finalized {
		n.finalizeTxs(b)
	}
	if len(out.Finalized) > 0 {
		last := out.Finalized[len(out.Finalized)-1]
		n.finalizedHeight.Store(last.Height)
		n.metrics.finalizedHeight.Set(float64(last.Height))
		n.signalFinalized()
	}
	for _, e := range out.Evidence {
		n.metrics.evidence.WithLabelValues(e.Kind.String()).Inc()
		n.log.Warn("equivocation evidence", "kind", e.Kind.String(), "offender", n.nameOf(e.Offender), "view", e.View)
		if err := n.evidence.record(e, n.nameOf(e.Offender), time.Now()); err != nil {
			n.log.Error("persist evidence", "err", err)
		}
	}
	for _, id := range out.Fetch {
		n.sync.fetch(id)
	}
	if c.Epochs != nil {
		n.publishEpochs()
	}
	if !out.NextTimer.IsZero() {
		d := out.NextTimer.Sub(n.now())
		if d < 0 {
			d = 0
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(d)
	}
	if scheduleChanged {
		// The core learns the new committees only now, after the state that
		// implies them is durable.
		n.step(n.scheduleEvent(), timer)
	}
}

func (n *Node) send(m consensus.Message) {
	var frame []byte
	switch {
	case m.Proposal != nil:
		frame = encodeProposal(m.Proposal)
		n.metrics.proposals.Inc()
		n.live.publishProposal(m.Proposal)
	case m.Vote != nil:
		if m.To == n.self {
			// Our own vote, for the view we lead next, joins the batch of
			// votes for its block like anyone's, so that the batch reaches
			// a supermajority with it.
			if batch := n.votes.add(m.Vote, n.core.CurrentView()); batch != nil {
				n.enqueueVerify(verifyJob{from: n.self, votes: batch})
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

// maxParked bounds proposals waiting for local execution.
const maxParked = 16

// parkProposal holds back a proposal whose result commitment names a height
// this node has not executed yet: it could not check the state root, and
// voting unchecked would let a lying leader get a certified wrong root. The
// proposal is stepped as soon as execution catches up (releaseParked).
func (n *Node) parkProposal(ev loopEvent, timer *time.Timer) bool {
	pe, ok := ev.ev.(consensus.ProposalEvent)
	if !ok || pe.Proposal.Block.Result.Height <= n.executedHeight.Load() {
		return false
	}
	b := pe.Proposal.Block
	n.log.Debug("proposal parked until execution catches up", "view", b.View,
		"result_height", b.Result.Height, "executed", n.executedHeight.Load(), "finalized", n.finalizedHeight.Load())
	// The proposal's certificates are verified and may be exactly what
	// finalizes the height its result names: let them in now, or the
	// proposal would wait for itself. The block joins the tree too, as a
	// synced block would (the core never votes for those): a replica whose
	// execution runs a few blocks behind must still finalize at the speed
	// of the network, or it would fall further behind with every parked
	// proposal and end up fetching each block. Only the vote waits.
	n.step(consensus.CertificateEvent{QC: b.QC, TC: b.TC}, timer)
	n.step(consensus.BlocksEvent{Blocks: []*model.Block{b}}, timer)
	v := b.View
	if v < n.core.CurrentView() {
		return true // stale: its certificates arrive again with later messages
	}
	if _, dup := n.parked[v]; !dup && len(n.parked) >= maxParked {
		n.metrics.dropped.WithLabelValues("parked_full").Inc()
		return true
	}
	n.parked[v] = ev
	return true
}

// releaseParked steps parked proposals that are now checkable, lowest view
// first, and forgets those the replica has moved past.
func (n *Node) releaseParked(timer *time.Timer) {
	if len(n.parked) == 0 {
		return
	}
	executed := n.executedHeight.Load()
	views := make([]model.View, 0, len(n.parked))
	for v := range n.parked {
		views = append(views, v)
	}
	slices.Sort(views)
	for _, v := range views {
		ev := n.parked[v]
		if v < n.core.CurrentView() {
			delete(n.parked, v)
			continue
		}
		if ev.ev.(consensus.ProposalEvent).Proposal.Block.Result.Height > executed {
			continue
		}
		delete(n.parked, v)
		n.step(ev.ev, timer)
	}
}

// signalWork wakes an idle leader: a transaction or service event arrived.
func (n *Node) signalWork() {
	select {
	case n.workSignal <- struct{}{}:
	default:
	}
}

func (n *Node) signalExecuted() {
	select {
	case n.executedSignal <- struct{}{}:
	default:
	}
}

func (n *Node) signalFinalized() {
	select {
	case n.finalizedSignal <- struct{}{}:
	default:
	}
}

func eventName(ev consensus.Event) string {
	switch e := ev.(type) {
	case consensus.ProposalEvent:
		return "proposal v" + viewString(e.Proposal.Block.View)
	case consensus.VoteEvent:
		return "vote v" + viewString(e.Vote.View)
	case consensus.TimeoutEvent:
		return "timeout v" + viewString(e.Timeout.View)
	case consensus.CertificateEvent:
		return "sync info"
	case consensus.BlocksEvent:
		return "synced blocks"
	case consensus.TimerEvent:
		return "timer"
	}
	return "event"
}

func viewString(v model.View) string {
	const digits = "0123456789"
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = digits[v%10]
		v /= 10
	}
	return string(b[i:])
}

// storeLeader records who leads view v for the status API: computed for a
// block extending the newest QC (the parent the leader will use). Left
// unknown while that block has not arrived.
func (n *Node) storeLeader(v model.View) {
	parent := n.core.Block(n.core.NewestQC().BlockID)
	id, err := n.core.Leader(v, parent)
	if err != nil {
		n.leader.Store(nil)
		return
	}
	if n.log.Enabled(n.ctx, slog.LevelDebug) {
		n.log.Debug("leader", "view", v, "leader", n.nameOf(id), "parent_view", parent.View)
	}
	n.leader.Store(&id)
}

// leaderLoad is the last leader storeLeader recorded (zero if unknown).
func (n *Node) leaderLoad() model.NodeID {
	if p := n.leader.Load(); p != nil {
		return *p
	}
	return model.ZeroID
}
