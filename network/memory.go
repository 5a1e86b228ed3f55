package network

import (
	"sync"

	"github.com/floe-bft/floe/consensus/model"
)

// DropFunc decides, per frame, whether the in-memory link from one node to
// another loses it; tests use it to partition the network or make links
// lossy. It must be safe for concurrent use.
type DropFunc func(from, to model.NodeID, data []byte) bool

// MemoryNetwork is an in-process hub connecting MemoryTransports, for tests.
// Every transport obtained from a hub is a peer of every other.
type MemoryNetwork struct {
	mu       sync.RWMutex
	nodes    map[model.NodeID]*MemoryTransport
	order    []model.NodeID // registration order: deterministic Broadcast and Peers
	drop     DropFunc
	queueLen int
}

// NewMemoryNetwork returns an empty hub. Each transport's inbound queue holds
// DefaultReceiveQueueLen frames unless changed with SetQueueLen.
func NewMemoryNetwork() *MemoryNetwork {
	return &MemoryNetwork{
		nodes:    make(map[model.NodeID]*MemoryTransport),
		queueLen: DefaultReceiveQueueLen,
	}
}

// SetDropFunc installs fn for every link (nil delivers everything). It
// applies to frames sent afterwards.
func (h *MemoryNetwork) SetDropFunc(fn DropFunc) {
	h.mu.Lock()
	h.drop = fn
	h.mu.Unlock()
}

// SetQueueLen sets the inbound queue bound of transports created afterwards.
func (h *MemoryNetwork) SetQueueLen(n int) {
	if n <= 0 {
		n = DefaultReceiveQueueLen
	}
	h.mu.Lock()
	h.queueLen = n
	h.mu.Unlock()
}

// Transport returns the open transport of id, creating it if there is none
// or the previous one was closed (a restarted node).
func (h *MemoryNetwork) Transport(id model.NodeID) *MemoryTransport {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.nodes[id]; ok {
		t.mu.RLock()
		closed := t.closed
		t.mu.RUnlock()
		if !closed {
			return t
		}
	} else {
		h.order = append(h.order, id)
	}
	t := &MemoryTransport{
		hub:     h,
		id:      id,
		recv:    make(chan Inbound, h.queueLen),
		dropped: make(map[model.NodeID]uint64),
	}
	h.nodes[id] = t
	return t
}

// MemoryTransport is a Transport delivering directly into the destination's
// bounded inbound queue. Like TLS, Send never blocks: a full queue drops the
// frame, counts it and returns false. Frames are copied, as if they crossed a
// wire, so a sender reusing its buffer cannot corrupt a receiver's frame.
// Delivery from one sender to one receiver is FIFO.
type MemoryTransport struct {
	hub   *MemoryNetwork
	id    model.NodeID
	stats counters

	mu     sync.RWMutex // guards closed against sends into a closed recv
	closed bool
	recv   chan Inbound

	dropMu  sync.Mutex
	dropped map[model.NodeID]uint64
}

var _ Transport = (*MemoryTransport)(nil)

// Send delivers a copy of data to to's inbound queue. A frame lost by the
// DropFunc, or sent to a closed peer, still returns true: like a real
// network, the sender cannot tell.
func (t *MemoryTransport) Send(to model.NodeID, data []byte) bool {
	t.mu.RLock()
	closed := t.closed
	t.mu.RUnlock()
	if closed {
		return false
	}
	h := t.hub
	h.mu.RLock()
	dst := h.nodes[to]
	drop := h.drop
	h.mu.RUnlock()
	if dst == nil {
		return false
	}
	if len(data) > DefaultMaxFrameSize {
		t.stats.droppedTooLarge.Add(1)
		return false
	}
	if to != t.id && drop != nil && drop(t.id, to, data) {
		return true
	}
	in := Inbound{From: t.id, Data: append([]byte(nil), data...)}
	dst.mu.RLock()
	defer dst.mu.RUnlock()
	if dst.closed {
		return true
	}
	select {
	case dst.recv <- in:
		if to != t.id {
			n := uint64(frameHeaderLen + len(data))
			t.stats.framesSent.Add(1)
			t.stats.bytesSent.Add(n)
			dst.stats.framesReceived.Add(1)
			dst.stats.bytesReceived.Add(n)
		}
		return true
	default:
		t.stats.droppedQueueFull.Add(1)
		if to != t.id {
			t.dropMu.Lock()
			t.dropped[to]++
			t.dropMu.Unlock()
		}
		return false
	}
}

// AddPeer is a no-op: every transport of a hub reaches every other.
func (t *MemoryTransport) AddPeer(Peer) error { return nil }

// Broadcast sends data to every other transport of the hub.
func (t *MemoryTransport) Broadcast(data []byte) {
	for _, id := range t.hub.ids() {
		if id != t.id {
			t.Send(id, data)
		}
	}
}

func (h *MemoryNetwork) ids() []model.NodeID {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]model.NodeID(nil), h.order...)
}

// Receive delivers inbound frames; it is closed by Close.
func (t *MemoryTransport) Receive() <-chan Inbound { return t.recv }

// Peers lists every other transport of the hub; Connected means it is open.
func (t *MemoryTransport) Peers() []PeerStatus {
	var out []PeerStatus
	for _, id := range t.hub.ids() {
		if id == t.id {
			continue
		}
		t.hub.mu.RLock()
		dst := t.hub.nodes[id]
		t.hub.mu.RUnlock()
		dst.mu.RLock()
		up := !dst.closed
		dst.mu.RUnlock()
		t.dropMu.Lock()
		d := t.dropped[id]
		t.dropMu.Unlock()
		out = append(out, PeerStatus{ID: id, Address: "memory", Connected: up, Dropped: d})
	}
	return out
}

// Stats returns a snapshot of the counters (only the frame, byte and drop
// counters apply in memory).
func (t *MemoryTransport) Stats() Stats { return t.stats.snapshot() }

// Close closes Receive (frames already queued can still be drained). Sends to this
// node are lost from then on, until the hub hands out a new transport for
// its ID.
func (t *MemoryTransport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		close(t.recv)
	}
	return nil
}
