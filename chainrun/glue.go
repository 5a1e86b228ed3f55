package chainrun

import (
	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/replica"
)

// glue is the Runner as the engine's Transport and Observer. Every method
// runs on the consensus loop.
type glue Runner

var (
	_ replica.Transport = (*glue)(nil)
	_ replica.Observer  = (*glue)(nil)
)

// Send hands the messages the engine released (after persisting) to the
// wire.
func (g *glue) Send(msgs []core.Message) error {
	r := (*Runner)(g)
	for _, m := range msgs {
		r.send(m)
	}
	return nil
}

// Stepped passes every output to the role before it takes effect.
func (g *glue) Stepped(ev core.Event, out *core.Output, err error) {
	r := (*Runner)(g)
	if r.hooks.Stepped != nil {
		r.hooks.Stepped(ev, out, err)
	}
	if err != nil {
		r.log.Debug("event dropped by consensus", "event", eventName(ev), "err", err)
	}
}

// Applied lets the role take the output's blocks and finalized blocks
// first (its epochs may change who leads), then records evidence, fetches
// missing blocks and publishes the new view.
func (g *glue) Applied(ev core.Event, out *core.Output) {
	r := (*Runner)(g)
	if r.hooks.Applied != nil {
		r.hooks.Applied(ev, out)
	}
	for _, e := range out.Evidence {
		r.metrics.Evidence.WithLabelValues(e.Kind.String()).Inc()
		r.log.Warn("equivocation evidence", "kind", e.Kind.String(), "offender", r.host.NameOf(e.Offender), "view", e.View)
		if r.hooks.Evidence != nil {
			r.hooks.Evidence(e)
		}
	}
	for _, id := range out.Fetch {
		r.sync.fetch(id)
	}
	c := r.engine.Core()
	if nv := c.CurrentView(); nv != r.lastView || r.leader.Load() == nil {
		r.storeLeader(nv)
		r.log.Debug("view change", "from", r.lastView, "to", nv, "event", eventName(ev), "finalized", c.Finalized().Height)
		r.lastView = nv
		r.view.Store(uint64(nv))
		r.metrics.View.Set(float64(nv))
		if out.Liveness != nil && out.Liveness.LastViewTC != nil && out.Liveness.LastViewTC.View+1 == nv {
			r.metrics.TCs.Inc()
		} else {
			r.metrics.QCs.Inc()
		}
		r.votes.Prune(nv)
	}
}

// Parked logs a proposal that waits for its payload to become checkable,
// or counts one dropped.
func (g *glue) Parked(b *model.Block, dropped bool) {
	r := (*Runner)(g)
	if dropped {
		r.metrics.Dropped.WithLabelValues("parked_full").Inc()
		return
	}
	r.log.Debug("proposal parked until its payload can be checked", "view", b.View, "finalized", r.host.FinalizedHeight())
}
