package ledger

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/storage"
)

// Directory is an immutable snapshot of who is who: the epoch schedule,
// the verifier built on it, every identity of every known epoch (for
// names) and the consensus members among them (the peers to connect to).
// Whoever finalizes replaces it whole when the epoch state changes; other
// goroutines read it lock-free.
type Directory struct {
	schedule *epoch.Schedule
	verifier *verify.Verifier
	names    map[model.NodeID]string
	// consensus holds who was a consensus member of some known epoch.
	consensus map[model.NodeID]bool
	peers     []epoch.Identity // consensus members of every known epoch, first appearance order
	pending   *epoch.Spec      // a finalized setup awaiting its commit (immutable copy)
}

func newDirectory(s *epoch.Schedule, v *verify.Verifier, pending *epoch.Spec) *Directory {
	d := &Directory{schedule: s, verifier: v, names: make(map[model.NodeID]string), consensus: make(map[model.NodeID]bool), pending: pending}
	for _, e := range s.Epochs() {
		for _, m := range e.Identities {
			if _, ok := d.names[m.ID()]; !ok {
				d.names[m.ID()] = m.Name
			}
			// A collector of one epoch may be a consensus member of
			// another: it is a peer of the main chain from the epoch
			// that makes it one.
			if m.Role != epoch.RoleConsensus || d.consensus[m.ID()] {
				continue
			}
			d.consensus[m.ID()] = true
			d.peers = append(d.peers, m)
		}
	}
	return d
}

// Schedule is the epoch schedule.
func (d *Directory) Schedule() *epoch.Schedule { return d.schedule }

// Verifier checks messages of this chain against the schedule.
func (d *Directory) Verifier() *verify.Verifier { return d.verifier }

// Peers is every consensus member of every known epoch, in order of first
// appearance as one: the main chain's replicas connect to them and
// broadcast to them. Members of other roles are not main-chain peers.
func (d *Directory) Peers() []epoch.Identity { return d.peers }

// Pending is a finalized epoch setup awaiting its commit, or nil.
func (d *Directory) Pending() *epoch.Spec { return d.pending }

// NameOf returns a member's name for logs (its short ID if unknown).
func (d *Directory) NameOf(id model.NodeID) string {
	if name, ok := d.names[id]; ok {
		return name
	}
	return id.String()
}

// IsKnownMember reports whether id is a consensus member of any known
// epoch: the main chain takes messages from them only, so a collector's
// key (however heavy its weight) cannot feed the main chain's replicas.
func (d *Directory) IsKnownMember(id model.NodeID) bool { return d.consensus[id] }

// CommitteeAt returns the committee of view v.
func (d *Directory) CommitteeAt(v model.View) (*committee.Committee, error) {
	return d.schedule.CommitteeAt(v)
}

// Directory is the current snapshot of the epoch state.
func (l *Ledger) Directory() *Directory { return l.dir.Load() }

// NewVerifier checks messages of this chain against a schedule. With
// leader reputation the proposer check needs the proposal's parent, so the
// core makes it.
func (l *Ledger) NewVerifier(sch *epoch.Schedule) *verify.Verifier {
	v := verify.New(l.epochParams.ChainID, sch, l.scheme, l.rootQC)
	if l.cfg.Genesis.Params.Reputation().Enabled() {
		v = v.LeadersFromAncestry()
	}
	return v
}

// loadEpochs restores the epoch state committed with the finalized chain,
// or starts from genesis.
func loadEpochs(store Store, p epoch.Params, genesis *epoch.State) (*epoch.State, error) {
	b, err := store.EpochState()
	if errors.Is(err, storage.ErrNotFound) {
		return genesis, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := epoch.Decode(p, b)
	if err != nil {
		return nil, fmt.Errorf("%w: epoch state: %v", storage.ErrCorrupt, err)
	}
	return st, nil
}

// ApplyEpochs runs the epoch state machine over newly finalized blocks
// (before they are committed, so the new state is written in the same
// batch). It returns the encoded state if it changed, and whether the
// schedule (hence committees) changed. An error is fatal. Only the owner
// of finalization calls it; PublishEpochs follows once the batch is
// durable.
func (l *Ledger) ApplyEpochs(final []*model.Block) (encoded []byte, scheduleChanged bool, err error) {
	changed := false
	for _, b := range final {
		pl, err := l.Decoded(b)
		if err != nil {
			// Payloads were validated before voting: a finalized block
			// with a bad one means a byzantine supermajority.
			return nil, false, fmt.Errorf("finalized block %d has an invalid payload: %w", b.Height, err)
		}
		events := pl.ServiceEvents
		out, err := l.epochs.Apply(b.View, events)
		l.metrics.epoch.Set(float64(l.epochs.Schedule().Last().Counter))
		if err != nil {
			return nil, false, fmt.Errorf("epoch state at height %d: %w", b.Height, err)
		}
		for _, e := range out.Accepted {
			l.log.Info("service event accepted", "kind", e.Kind.String(), "height", b.Height)
			l.settled(e.ID())
		}
		for _, r := range out.Rejected {
			l.log.Warn("service event rejected", "kind", r.Event.Kind.String(), "height", b.Height, "err", r.Err)
			l.settled(r.Event.ID())
		}
		if out.Extended {
			last := l.epochs.Schedule().Last()
			l.log.Warn("epoch fallback: next epoch not committed in time, current epoch extended",
				"epoch", last.Counter, "final_view", last.FinalView)
			l.metrics.epochExtensions.Inc()
		}
		if out.Committed != nil {
			l.log.Info("epoch committed", "epoch", out.Committed.Counter, "first_view", out.Committed.FirstView,
				"final_view", out.Committed.FinalView, "members", len(out.Committed.Identities),
				"committee", out.Committed.Committee().Size(), "clusters", len(out.Committed.Clusters))
		}
		if out.Changed() {
			scheduleChanged = true
		}
		if out.Changed() || len(out.Accepted) > 0 {
			changed = true
		}
	}
	if !changed {
		return nil, false, nil
	}
	return l.epochs.Encode(), scheduleChanged, nil
}

// PublishEpochs publishes the epoch state ApplyEpochs changed, once it is
// durable: a new directory for verifiers and readers. It returns it (the
// role connects to new peers).
func (l *Ledger) PublishEpochs() *Directory {
	l.publishDirectory()
	return l.dir.Load()
}

func (l *Ledger) publishDirectory() {
	sch := l.epochs.Schedule()
	l.dir.Store(newDirectory(sch, l.NewVerifier(sch), clonePending(l.epochs.Pending())))
	l.metrics.epoch.Set(float64(sch.Last().Counter))
}

// ScheduleEvent is the core event for the current schedule (owner of
// finalization only).
func (l *Ledger) ScheduleEvent() consensus.ScheduleEvent {
	return consensus.ScheduleEvent{Schedule: l.epochs.Schedule()}
}

// Schedule is the current epoch schedule (owner of finalization only;
// others read Directory).
func (l *Ledger) Schedule() *epoch.Schedule { return l.epochs.Schedule() }

func (l *Ledger) settled(id model.Identifier) {
	if l.cfg.Hooks.Settled != nil {
		l.cfg.Hooks.Settled(id)
	}
}

func clonePending(p *epoch.Spec) *epoch.Spec {
	if p == nil {
		return nil
	}
	c, err := epoch.DecodeSpec(p.Encode())
	if err != nil {
		return nil
	}
	return &c
}
