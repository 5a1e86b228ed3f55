package network

import (
	"container/list"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// Admission control for inbound connections: which accepted TCP connections
// may start a TLS handshake.
//
// A connection is "pending" from Accept until its handshake ends. Pending
// connections are unauthenticated, so they are bounded, and the bound must
// not let a client that merely opens idle connections keep committee
// members out. Three rules:
//
//   - The pool (Config.MaxPendingHandshakes) is never refused to a newcomer
//     while it holds a connection of the same or lower priority: the oldest
//     such pending handshake is evicted (its connection closed). An idle
//     connection therefore lives only until enough newer ones arrive, while
//     a real peer finishes its TLS 1.3 handshake in about one round trip.
//     To starve a peer an attacker must open more than
//     MaxPendingHandshakes / (the peer's handshake time) connections per
//     second, sustained: 128 / 5 ms ≈ 25,000 per second for a LAN peer (a
//     loopback handshake, both sides' crypto included, takes about 1.3 ms).
//     Refusing newcomers instead let about 13 idle connections per second
//     keep a reconnecting member out for as long as they kept coming.
//   - Each source address may hold at most Config.MaxPendingPerIP pending
//     handshakes; beyond that its connections are closed at once, evicting
//     nothing. One host alone then cannot fill the pool, and so cannot
//     evict anybody: it needs MaxPendingHandshakes / MaxPendingPerIP
//     addresses. IPv6 sources count per /64, the block one host
//     usually controls.
//   - Sources that are the host of a configured peer address ("known"
//     sources) are exempt from the per-address cap and have priority: a
//     newcomer evicts the oldest pending handshake from an unknown source
//     first, and evicts a known source's handshake only when no unknown one
//     is pending (and only if it is known itself). An attacker that does not
//     share a member's address cannot push that member's handshake out.
//
// Why known sources are exempt from the cap:
// several members may share one address (a localhost testnet, members
// behind one NAT), and after a restart they all redial at once. A cap
// would let anybody sharing that address — any process on the host, any
// client behind the NAT — hold the address's few slots and refuse the
// members; eviction still lets the newest connection in.
//
// Only IP literals and "localhost" in peer addresses are recognised, at
// NewTLS and AddPeer time: resolving names would put DNS (slow, and
// attacker-influenced) on the accept path or make the set stale. A peer
// listed by name, or whose outgoing connections come from another address
// than the one it listens on (multi-homed host, NAT), is treated as an
// unknown source and relies on eviction. Keys cannot help here: a client's
// key is learned only at the end of its handshake, when it leaves the pool
// anyway.

// admitVerdict is admission's answer for a new connection.
type admitVerdict int

const (
	// admitted: the connection holds a slot until released.
	admitted admitVerdict = iota
	// refusedPerSource: its source already holds MaxPendingPerIP slots.
	refusedPerSource
	// refusedFull: the pool is full of known sources' handshakes and the
	// newcomer's source is unknown.
	refusedFull
)

// pendingHandshake is one admitted connection's slot.
type pendingHandshake struct {
	conn   net.Conn
	source netip.Addr // sourceKey of the remote address; invalid if not IP
	known  bool
	// elem is the entry in admission.known or admission.other; nil once the
	// slot is released or evicted, which makes both happen at most once.
	elem *list.Element
}

// admission tracks pending inbound handshakes. It decides and accounts;
// the caller closes connections, counts and logs.
type admission struct {
	maxPending, maxPerSource int

	mu sync.Mutex
	// known and other hold pending handshakes by source class, oldest
	// first.
	known, other list.List
	perSource    map[netip.Addr]int
}

func newAdmission(maxPending, maxPerSource int) *admission {
	return &admission{maxPending: maxPending, maxPerSource: maxPerSource, perSource: make(map[netip.Addr]int)}
}

// admit decides on a new connection from source (see sourceKey). When it is
// admitted and the pool was full, victim is the evicted connection, already
// forgotten here: the caller must close it.
func (a *admission) admit(c net.Conn, source netip.Addr, known bool) (h *pendingHandshake, victim net.Conn, v admitVerdict) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !known && source.IsValid() && a.perSource[source] >= a.maxPerSource {
		return nil, nil, refusedPerSource
	}
	if a.known.Len()+a.other.Len() >= a.maxPending {
		oldest := a.other.Front()
		if oldest == nil {
			if !known {
				return nil, nil, refusedFull
			}
			oldest = a.known.Front()
		}
		old := oldest.Value.(*pendingHandshake)
		a.remove(old)
		victim = old.conn
	}
	h = &pendingHandshake{conn: c, source: source, known: known}
	if known {
		h.elem = a.known.PushBack(h)
	} else {
		h.elem = a.other.PushBack(h)
	}
	if source.IsValid() {
		a.perSource[source]++
	}
	return h, victim, admitted
}

// release frees h's slot when its handshake ends. It reports false if h was
// evicted meanwhile (its connection is closed, and the slot was already
// reused); releasing twice is harmless.
func (a *admission) release(h *pendingHandshake) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if h.elem == nil {
		return false
	}
	a.remove(h)
	return true
}

// remove forgets h; a.mu must be held and h pending.
func (a *admission) remove(h *pendingHandshake) {
	if h.known {
		a.known.Remove(h.elem)
	} else {
		a.other.Remove(h.elem)
	}
	h.elem = nil
	if h.source.IsValid() {
		if a.perSource[h.source]--; a.perSource[h.source] <= 0 {
			delete(a.perSource, h.source)
		}
	}
}

// pending is the number of handshakes in progress.
func (a *admission) pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.known.Len() + a.other.Len()
}

// sourceKey is the address a connection from addr counts against: the IP
// for IPv4 (also IPv4-mapped IPv6), the /64 prefix for IPv6. It is invalid
// for non-IP addresses, which are then neither capped nor known.
func sourceKey(addr net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
			ip = ap.Addr()
		}
	}
	return normalizeSource(ip)
}

func normalizeSource(ip netip.Addr) netip.Addr {
	if !ip.IsValid() {
		return ip
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	return ip
}

// peerSources lists the source keys of a peer address's host: the address
// itself for an IP literal, both loopback addresses for "localhost", and
// nothing for other names (no DNS; see above) or unspecified addresses.
func peerSources(address string) []netip.Addr {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil
	}
	if strings.EqualFold(host, "localhost") {
		return []netip.Addr{normalizeSource(netip.AddrFrom4([4]byte{127, 0, 0, 1})), normalizeSource(netip.IPv6Loopback())}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.IsUnspecified() {
		return nil
	}
	return []netip.Addr{normalizeSource(ip)}
}
