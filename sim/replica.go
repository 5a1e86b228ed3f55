package sim

import (
	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/replica"
)

// simReplica plugs one simulated instance into the replica engine, the
// same engine a node runs: the simulator's store, its network (with the
// crash between persisting and sending, and the adversary's rewriting), and
// its monitors and invariants as the observer. A new one is made for each
// life of the instance.
type simReplica struct {
	replica.NopObserver
	s  *sim
	in *instance
}

func (r *simReplica) honest() bool { return !r.s.ids[r.in.member].byzantine() }

// Stepped lets the monitors see everything the replica signed, sent or
// not, and every persisted change, before the output takes effect.
func (r *simReplica) Stepped(ev consensus.Event, out *consensus.Output, err error) {
	s, in := r.s, r.in
	if !r.honest() {
		return
	}
	if s.mon != nil {
		s.mon.output(in, ev, out, err)
	}
	if out.Liveness != nil && out.Liveness.NewestQC != nil {
		s.certifiedViews[out.Liveness.NewestQC.View] = true
	}
	for _, b := range out.Blocks {
		s.certifiedViews[b.QC.View] = true
	}
	for _, m := range out.Messages {
		s.inv.signed(in, m) // every signature counts, sent or not
	}
}

// Persist stores the output in the instance's memory store; what it
// finalized counts for the agreement invariant from here on, whatever
// happens to the messages.
func (r *simReplica) Persist(out *consensus.Output) (consensus.Event, error) {
	s, in := r.s, r.in
	in.store.persist(out)
	for _, b := range out.Finalized {
		s.inv.finalized(in, b)
		in.lastFinal = b
		switch {
		case s.col != nil:
			s.finalizedCollection(in, b)
		case s.load != nil:
			s.finalizedTxs(in, b)
		}
	}
	if len(out.Finalized) > 0 {
		s.trace.add(s.now, "n%d finalized up to h%d v%d %v", in.idx, in.lastFinal.Height, in.lastFinal.View, in.lastFinal.ID())
	}
	return nil, nil
}

// Send puts the messages on the simulated network. With crashes on, the
// replica sometimes crashes part-way: everything persisted survives, the
// rest of the messages are lost, and safety must hold anyway.
func (r *simReplica) Send(msgs []consensus.Message) error {
	s, in := r.s, r.in
	crashMidway := s.faulty && s.cfg.Crashes && s.rng.Float64() < 0.01
	if crashMidway {
		msgs = msgs[:s.rng.IntN(len(msgs))]
	}
	if in.adv != nil {
		msgs = in.adv.rewrite(msgs)
	}
	for _, m := range msgs {
		s.send(in, m)
	}
	if crashMidway {
		s.crash(in)
		return replica.ErrStopped
	}
	return nil
}

// Applied counts evidence, starts block fetches and schedules the timer.
func (r *simReplica) Applied(_ consensus.Event, out *consensus.Output) {
	s, in := r.s, r.in
	for _, ev := range out.Evidence {
		s.res.Evidence++
		s.trace.add(s.now, "n%d evidence: %v", in.idx, ev)
	}
	for _, id := range out.Fetch {
		s.requestBlock(in, id)
	}
	if in.col != nil {
		in.col.applied(out)
	}
	if !out.NextTimer.IsZero() {
		in.timerGen++
		at := out.NextTimer.Sub(epoch)
		if at < s.now {
			at = s.now
		}
		s.sched.push(&event{at: at, kind: evTimer, inst: in.idx, gen: in.gen, n: int(in.timerGen)})
	}
	if in.adv != nil {
		in.adv.attack()
	}
}

// Ready: under load, a proposal committing to a height this instance has
// not executed yet waits; in a cluster run, one referencing a main block
// this instance has not seen final yet.
func (r *simReplica) Ready(b *model.Block) bool {
	if r.in.col != nil {
		return r.in.col.chain.Ready(b)
	}
	return resultHeight(b, r.s.cfg.MaxBlockTxs) <= r.in.store.executed
}

// resultHeight is the height a block's result names, 0 without one.
func resultHeight(b *model.Block, maxTxs int) uint64 {
	if res := resultOf(b, maxTxs); res != nil {
		return res.Height
	}
	return 0
}

// Parked traces proposals that wait for execution.
func (r *simReplica) Parked(b *model.Block, dropped bool) {
	r.s.res.Parked++
	if r.in.col != nil {
		r.s.trace.add(r.s.now, "n%d parks the proposal for view %d until its main reference is final here (dropped %v)", r.in.idx, b.View, dropped)
		return
	}
	r.s.trace.add(r.s.now, "n%d parks the proposal for view %d until h%d is executed (executed h%d, dropped %v)",
		r.in.idx, b.View, resultHeight(b, r.s.cfg.MaxBlockTxs), r.in.store.executed, dropped)
}
