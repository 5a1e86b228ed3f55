package consensus

import (
	"github.com/floe-bft/floe/epoch"
)

// SubmitServiceEvent checks a governance-signed service event and queues it
// for inclusion in a block. Whether it takes effect is decided when the
// block is finalized (epoch.State.Apply); this only rejects events that
// could never be valid here.
func (n *Node) SubmitServiceEvent(e *epoch.Event) error {
	if err := e.Verify(n.epochParams.Chain, n.epochParams.Authorities); err != nil {
		return err
	}
	if err := n.governance.Add(e); err != nil {
		return err
	}
	n.signalWork()
	// Forward to the committee: whoever leads next includes it.
	n.transport.Broadcast(encodeServiceEvent(e))
	return nil
}
