package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// The attacker's traffic leaves from other loopback addresses than the
// legitimate clients' (127.0.0.1): on Linux all of 127.0.0.0/8 is local,
// so a socket bound to 127.0.0.2 reaches the nodes' 127.0.0.1 listeners
// and the node sees 127.0.0.2 as the client. Per-address limits then
// apply to the attacker alone, as they would on a real network.

// loopbackSources returns n attacker addresses: 127.0.0.2, 127.0.0.3, ...
func loopbackSources(n int) []string { return loopbackRange("127.0.0.", n) }

// loopbackRange returns n addresses prefix2, prefix3, ... (n ≤ 253).
func loopbackRange(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+2)
	}
	return out
}

// sourceDialer dials from source (an IP literal).
func sourceDialer(source string, timeout time.Duration) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: timeout}
}

// dialFrom opens a TCP connection to addr from source.
func dialFrom(ctx context.Context, source, addr string) (net.Conn, error) {
	return sourceDialer(source, 3*time.Second).DialContext(ctx, "tcp", addr)
}

// sourceHTTPClient is an HTTP client whose connections come from source,
// keeping up to conns of them open. It does not retry anything: an
// attacker counts its refusals.
func sourceHTTPClient(source string, conns int, timeout time.Duration) *http.Client {
	d := sourceDialer(source, 3*time.Second)
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: d.DialContext, MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true,
	}}
}
