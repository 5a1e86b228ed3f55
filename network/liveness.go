package network

import (
	"net"
	"time"
)

// Dead-connection detection. A peer whose packets are silently dropped (a
// cut cable, a partition, a frozen host) leaves a TCP connection that
// still looks open: the kernel keeps retransmitting unacknowledged data
// with exponential back-off for many minutes, and an idle connection is
// never probed at all. The end-to-end runner measured 12–30 s catch-up
// delays after disconnects because of this. Both ends therefore probe
// idle connections with keep-alives and give up on data unacknowledged
// for deadPeerTimeout, so a broken connection is closed and redialed
// within seconds.
const (
	keepAliveIdle     = 3 * time.Second
	keepAliveInterval = 1 * time.Second
	keepAliveCount    = 3
	deadPeerTimeout   = 8 * time.Second
)

// tuneConn enables keep-alive probes and, where the platform has it, the
// unacknowledged-data timeout. Failures are ignored: the connection works
// without them, only slower to notice a dead peer.
func tuneConn(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{
		Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount,
	})
	setUserTimeout(tc, deadPeerTimeout)
}
