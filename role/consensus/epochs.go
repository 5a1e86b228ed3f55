package consensus

import (
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/network"
)

// nameOf returns a member's name for logs (its short ID if unknown).
func (n *Node) nameOf(id model.NodeID) string { return n.led.Directory().NameOf(id) }

// verifier returns the verifier for the current schedule.
func (n *Node) verifier() *verify.Verifier { return n.led.Directory().Verifier() }

// committeeAt returns the committee of view v under the current schedule.
func (n *Node) committeeAt(v model.View) (*committee.Committee, error) {
	return n.led.Directory().CommitteeAt(v)
}

// isKnownMember reports whether id is a member of any known epoch: only
// they may send this node anything.
func (n *Node) isKnownMember(id model.NodeID) bool { return n.led.Directory().IsKnownMember(id) }

// publishEpochs publishes the epoch state the last commit changed (a new
// directory for the verification workers and readers) and connects to the
// peers of new epochs. The caller steps the core with the new schedule.
func (n *Node) publishEpochs() {
	d := n.led.PublishEpochs()
	for _, m := range d.Peers() {
		if m.ID() == n.self {
			continue
		}
		if err := n.transport.AddPeer(network.Peer{ID: m.ID(), NetworkKey: m.NetworkKey, Address: m.Address}); err != nil {
			n.log.Warn("cannot add peer of a new epoch", "peer", m.Name, "err", err)
		}
	}
}
