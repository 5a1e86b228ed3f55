package node

import (
	"errors"
	"fmt"
	"sync"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/network"
	"github.com/floe-bft/floe/storage"
)

// directory is an immutable snapshot of who is who: the epoch schedule,
// the verifier built on it, and every identity of every known epoch (the
// peers to connect to and their names). The consensus loop replaces it
// whole when the schedule changes; other goroutines read it lock-free.
type directory struct {
	schedule *epoch.Schedule
	verifier *verify.Verifier
	names    map[model.NodeID]string
	peers    []epoch.Identity // every identity of every known epoch, self included, first appearance order
	pending  *epoch.Spec      // a finalized setup awaiting its commit (immutable copy)
}

func newDirectory(s *epoch.Schedule, v *verify.Verifier, pending *epoch.Spec) *directory {
	d := &directory{schedule: s, verifier: v, names: make(map[model.NodeID]string), pending: pending}
	for _, e := range s.Epochs() {
		for _, m := range e.Identities {
			if _, ok := d.names[m.ID()]; ok {
				continue
			}
			d.names[m.ID()] = m.Name
			d.peers = append(d.peers, m)
		}
	}
	return d
}

// nameOf returns a member's name for logs (its short ID if unknown).
func (n *Node) nameOf(id model.NodeID) string {
	if name, ok := n.dir.Load().names[id]; ok {
		return name
	}
	return id.String()
}

// verifier returns the verifier for the current schedule.
func (n *Node) verifier() *verify.Verifier { return n.dir.Load().verifier }

// committeeAt returns the committee of view v under the current schedule.
func (n *Node) committeeAt(v model.View) (*committee.Committee, error) {
	return n.dir.Load().schedule.CommitteeAt(v)
}

// isKnownMember reports whether id is a member of any known epoch: only
// they may ask this node for blocks or report heights.
func (n *Node) isKnownMember(id model.NodeID) bool {
	_, ok := n.dir.Load().names[id]
	return ok
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

// applyEpochs runs the epoch state machine over newly finalized blocks
// (before they are committed, so the new state is written in the same
// batch). It returns the encoded state if it changed, and whether the
// schedule (hence committees) changed. An error is fatal.
func (n *Node) applyEpochs(final []*model.Block) (encoded []byte, scheduleChanged bool, err error) {
	changed := false
	for _, b := range final {
		pl, err := n.decoded(b)
		if err != nil {
			// Payloads were validated before voting: a finalized block
			// with a bad one means a byzantine supermajority.
			return nil, false, fmt.Errorf("finalized block %d has an invalid payload: %w", b.Height, err)
		}
		events := pl.ServiceEvents
		out, err := n.epochs.Apply(b.View, events)
		n.metrics.epoch.Set(float64(n.epochs.Schedule().Last().Counter))
		if err != nil {
			return nil, false, fmt.Errorf("epoch state at height %d: %w", b.Height, err)
		}
		for _, e := range out.Accepted {
			n.log.Info("service event accepted", "kind", e.Kind.String(), "height", b.Height)
			n.governance.remove(e.ID())
		}
		for _, r := range out.Rejected {
			n.log.Warn("service event rejected", "kind", r.Event.Kind.String(), "height", b.Height, "err", r.Err)
			n.governance.remove(r.Event.ID())
		}
		if out.Extended {
			last := n.epochs.Schedule().Last()
			n.log.Warn("epoch fallback: next epoch not committed in time, current epoch extended",
				"epoch", last.Counter, "final_view", last.FinalView)
			n.metrics.epochExtensions.Inc()
		}
		if out.Committed != nil {
			n.log.Info("epoch committed", "epoch", out.Committed.Counter, "first_view", out.Committed.FirstView,
				"final_view", out.Committed.FinalView, "members", len(out.Committed.Identities))
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
	return n.epochs.Encode(), scheduleChanged, nil
}

// publishEpochs publishes a changed epoch state: a new directory for the
// verification workers and readers, and new peers for the transport. The
// caller steps the core with the new schedule.
func (n *Node) publishEpochs() {
	sch := n.epochs.Schedule()
	d := newDirectory(sch, n.newVerifier(sch), clonePending(n.epochs.Pending()))
	n.dir.Store(d)
	for _, m := range d.peers {
		if m.ID() == n.self {
			continue
		}
		if err := n.transport.AddPeer(network.Peer{ID: m.ID(), NetworkKey: m.NetworkKey, Address: m.Address}); err != nil {
			n.log.Warn("cannot add peer of a new epoch", "peer", m.Name, "err", err)
		}
	}
	last := sch.Last()
	n.metrics.epoch.Set(float64(last.Counter))
}

// scheduleEvent is the core event for the current schedule.
func (n *Node) scheduleEvent() consensus.ScheduleEvent {
	return consensus.ScheduleEvent{Schedule: n.epochs.Schedule()}
}

// governanceQueue holds service events submitted to this node until a
// finalized block carries them. Small and bounded: governance is rare.
type governanceQueue struct {
	mu     sync.Mutex
	events []*epoch.Event
	// inFlight: the view of the newest block in the tree carrying the event;
	// leaders skip such events unless that block is long abandoned.
	inFlight map[model.Identifier]model.View
}

// inFlightViews is after how many views an event whose block was not
// finalized is proposed again.
const inFlightViews = 20

const maxGovernanceQueue = 16

// ErrGovernanceQueueFull: too many service events waiting for a block.
var ErrGovernanceQueueFull = errors.New("governance queue full")

func (q *governanceQueue) add(e *epoch.Event) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	id := e.ID()
	for _, x := range q.events {
		if x.ID() == id {
			return nil
		}
	}
	if len(q.events) >= maxGovernanceQueue {
		return ErrGovernanceQueueFull
	}
	q.events = append(q.events, e)
	return nil
}

// pending reports whether service events wait for a block.
func (q *governanceQueue) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events) > 0
}

func (q *governanceQueue) remove(id model.Identifier) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, id)
	for i, x := range q.events {
		if x.ID() == id {
			q.events = append(q.events[:i], q.events[i+1:]...)
			return
		}
	}
}

// markInFlight records events carried by a block of the tree.
func (q *governanceQueue) markInFlight(events []*epoch.Event, view model.View) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inFlight == nil {
		q.inFlight = make(map[model.Identifier]model.View)
	}
	for _, e := range events {
		id := e.ID()
		if len(q.inFlight) < 4*maxGovernanceQueue || q.inFlight[id] != 0 {
			q.inFlight[id] = max(q.inFlight[id], view)
		}
	}
}

// ready returns up to max queued events that no recent block carries,
// oldest first, for a block proposed in view.
func (q *governanceQueue) ready(view model.View, max int) []*epoch.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*epoch.Event
	for _, e := range q.events {
		if len(out) == max {
			break
		}
		if v, ok := q.inFlight[e.ID()]; ok && v+inFlightViews > view {
			continue
		}
		out = append(out, e)
	}
	return out
}

// SubmitServiceEvent checks a governance-signed service event and queues it
// for inclusion in a block. Whether it takes effect is decided when the
// block is finalized (epoch.State.Apply); this only rejects events that
// could never be valid here.
func (n *Node) SubmitServiceEvent(e *epoch.Event) error {
	if err := e.Verify(n.epochParams.Chain, n.epochParams.Authorities); err != nil {
		return err
	}
	if err := n.governance.add(e); err != nil {
		return err
	}
	n.signalWork()
	// Forward to the committee: whoever leads next includes it.
	n.transport.Broadcast(encodeServiceEvent(e))
	return nil
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
