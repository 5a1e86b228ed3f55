// Package network carries messages between committee members:
// authenticated, encrypted connections keyed by the network keys in the
// genesis file, length-prefixed frames with a maximum size, bounded per-peer
// send queues, and reconnection with backoff.
package network

import "github.com/floe-bft/floe/consensus/model"

// Inbound is one frame received from an authenticated peer.
type Inbound struct {
	From model.NodeID
	Data []byte
}

// PeerStatus describes one peer for the status API and metrics.
type PeerStatus struct {
	ID        model.NodeID
	Address   string
	Connected bool
	Dropped   uint64 // frames dropped because its send queue was full
}

// Transport sends and receives opaque frames. Sends never block: when a
// peer's queue is full the frame is dropped and counted.
type Transport interface {
	// Send queues data for one peer. It returns false if the frame was
	// dropped (unknown peer, queue full, frame too large).
	Send(to model.NodeID, data []byte) bool
	// Broadcast queues data for every peer.
	Broadcast(data []byte)
	// Receive delivers inbound frames. The channel is closed by Close.
	Receive() <-chan Inbound
	// Peers reports connection state.
	Peers() []PeerStatus
	// AddPeer admits a new peer at run time (a member of a new epoch).
	AddPeer(p Peer) error
	// Close stops all connections and goroutines.
	Close() error
}
