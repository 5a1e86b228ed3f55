package consensus

import (
	"github.com/floe-bft/floe/chainrun"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/network"
)

// nameOf returns a member's name for logs (its short ID if unknown).
func (n *Node) nameOf(id model.NodeID) string { return n.led.Directory().NameOf(id) }

// isKnownMember reports whether id is a member of any known epoch: only
// they may send this node anything.
func (n *Node) isKnownMember(id model.NodeID) bool { return n.led.Directory().IsKnownMember(id) }

// mainChain is the main chain as its runner sees it: the ledger's
// directory (members and verifiers of the known epochs) and store.
type mainChain struct{ n *Node }

var _ chainrun.Host = mainChain{}

func (c mainChain) Verifier() *verify.Verifier { return c.n.led.Directory().Verifier() }
func (c mainChain) CommitteeAt(v model.View) (*committee.Committee, error) {
	return c.n.led.Directory().CommitteeAt(v)
}
func (c mainChain) IsMember(id model.NodeID) bool                   { return c.n.isKnownMember(id) }
func (c mainChain) NameOf(id model.NodeID) string                   { return c.n.nameOf(id) }
func (c mainChain) FinalizedHeight() uint64                         { return c.n.led.FinalizedHeight() }
func (c mainChain) Block(id model.Identifier) (*model.Block, error) { return c.n.led.Store().Block(id) }
func (c mainChain) FinalizedRange(from, to uint64, max int) ([]*model.Block, error) {
	return c.n.led.Store().FinalizedRange(from, to, max)
}

// Peers lists the other members of the known epochs in canonical order.
func (c mainChain) Peers() []model.NodeID {
	var out []model.NodeID
	for _, m := range c.n.led.Directory().Peers() {
		if m.ID() != c.n.self {
			out = append(out, m.ID())
		}
	}
	return out
}

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
