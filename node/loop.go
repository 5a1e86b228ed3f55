package node

import (
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
			n.step(ev.ev, timer)
		case <-timer.C:
			n.step(consensus.TimerEvent{}, timer)
		}
	}
}

func (n *Node) step(ev consensus.Event, timer *time.Timer) {
	view := n.core.CurrentView()
	out, err := n.core.Step(n.now(), ev)
	if err != nil {
		if consensus.IsFatal(err) {
			n.fatal(err)
			return
		}
		n.log.Debug("event dropped by consensus", "event", eventName(ev), "err", err)
	}
	n.apply(out, timer)
	if nv := n.core.CurrentView(); nv != view {
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
	if c := storage.CommitFromOutput(&out); !c.Empty() {
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
	if len(out.Finalized) > 0 {
		last := out.Finalized[len(out.Finalized)-1]
		n.finalizedHeight.Store(last.Height)
		n.metrics.finalizedHeight.Set(float64(last.Height))
		n.signalFinalized()
	}
	for _, b := range out.Blocks {
		// Transactions in a block another leader proposed must not be
		// proposed again by us while that block may still be finalized.
		n.markInFlight(b)
	}
	for _, e := range out.Evidence {
		n.metrics.evidence.WithLabelValues(e.Kind.String()).Inc()
		n.log.Warn("equivocation evidence", "kind", e.Kind.String(), "offender", n.names[e.Offender], "view", e.View)
		if err := n.evidence.record(e, n.names[e.Offender], time.Now()); err != nil {
			n.log.Error("persist evidence", "err", err)
		}
	}
	for _, id := range out.Fetch {
		n.sync.fetch(id)
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
}

func (n *Node) send(m consensus.Message) {
	var frame []byte
	switch {
	case m.Proposal != nil:
		frame = encodeProposal(m.Proposal)
		n.metrics.proposals.Inc()
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
