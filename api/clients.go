package api

import (
	"container/list"
	"net"
	"net/http"
	"sync"
)

// clientIP is the address a request's limits are charged to: the TCP
// peer's IP. X-Forwarded-For is not trusted: any client can set it, so
// honouring it would let one client spread itself over unlimited
// identities (and spend another's budget). Behind a reverse proxy, the
// proxy is one client; limit per end user there.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return clientKey(r.RemoteAddr)
	}
	return clientKey(host)
}

// clientKey is the client an IP address belongs to: the address itself for
// IPv4, its /64 for IPv6. One IPv6 host is routinely given a whole /64 and
// can pick any address in it, so counting addresses would hand it 2^64
// budgets (the P2P listener keys pending handshakes the same way).
func clientKey(host string) string {
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// clientTable is per-client state with a bound: beyond max clients the
// least recently seen one is forgotten. Forgetting a client gives it a
// fresh budget, which an attacker with more than max addresses could use;
// the global limits (connections, expensive-read slots) bound that case.
type clientTable[T any] struct {
	mu    sync.Mutex
	max   int
	fresh func() T
	order *list.List // of *clientEntry[T], most recent at the front
	byKey map[string]*list.Element
}

type clientEntry[T any] struct {
	key string
	val T
}

func newClientTable[T any](max int, fresh func() T) *clientTable[T] {
	return &clientTable[T]{max: max, fresh: fresh, order: list.New(), byKey: make(map[string]*list.Element)}
}

// get returns key's state, creating it (and evicting the least recently
// seen client if the table is full).
func (t *clientTable[T]) get(key string) T {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.byKey[key]; ok {
		t.order.MoveToFront(e)
		return e.Value.(*clientEntry[T]).val
	}
	if t.order.Len() >= t.max {
		oldest := t.order.Back()
		t.order.Remove(oldest)
		delete(t.byKey, oldest.Value.(*clientEntry[T]).key)
	}
	v := t.fresh()
	t.byKey[key] = t.order.PushFront(&clientEntry[T]{key: key, val: v})
	return v
}

// len is the number of clients held.
func (t *clientTable[T]) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}
