package localnet

import (
	"context"
	"net"
	"sync/atomic"
	"time"
)

// The harness's load stands for many users, but it all comes from this
// process, and a node's admission limits are per client address
// (docs/security.md): from 127.0.0.1 alone, a one-node testnet at --rate
// max would measure the per-client submission budget, not the node. So the
// harness's connections to loopback nodes leave from loopbackClients
// addresses of their own (127.0.0.100, 127.0.0.101, ...; on Linux all of
// 127.0.0.0/8 is local), in turn. Where binding one fails (other systems
// route only 127.0.0.1), the connection is dialled as usual.

// loopbackClients is how many client addresses the harness spreads over.
const loopbackClients = 16

// spreadDialer dials loopback targets from rotating loopback sources.
type spreadDialer struct {
	next atomic.Uint32
	base net.Dialer
}

func (d *spreadDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		return d.base.DialContext(ctx, network, addr)
	}
	i := d.next.Add(1) % loopbackClients
	src := net.Dialer{Timeout: d.base.Timeout, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(100+i))}}
	if c, err := src.DialContext(ctx, network, addr); err == nil {
		return c, nil
	}
	return d.base.DialContext(ctx, network, addr)
}

func newSpreadDialer() *spreadDialer {
	return &spreadDialer{base: net.Dialer{Timeout: 10 * time.Second}}
}
