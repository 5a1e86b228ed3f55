package api

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// refusalWriteTimeout bounds the write of a refusal to a connection over a
// cap: a client that does not read it must not hold anything.
const refusalWriteTimeout = 100 * time.Millisecond

// maxRefusalWriters bounds the goroutines writing refusals at once; beyond
// it, a refused connection is closed without an answer.
const maxRefusalWriters = 64

// connLimiter is a net.Listener that caps open connections, in total and
// per client address. A connection over a cap is accepted, answered with a
// complete HTTP response (503 for the total, 429 for one address) and
// closed, so the client learns why; it never reaches the HTTP server and
// never blocks Accept.
type connLimiter struct {
	net.Listener
	max, perIP int
	metrics    *HTTPMetrics
	writers    chan struct{}

	mu     sync.Mutex
	open   int
	byAddr map[string]int // only addresses with open connections: bounded by max
}

// limitConns wraps ln (max, perIP 0: no cap).
func limitConns(ln net.Listener, max, perIP int, m *HTTPMetrics) *connLimiter {
	return &connLimiter{Listener: ln, max: max, perIP: perIP, metrics: m,
		writers: make(chan struct{}, maxRefusalWriters), byAddr: make(map[string]int)}
}

// Accept returns the next connection within the caps.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteIP(c)
		status, reason, msg := l.admit(addr)
		if status == 0 {
			l.metrics.open.Inc()
			return &limitedConn{Conn: c, release: l.releaser(addr)}, nil
		}
		l.metrics.Refused(reason)
		l.refuse(c, status, msg)
	}
}

// admit takes a slot for addr or says which cap refused it.
func (l *connLimiter) admit(addr string) (status int, reason, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.max > 0 && l.open >= l.max:
		return 503, RefusedConnTotal, fmt.Sprintf("too many connections: this node serves %d API connections at most; retry later", l.max)
	case l.perIP > 0 && l.byAddr[addr] >= l.perIP:
		return 429, RefusedConnPerIP, fmt.Sprintf("too many connections from %s: at most %d; reuse connections (keep-alive) or close some", addr, l.perIP)
	}
	l.open++
	l.byAddr[addr]++
	return 0, "", ""
}

// releaser frees addr's slot exactly once, however often it is called.
func (l *connLimiter) releaser(addr string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.open--
			if l.byAddr[addr]--; l.byAddr[addr] == 0 {
				delete(l.byAddr, addr)
			}
			l.mu.Unlock()
			l.metrics.open.Dec()
		})
	}
}

// refuse answers c with status and msg and closes it, off the accept loop.
func (l *connLimiter) refuse(c net.Conn, status int, msg string) {
	select {
	case l.writers <- struct{}{}:
	default:
		c.Close() // too many refusals in flight: no answer
		return
	}
	go func() {
		defer func() { <-l.writers }()
		defer c.Close()
		text := "Service Unavailable"
		if status == 429 {
			text = "Too Many Requests"
		}
		body := string(mustJSON(ErrorResponse{Error: msg})) + "\n"
		_ = c.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
		if _, err := fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
			status, text, len(body), body); err != nil {
			return
		}
		drainBeforeClose(c)
	}()
}

// A client usually sends its request before it could read a refusal.
// Closing a socket with unread input makes the kernel send a reset, which
// may destroy the refusal before the client read it: the client then sees
// "connection reset" instead of the reason. So the refusal is followed by
// a half-close (FIN: the response is complete), and what the client sent
// is read and discarded, bounded in time and bytes, before the close.
const (
	refusalDrainTimeout = 250 * time.Millisecond
	refusalDrainBytes   = 64 << 10
)

func drainBeforeClose(c net.Conn) {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(refusalDrainTimeout))
	_, _ = io.CopyN(io.Discard, c, refusalDrainBytes)
}

// openConns is the number of connections holding a slot.
func (l *connLimiter) openConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// limitedConn gives its slot back when closed.
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// remoteIP is the client (clientKey) a connection belongs to.
func remoteIP(c net.Conn) string {
	addr := c.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return clientKey(host)
	}
	return addr
}
