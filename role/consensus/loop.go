package consensus

import (
	"log/slog"
	"time"

	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
)

// consensusLoop is the only goroutine that touches the replica engine (and
// through it the core). It feeds one event at a time; the engine persists
// each output (synced) and only then sends what it signed (see
// package replica and replica.go).
func (n *Node) consensusLoop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	if !n.ran(n.engine.Start(n.now()), timer) {
		return
	}
	for {
		var err error
		select {
		case <-n.ctx.Done():
			return
		case ev := <-n.events:
			n.metrics.loopQueue.Set(float64(len(n.events)))
			err = n.engine.Step(n.now(), ev.ev)
		case <-n.executedSignal:
			err = n.engine.Retry(n.now())
		case <-n.workSignal:
			err = n.engine.Step(n.now(), core.WorkEvent{})
		case <-timer.C:
			err = n.engine.Step(n.now(), core.TimerEvent{})
		}
		if !n.ran(err, timer) {
			return
		}
	}
}

// ran stops the node on a fatal error from the engine, or re-arms the one
// timer for the engine's next timer.
func (n *Node) ran(err error, timer *time.Timer) bool {
	if err != nil {
		n.fatal(err)
		return false
	}
	next := n.engine.NextTimer()
	if next.IsZero() {
		return true
	}
	d := next.Sub(n.now())
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
	return true
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

// runLedger runs the ledger's executor until the node stops; its error
// stops the node.
func (n *Node) runLedger() {
	if err := n.led.Run(n.ctx); err != nil {
		n.fatal(err)
	}
}

func eventName(ev core.Event) string {
	switch e := ev.(type) {
	case core.ProposalEvent:
		return "proposal v" + viewString(e.Proposal.Block.View)
	case core.VoteEvent:
		return "vote v" + viewString(e.Vote.View)
	case core.TimeoutEvent:
		return "timeout v" + viewString(e.Timeout.View)
	case core.CertificateEvent:
		return "sync info"
	case core.BlocksEvent:
		return "synced blocks"
	case core.TimerEvent:
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
	core := n.engine.Core()
	parent := core.Block(core.NewestQC().BlockID)
	id, err := core.Leader(v, parent)
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
