package consensus

import (
	"errors"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
)

// SubmitServiceEvent checks a governance-signed service event and queues it
// for inclusion in a block. Whether it takes effect is decided when the
// block is finalized (epoch.State.Apply); this only rejects events that
// could never be valid here. An event already in effect (epoch.ErrSettled)
// or already queued (epoch.ErrAlreadyQueued) is answered with that error
// and not broadcast again: anyone may re-post a finalized event, and each
// re-post must not cost every peer a message and a block a slot.
func (n *Node) SubmitServiceEvent(e *epoch.Event) error {
	if err := n.admitServiceEvent(e); err != nil {
		return err
	}
	n.run.SignalWork()
	// Forward to the committee: whoever leads next includes it.
	n.transport.Broadcast(encodeServiceEvent(e))
	return nil
}

// admitServiceEvent verifies e, refuses it if it can no longer change the
// epoch state, and queues it.
func (n *Node) admitServiceEvent(e *epoch.Event) error {
	if err := e.Verify(n.epochParams.Chain, n.epochParams.Authorities); err != nil {
		return err
	}
	dir := n.led.Directory()
	if err := epoch.CheckSettled(dir.Schedule(), dir.Pending(), e); err != nil {
		return err
	}
	return n.governance.Add(e)
}

// onPeerServiceEvent queues a service event a peer forwarded. It is not
// forwarded again: the submitting node sends it to everyone directly.
func (n *Node) onPeerServiceEvent(from model.NodeID, e *epoch.Event) {
	switch err := n.admitServiceEvent(e); {
	case err == nil:
		n.run.SignalWork()
	case errors.Is(err, epoch.ErrAlreadyQueued), errors.Is(err, epoch.ErrSettled):
	case errors.Is(err, epoch.ErrQueueFull):
		n.metrics.Dropped.WithLabelValues("governance_queue_full").Inc()
	case errors.Is(err, epoch.ErrRejected):
		n.metrics.Dropped.WithLabelValues("rejected_service_event").Inc()
	default:
		n.metrics.Dropped.WithLabelValues("invalid").Inc()
		n.log.Warn("rejected service event", "from", n.nameOf(from), "err", err)
	}
}
