package chainrun

import (
	"log/slog"
	"time"

	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
)

// consensusLoop is the only goroutine that touches the replica engine (and
// through it the core). It feeds one event at a time; the engine persists
// each output (synced) and only then sends what it signed (see package
// replica).
func (r *Runner) consensusLoop(fail func(error)) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	if !r.ran(r.engine.Start(r.now()), timer, fail) {
		return
	}
	for {
		var err error
		select {
		case <-r.ctx.Done():
			return
		case ev := <-r.events:
			r.metrics.LoopQueue.Set(float64(len(r.events)))
			err = r.engine.Step(r.now(), ev.ev)
		case <-r.retrySignal:
			err = r.engine.Retry(r.now())
		case <-r.workSignal:
			err = r.engine.Step(r.now(), core.WorkEvent{})
		case <-timer.C:
			err = r.engine.Step(r.now(), core.TimerEvent{})
		}
		if !r.ran(err, timer, fail) {
			return
		}
	}
}

// ran stops the node on a fatal error from the engine, or re-arms the one
// timer for the engine's next timer.
func (r *Runner) ran(err error, timer *time.Timer, fail func(error)) bool {
	if err != nil {
		fail(err)
		return false
	}
	next := r.engine.NextTimer()
	if next.IsZero() {
		return true
	}
	d := next.Sub(r.now())
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
func (r *Runner) storeLeader(v model.View) {
	c := r.engine.Core()
	parent := c.Block(c.NewestQC().BlockID)
	id, err := c.Leader(v, parent)
	if err != nil {
		r.leader.Store(nil)
		return
	}
	if r.log.Enabled(r.ctx, slog.LevelDebug) {
		r.log.Debug("leader", "view", v, "leader", r.host.NameOf(id), "parent_view", parent.View)
	}
	r.leader.Store(&id)
}
