package collector

import (
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/network"
)

// A collector carries the frames of every cluster chain it runs (at an
// epoch change, two) over one authenticated transport among cluster
// members. Each frame is tagged with its chain: the 32-byte chain ID, then
// the chain's own frame (chainrun's kinds, or a share). The receiver hands
// a frame only to the cluster of that chain, and only from one of its
// members.
const chainTagLen = len(model.ChainID{})

// chainSender is one cluster chain's view of the shared transport: what
// it sends is tagged with its chain and goes to its members only.
type chainSender struct {
	t       network.Transport
	chain   model.ChainID
	members map[model.NodeID]bool // the cluster, without this node
}

func (s chainSender) tag(frame []byte) []byte {
	out := make([]byte, 0, chainTagLen+len(frame))
	out = append(out, s.chain[:]...)
	return append(out, frame...)
}

func (s chainSender) Send(to model.NodeID, frame []byte) bool {
	if !s.members[to] {
		return false
	}
	return s.t.Send(to, s.tag(frame))
}

func (s chainSender) Broadcast(frame []byte) {
	tagged := s.tag(frame)
	for id := range s.members {
		s.t.Send(id, tagged)
	}
}

func (s chainSender) Peers() []network.PeerStatus {
	var out []network.PeerStatus
	for _, p := range s.t.Peers() {
		if s.members[p.ID] {
			out = append(out, p)
		}
	}
	return out
}

// untag splits an inbound frame into its chain and the chain's frame.
func untag(frame []byte) (model.ChainID, []byte, bool) {
	if len(frame) <= chainTagLen {
		return model.ZeroID, nil, false
	}
	var chain model.ChainID
	copy(chain[:], frame[:chainTagLen])
	return chain, frame[chainTagLen:], true
}
