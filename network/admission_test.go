package network

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialFrom opens an idle TCP connection to addr from the local IP from
// (Linux routes all of 127/8 over lo, so 127.0.0.2 etc. are distinct
// sources without any setup). It is closed at the end of the test.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialMany(t *testing.T, from, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialFrom(t, from, addr)
	}
	return conns
}

// closedByServer reports whether the server closed c: a read returns EOF
// (or a reset) within wait. The server never sends anything before the
// client's hello, so a read that times out means the connection is open.
func closedByServer(c net.Conn, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

// countClosed checks every connection in parallel.
func countClosed(conns []net.Conn, wait time.Duration) int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	for _, c := range conns {
		wg.Go(func() {
			if closedByServer(c, wait) {
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return n
}

// connected waits until every transport has its outbound connections up and
// has accepted the inbound ones, so later counters are the test's alone.
func connected(t *testing.T, trs []*TLS) {
	t.Helper()
	eventually(t, 10*time.Second, "the cluster to connect", func() bool {
		for _, tr := range trs {
			for _, p := range tr.Peers() {
				if !p.Connected {
					return false
				}
			}
			st := tr.Stats()
			if st.HandshakesAccepted < uint64(len(trs)-1) || st.PendingHandshakes != 0 {
				return false
			}
		}
		return true
	})
}

// The measured attack: idle TCP connections holding every pending slot kept
// a reconnecting member out. With eviction, a member connecting into a
// listener flooded with 300 idle connections from its own address (exempt
// from the per-address cap), while more keep arriving, gets through at
// once. The handshake deadline is set far beyond the test's timeout, so
// nothing but eviction can make room.
func TestAdmissionPeerGetsThroughIdleFlood(t *testing.T) {
	ms := newMembers(t, 2)
	peers := peersOf(ms)
	cfg := fastConfig(ms[0], peers)
	cfg.InboundHandshakeTimeout = time.Minute
	node := startTLS(t, cfg)
	addr := ms[0].addr()

	dialMany(t, "127.0.0.1", addr, 300)
	// Every connection is accepted and either pending or, beyond the pool,
	// closed: by eviction, or (without it) refused as before. The member's
	// connection below is what tells the two apart.
	eventually(t, 10*time.Second, "the flood to fill the pool", func() bool {
		st := node.Stats()
		return st.PendingHandshakes == DefaultMaxPendingHandshakes &&
			st.HandshakesEvicted+st.HandshakeFailures == 300-DefaultMaxPendingHandshakes
	})

	// The attacker keeps opening connections (50/s, four times the
	// measured attack's rate) while the member connects.
	stop := make(chan struct{})
	done := make(chan struct{})
	var trickle []net.Conn
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		d := net.Dialer{Timeout: time.Second}
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if c, err := d.Dial("tcp", addr); err == nil {
					trickle = append(trickle, c)
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		for _, c := range trickle {
			c.Close()
		}
	})

	start := time.Now()
	member := startTLS(t, fastConfig(ms[1], peers))
	member.Send(ms[0].id, []byte("in"))
	recvFrom(t, node, ms[1].id, []byte("in"), 10*time.Second)
	node.Send(ms[1].id, []byte("out"))
	recvFrom(t, member, ms[0].id, []byte("out"), 10*time.Second)
	t.Logf("member connected through the flood in %v; stats %+v", time.Since(start), node.Stats())
	if st := node.Stats(); st.HandshakesAccepted < 1 || st.HandshakesEvicted < 300-DefaultMaxPendingHandshakes+1 {
		t.Fatalf("want an inbound handshake accepted and every connection beyond the pool evicted: %+v", st)
	}
}

// From an address that is no peer's, connections beyond MaxPendingPerIP
// pending handshakes are closed at once and counted; the others stay
// pending, and another address is not affected.
func TestAdmissionPerIPCap(t *testing.T) {
	ms := newMembers(t, 2)
	trs := startCluster(t, ms, func(_ int, c *Config) { c.InboundHandshakeTimeout = time.Minute })
	connected(t, trs)
	node := trs[0]

	const extra = 5
	conns := dialMany(t, "127.0.0.2", ms[0].addr(), DefaultMaxPendingPerIP+extra)
	eventually(t, 5*time.Second, "the extra connections to be refused", func() bool {
		return node.Stats().HandshakesRefusedPerIP == extra
	})
	if n := countClosed(conns, 300*time.Millisecond); n != extra {
		t.Fatalf("%d connections closed by the server, want %d", n, extra)
	}
	if st := node.Stats(); st.PendingHandshakes != DefaultMaxPendingPerIP {
		t.Fatalf("pending = %d, want %d", st.PendingHandshakes, DefaultMaxPendingPerIP)
	}

	// Another source has its own allowance.
	other := dialFrom(t, "127.0.0.3", ms[0].addr())
	eventually(t, 5*time.Second, "the other source to be admitted", func() bool {
		return node.Stats().PendingHandshakes == DefaultMaxPendingPerIP+1
	})
	if closedByServer(other, 100*time.Millisecond) || node.Stats().HandshakesRefusedPerIP != extra {
		t.Fatal("a connection from another address was refused")
	}
	// Members are unaffected.
	trs[1].Send(ms[0].id, []byte("still"))
	recvFrom(t, node, ms[1].id, []byte("still"), 5*time.Second)
}

// The host of a configured peer address is exempt from the per-address cap,
// whether the peer was configured at start or added at run time.
func TestAdmissionPeerAddressExempt(t *testing.T) {
	ms := newMembers(t, 1)
	// Peers nobody listens for (port 1): only their addresses matter.
	atStart := Peer{ID: newID(t), NetworkKey: newKey(t).Public().(ed25519.PublicKey), Address: "127.0.0.3:1"}
	cfg := fastConfig(ms[0], []Peer{atStart})
	cfg.InboundHandshakeTimeout = time.Minute
	node := startTLS(t, cfg)
	addr := ms[0].addr()

	const n = 3 * DefaultMaxPendingPerIP
	exempt := dialMany(t, "127.0.0.3", addr, n)
	eventually(t, 5*time.Second, "every connection from the peer's address pending", func() bool {
		return node.Stats().PendingHandshakes == n
	})
	if st := node.Stats(); st.HandshakesRefusedPerIP != 0 {
		t.Fatalf("%d connections from a peer's address refused", st.HandshakesRefusedPerIP)
	}
	if c := countClosed(exempt, 100*time.Millisecond); c != 0 {
		t.Fatalf("%d connections from a peer's address closed", c)
	}

	// 127.0.0.4 is capped until a peer with that address is added.
	dialMany(t, "127.0.0.4", addr, DefaultMaxPendingPerIP+2)
	eventually(t, 5*time.Second, "the cap on a non-peer address", func() bool {
		return node.Stats().HandshakesRefusedPerIP == 2
	})
	added := Peer{ID: newID(t), NetworkKey: newKey(t).Public().(ed25519.PublicKey), Address: "127.0.0.4:1"}
	if err := node.AddPeer(added); err != nil {
		t.Fatal(err)
	}
	later := dialMany(t, "127.0.0.4", addr, 2*DefaultMaxPendingPerIP)
	eventually(t, 5*time.Second, "the added peer's address admitted", func() bool {
		return node.Stats().PendingHandshakes == n+DefaultMaxPendingPerIP+2*DefaultMaxPendingPerIP
	})
	if st := node.Stats(); st.HandshakesRefusedPerIP != 2 {
		t.Fatalf("refused per IP = %d after AddPeer, want still 2", st.HandshakesRefusedPerIP)
	}
	if c := countClosed(later, 100*time.Millisecond); c != 0 {
		t.Fatalf("%d connections from the added peer's address closed", c)
	}
}

// Slots are accounted exactly through evictions: the pool holds its size,
// every connection beyond it evicts exactly one, evicted handshakes are not
// counted as failures, and when the attacker leaves the pool is empty and
// fills again without evicting (no slot leaked).
func TestAdmissionEvictionAccounting(t *testing.T) {
	const pool, flood = 16, 100
	ms := newMembers(t, 2)
	trs := startCluster(t, ms, func(_ int, c *Config) {
		c.MaxPendingHandshakes = pool
		c.InboundHandshakeTimeout = time.Minute
	})
	connected(t, trs)
	node := trs[0]
	before := node.Stats()

	conns := dialMany(t, "127.0.0.1", ms[0].addr(), flood)
	eventually(t, 10*time.Second, "the pool full and the rest evicted", func() bool {
		st := node.Stats()
		return st.PendingHandshakes == pool && st.HandshakesEvicted == flood-pool
	})
	if n := countClosed(conns, 300*time.Millisecond); n != flood-pool {
		t.Fatalf("%d connections closed by the server, want %d evicted", n, flood-pool)
	}
	// The survivors are the newest: eviction takes the oldest first.
	for i, c := range conns[flood-pool:] {
		if closedByServer(c, 10*time.Millisecond) {
			t.Fatalf("connection %d of the newest %d was evicted", i, pool)
		}
	}

	for _, c := range conns {
		c.Close()
	}
	eventually(t, 10*time.Second, "pending back to zero", func() bool {
		return node.Stats().PendingHandshakes == 0
	})
	st := node.Stats()
	if st.HandshakesEvicted != flood-pool {
		t.Fatalf("evicted = %d, want %d", st.HandshakesEvicted, flood-pool)
	}
	// The pending survivors failed when their clients left; the evicted
	// ones were counted once, as evicted.
	if got := st.HandshakeFailures - before.HandshakeFailures; got != pool {
		t.Fatalf("handshake failures = %d, want %d", got, pool)
	}
	node.admission.mu.Lock()
	left := len(node.admission.perSource)
	node.admission.mu.Unlock()
	if left != 0 {
		t.Fatalf("per-source counts left behind: %d", left)
	}

	dialMany(t, "127.0.0.1", ms[0].addr(), pool)
	eventually(t, 5*time.Second, "the pool to fill again", func() bool {
		return node.Stats().PendingHandshakes == pool
	})
	if st := node.Stats(); st.HandshakesEvicted != flood-pool {
		t.Fatalf("evicted %d more while filling a pool that should be empty", st.HandshakesEvicted-(flood-pool))
	}
}

// An accepted connection that sends nothing is closed after
// InboundHandshakeTimeout, not the (longer) dial HandshakeTimeout.
func TestAdmissionInboundHandshakeDeadline(t *testing.T) {
	ms := newMembers(t, 1)
	cfg := fastConfig(ms[0], nil)
	cfg.HandshakeTimeout = time.Minute
	cfg.InboundHandshakeTimeout = 200 * time.Millisecond
	node := startTLS(t, cfg)

	c := dialFrom(t, "127.0.0.1", ms[0].addr())
	start := time.Now()
	if !closedByServer(c, 10*time.Second) {
		t.Fatal("idle connection still open after 10 s")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("idle connection closed after %v", d)
	}
	eventually(t, 5*time.Second, "the timeout counted", func() bool {
		st := node.Stats()
		return st.HandshakeFailures == 1 && st.PendingHandshakes == 0
	})

	var zero Config
	zero.Key, zero.ListenAddr = ms[0].key, "x"
	if err := zero.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if zero.InboundHandshakeTimeout != 3*time.Second || zero.MaxPendingPerIP != 8 || zero.MaxPendingHandshakes != 128 {
		t.Fatalf("defaults: %+v", zero)
	}
}

// logRecorder is a slog handler that keeps every record.
type logRecorder struct {
	mu      *sync.Mutex
	records *[]slog.Record
}

func newLogRecorder() logRecorder {
	return logRecorder{mu: new(sync.Mutex), records: new([]slog.Record)}
}

func (h logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h logRecorder) WithGroup(string) slog.Handler            { return h }
func (h logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.records = append(*h.records, r.Clone())
	h.mu.Unlock()
	return nil
}

// warnings returns the "suppressed" value of each WARN line whose message
// contains substr.
func (h logRecorder) warnings(substr string) []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []uint64
	for _, r := range *h.records {
		if r.Level != slog.LevelWarn || !strings.Contains(r.Message, substr) {
			continue
		}
		s := uint64(1 << 63) // absent
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "suppressed" {
				s = a.Value.Uint64()
			}
			return true
		})
		out = append(out, s)
	}
	return out
}

// Rejections are all counted but logged at most once per reason per
// logInterval, each line saying how many were held back.
func TestAdmissionRejectionLogsRateLimited(t *testing.T) {
	ms := newMembers(t, 1)
	rec := newLogRecorder()
	cfg := fastConfig(ms[0], nil)
	cfg.Logger = slog.New(rec)
	node := startTLS(t, cfg)
	now := time.Now()
	var clockMu sync.Mutex
	node.logs.setClock(func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now })

	// A few real clients with keys nobody pinned.
	const real = 10
	cert, err := selfSignedCert(newKey(t), newID(t))
	if err != nil {
		t.Fatal(err)
	}
	for range real {
		conn, err := tls.Dial("tcp", ms[0].addr(), &tls.Config{
			MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
			InsecureSkipVerify: true, NextProtos: []string{alpnProtocol},
		})
		if err == nil {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			conn.Read(make([]byte, 1)) // the rejection arrives as an alert
			conn.Close()
		}
	}
	eventually(t, 5*time.Second, "the real rejections counted", func() bool {
		return node.Stats().UnknownPeerRejected == real
	})
	// Then 1000 more within a second, through the same path every rejected
	// handshake takes (real handshakes that fast would make a slow test).
	start := time.Now()
	for i := range 1000 {
		node.classify(fmt.Errorf("%w: test %d", errUnknownPeer, i), nil, "192.0.2.1:1")
	}
	if d := time.Since(start); d > time.Second {
		t.Logf("1000 rejections took %v", d)
	}
	if st := node.Stats(); st.UnknownPeerRejected != real+1000 {
		t.Fatalf("UnknownPeerRejected = %d, want %d", st.UnknownPeerRejected, real+1000)
	}
	lines := rec.warnings("unpinned key")
	if len(lines) != 1 || lines[0] != 0 {
		t.Fatalf("WARN lines (suppressed counts) %v, want one line", lines)
	}

	// After the interval the next line reports everything held back.
	clockMu.Lock()
	now = now.Add(logInterval)
	clockMu.Unlock()
	node.classify(errUnknownPeer, nil, "192.0.2.1:1")
	lines = rec.warnings("unpinned key")
	if len(lines) != 2 || lines[1] != real+1000-1 {
		t.Fatalf("WARN lines (suppressed counts) %v, want a second one reporting %d", lines, real+1000-1)
	}
}

// failingListener returns errors from Accept before handing over to the
// real listener, like a listener out of file descriptors.
type failingListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, errors.New("accept: too many open files")
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func (l *failingListener) remaining() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fails
}

// Accept errors are logged at a limited rate too.
func TestAdmissionAcceptErrorsRateLimited(t *testing.T) {
	ms := newMembers(t, 1)
	rec := newLogRecorder()
	ln := &failingListener{Listener: ms[0].ln, fails: 50}
	cfg := fastConfig(ms[0], nil)
	cfg.Listener = ln
	cfg.DialBackoffMin = time.Millisecond // the pause after an accept error
	cfg.Logger = slog.New(rec)
	startTLS(t, cfg)
	eventually(t, 5*time.Second, "the accept errors", func() bool { return ln.remaining() == 0 })
	if lines := rec.warnings("accept failed"); len(lines) != 1 {
		t.Fatalf("%d WARN lines for 50 accept errors, want 1", len(lines))
	}
}

// The admission rules on their own, without sockets.
func TestAdmissionRules(t *testing.T) {
	conn := func() net.Conn { c, _ := net.Pipe(); return c }
	src := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	a, b, k := src("192.0.2.1"), src("192.0.2.2"), src("198.51.100.1")

	t.Run("per-source cap", func(t *testing.T) {
		adm := newAdmission(10, 2)
		for range 2 {
			if _, _, v := adm.admit(conn(), a, false); v != admitted {
				t.Fatal("refused below the cap")
			}
		}
		if _, _, v := adm.admit(conn(), a, false); v != refusedPerSource {
			t.Fatalf("verdict %v at the cap, want refusedPerSource", v)
		}
		if _, _, v := adm.admit(conn(), b, false); v != admitted {
			t.Fatal("another source refused")
		}
		for range 5 {
			if _, _, v := adm.admit(conn(), k, true); v != admitted {
				t.Fatal("known source capped")
			}
		}
		if adm.pending() != 8 {
			t.Fatalf("pending %d, want 8", adm.pending())
		}
	})

	t.Run("eviction order and priority", func(t *testing.T) {
		adm := newAdmission(3, 10)
		k1, _, _ := adm.admit(conn(), k, true)
		o1, _, _ := adm.admit(conn(), a, false)
		o2, _, _ := adm.admit(conn(), b, false)
		// Full. An unknown newcomer evicts the oldest unknown, not the
		// older known one.
		o3, victim, v := adm.admit(conn(), a, false)
		if v != admitted || victim != o1.conn {
			t.Fatalf("verdict %v, victim %v: want o1 evicted", v, victim)
		}
		if adm.release(o1) {
			t.Fatal("an evicted slot was released again")
		}
		// A known newcomer evicts unknown ones first too.
		k2, victim, _ := adm.admit(conn(), k, true)
		if victim != o2.conn {
			t.Fatal("known newcomer did not evict the oldest unknown")
		}
		k3, victim, _ := adm.admit(conn(), k, true)
		if victim != o3.conn {
			t.Fatal("known newcomer did not evict the last unknown")
		}
		// Only known ones left: an unknown newcomer is refused, a known one
		// evicts the oldest known.
		if _, _, v := adm.admit(conn(), a, false); v != refusedFull {
			t.Fatalf("verdict %v, want refusedFull", v)
		}
		if _, victim, _ := adm.admit(conn(), k, true); victim != k1.conn {
			t.Fatal("oldest known not evicted")
		}
		if !adm.release(k2) || adm.release(k2) || !adm.release(k3) {
			t.Fatal("release not exactly once")
		}
		if adm.pending() != 1 {
			t.Fatalf("pending %d, want 1", adm.pending())
		}
		if len(adm.perSource) != 1 || adm.perSource[k] != 1 || adm.perSource[a] != 0 {
			t.Fatalf("per-source counts %v", adm.perSource)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		adm := newAdmission(16, 4)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				s := netip.AddrFrom4([4]byte{10, 0, 0, byte(g % 3)})
				var held []*pendingHandshake
				for i := range 2000 {
					if h, _, v := adm.admit(conn(), s, g%2 == 0); v == admitted {
						held = append(held, h)
					}
					if i%3 == 0 && len(held) > 0 {
						adm.release(held[0])
						held = held[1:]
					}
					if adm.pending() > 16 {
						t.Error("pool over its bound")
						return
					}
				}
				for _, h := range held {
					adm.release(h)
				}
			})
		}
		wg.Wait()
		if adm.pending() != 0 || len(adm.perSource) != 0 {
			t.Fatalf("after everything was released: pending %d, per-source %v", adm.pending(), adm.perSource)
		}
	})
}

func TestAdmissionSources(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	for addr, want := range map[net.Addr]string{
		tcp("192.0.2.7:5000"):                  "192.0.2.7",
		tcp("[::ffff:192.0.2.7]:5000"):         "192.0.2.7",
		tcp("[2001:db8:1:2:aaaa::1]:5000"):     "2001:db8:1:2::",
		tcp("[2001:db8:1:2:bbbb::9]:5000"):     "2001:db8:1:2::",
		&net.UnixAddr{Name: "/x", Net: "unix"}: "invalid IP",
	} {
		if got := sourceKey(addr).String(); got != want {
			t.Errorf("sourceKey(%v) = %s, want %s", addr, got, want)
		}
	}
	for address, want := range map[string]string{
		"192.0.2.7:26656":        "[192.0.2.7]",
		"[2001:db8::5]:26656":    "[2001:db8::]",
		"localhost:26656":        "[127.0.0.1 ::]",
		"LocalHost:1":            "[127.0.0.1 ::]",
		"node1.example.com:2665": "[]",
		"0.0.0.0:26656":          "[]",
		"no-port":                "[]",
	} {
		if got := fmt.Sprint(peerSources(address)); got != want {
			t.Errorf("peerSources(%q) = %s, want %s", address, got, want)
		}
	}
}
