package network

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

// member is one test node's identity and listening socket.
type member struct {
	id  model.NodeID
	key ed25519.PrivateKey
	ln  net.Listener
}

func (m member) addr() string { return m.ln.Addr().String() }

func (m member) peer() Peer {
	return Peer{ID: m.id, NetworkKey: m.key.Public().(ed25519.PublicKey), Address: m.addr()}
}

func newID(t testing.TB) model.NodeID {
	var id model.NodeID
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	return id
}

func newKey(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newMembers creates identities with listeners bound to 127.0.0.1:0, so the
// addresses are known before any transport starts and no port can be stolen.
func newMembers(t testing.TB, n int) []member {
	ms := make([]member, n)
	for i := range ms {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = member{id: newID(t), key: newKey(t), ln: ln}
	}
	return ms
}

func peersOf(ms []member) []Peer {
	ps := make([]Peer, len(ms))
	for i, m := range ms {
		ps[i] = m.peer()
	}
	return ps
}

// fastConfig keeps reconnects quick so tests run in well under a second.
func fastConfig(m member, peers []Peer) Config {
	return Config{
		Self:           m.id,
		Key:            m.key,
		Listener:       m.ln,
		Peers:          peers,
		DialBackoffMin: 10 * time.Millisecond,
		DialBackoffMax: 200 * time.Millisecond,
	}
}

func startTLS(t testing.TB, cfg Config) *TLS {
	t.Helper()
	tr, err := NewTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// startCluster starts one transport per member, all knowing all.
func startCluster(t testing.TB, ms []member, mod func(i int, c *Config)) []*TLS {
	t.Helper()
	peers := peersOf(ms)
	trs := make([]*TLS, len(ms))
	for i, m := range ms {
		cfg := fastConfig(m, peers)
		if mod != nil {
			mod(i, &cfg)
		}
		trs[i] = startTLS(t, cfg)
	}
	return trs
}

// recvFrom waits for a frame equal to want from the given sender, skipping
// others.
func recvFrom(t *testing.T, tr Transport, from model.NodeID, want []byte, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case in, ok := <-tr.Receive():
			if !ok {
				t.Fatal("receive channel closed")
			}
			if in.From == from && bytes.Equal(in.Data, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no frame %q from %s within %v", want, from, timeout)
		}
	}
}

// eventually polls cond until it holds or the timeout expires.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// resendUntil sends a fresh frame every few milliseconds until the receiver
// gets one: after a connection is torn down, frames already handed to the
// dying connection are lost by design, so a test cannot expect one specific
// frame to survive.
func resendUntil(t *testing.T, from *TLS, fromID model.NodeID, to Transport, toID model.NodeID, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		from.Send(toID, []byte(fmt.Sprintf("probe-%d", i)))
		for drained := false; !drained; {
			select {
			case in, ok := <-to.Receive():
				if !ok {
					t.Fatal("receive channel closed")
				}
				if in.From == fromID && bytes.HasPrefix(in.Data, []byte("probe-")) {
					return
				}
			case <-tick.C:
				drained = true
			case <-deadline:
				t.Fatalf("no probe from %s within %v", fromID, timeout)
			}
		}
	}
}

func TestTLSUnicastAndBroadcast(t *testing.T) {
	ms := newMembers(t, 4)
	trs := startCluster(t, ms, nil)

	// Sent before any connection exists: queued frames must survive until
	// the dialers connect.
	for i, tr := range trs {
		for j, m := range ms {
			if !tr.Send(m.id, []byte(fmt.Sprintf("u %d->%d", i, j))) {
				t.Fatalf("send %d->%d refused", i, j)
			}
		}
		tr.Broadcast([]byte(fmt.Sprintf("b %d", i)))
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(trs))
	for j, tr := range trs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := make(map[string]model.NodeID)
			for i, m := range ms {
				want[fmt.Sprintf("u %d->%d", i, j)] = m.id
				if i != j {
					want[fmt.Sprintf("b %d", i)] = m.id
				}
			}
			timeout := time.After(10 * time.Second)
			for len(want) > 0 {
				select {
				case in := <-tr.Receive():
					from, ok := want[string(in.Data)]
					if !ok {
						errs <- fmt.Errorf("node %d: unexpected frame %q", j, in.Data)
						return
					}
					if from != in.From {
						errs <- fmt.Errorf("node %d: frame %q attributed to %s", j, in.Data, in.From)
						return
					}
					delete(want, string(in.Data))
				case <-timeout:
					errs <- fmt.Errorf("node %d: missing %d frames", j, len(want))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for i, tr := range trs {
		for _, ps := range tr.Peers() {
			if !ps.Connected {
				t.Errorf("node %d: peer %s not connected", i, ps.ID)
			}
		}
		if len(tr.Peers()) != 3 {
			t.Errorf("node %d: %d peers, want 3", i, len(tr.Peers()))
		}
		st := tr.Stats()
		// 3 unicast + 3 broadcast frames each way; self-sends are not network traffic.
		if st.FramesSent != 6 || st.FramesReceived != 6 {
			t.Errorf("node %d: stats %+v, want 6 frames sent and received", i, st)
		}
	}
}

func TestTLSUnknownKeyRejected(t *testing.T) {
	ms := newMembers(t, 3)
	trs := startCluster(t, ms, nil)

	// A full transport whose key is not in anybody's genesis, dialing every
	// member. Its own pins of the members are right, so the members reject it.
	intruder := newMembers(t, 1)[0]
	evil := startTLS(t, fastConfig(intruder, append(peersOf(ms), intruder.peer())))
	evil.Broadcast([]byte("evil"))

	for i, tr := range trs {
		eventually(t, 5*time.Second, "unknown peer rejection", func() bool {
			return tr.Stats().UnknownPeerRejected >= 1
		})
		if st := tr.Stats(); st.FramesReceived != 0 {
			t.Errorf("node %d accepted %d frames from the intruder", i, st.FramesReceived)
		}
	}
	// Members keep talking.
	trs[0].Send(ms[1].id, []byte("hello"))
	recvFrom(t, trs[1], ms[0].id, []byte("hello"), 5*time.Second)
	trs[2].Broadcast([]byte("still up"))
	recvFrom(t, trs[0], ms[2].id, []byte("still up"), 5*time.Second)
	recvFrom(t, trs[1], ms[2].id, []byte("still up"), 5*time.Second)
}

// A client claiming a member's ID in its certificate but holding another key
// is rejected: identity comes from the key alone.
func TestTLSImpersonationRejected(t *testing.T) {
	ms := newMembers(t, 2)
	trs := startCluster(t, ms, nil)

	fakeKey := newKey(t)
	cert, err := selfSignedCert(fakeKey, ms[1].id) // CN names member 1
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", ms[0].addr(), &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true,
		NextProtos:         []string{alpnProtocol},
	})
	if err == nil {
		// In TLS 1.3 the server checks the client certificate after the
		// client's side of the handshake is done: the rejection arrives as
		// an alert on the first read. Write a well-formed frame anyway.
		conn.Write([]byte{0, 0, 0, 4, 'f', 'a', 'k', 'e'})
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		if _, rerr := conn.Read(b[:]); rerr == nil {
			t.Fatal("impersonating connection was not closed")
		}
		conn.Close()
	}
	eventually(t, 5*time.Second, "impersonation rejection", func() bool {
		return trs[0].Stats().UnknownPeerRejected == 1
	})

	// Nothing was delivered under member 1's name except its real traffic.
	trs[1].Send(ms[0].id, []byte("real"))
	select {
	case in := <-trs[0].Receive():
		if string(in.Data) != "real" {
			t.Fatalf("got %q from %s, want the real member's frame", in.Data, in.From)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("real member's frame not delivered")
	}
}

// A dialer refuses a server whose key is not the one pinned for the address.
func TestTLSServerKeyMismatch(t *testing.T) {
	ms := newMembers(t, 2)
	peers := peersOf(ms)
	wrong := append([]Peer(nil), peers...)
	wrong[1].NetworkKey = newKey(t).Public().(ed25519.PublicKey)
	a := startTLS(t, fastConfig(ms[0], wrong))
	startTLS(t, fastConfig(ms[1], peers))

	a.Send(ms[1].id, []byte("x"))
	eventually(t, 5*time.Second, "server key rejection", func() bool {
		return a.Stats().UnknownPeerRejected >= 1
	})
	if a.Peers()[0].Connected {
		t.Fatal("connected to a server with the wrong key")
	}
}

func TestTLSOversizedFrame(t *testing.T) {
	ms := newMembers(t, 2)
	trs := startCluster(t, ms, func(i int, c *Config) {
		if i == 1 {
			c.MaxFrameSize = 1024 // node 0 keeps the default, so it can send more
		}
	})
	a, b := trs[0], trs[1]

	a.Send(ms[1].id, []byte("before"))
	recvFrom(t, b, ms[0].id, []byte("before"), 5*time.Second)

	if !a.Send(ms[1].id, make([]byte, 2048)) {
		t.Fatal("sender refused a frame within its own limit")
	}
	eventually(t, 5*time.Second, "oversized frame counted", func() bool {
		return b.Stats().OversizedFrames == 1
	})
	// Node 0 notices the closed connection, redials, and traffic resumes.
	resendUntil(t, a, ms[0].id, b, ms[1].id, 5*time.Second)
	if r := a.Stats().Reconnects; r < 1 {
		t.Fatalf("reconnects = %d, want >= 1", r)
	}
	// The other direction was never affected.
	b.Send(ms[0].id, []byte("back"))
	recvFrom(t, a, ms[1].id, []byte("back"), 5*time.Second)
	// A frame over the local limit is refused by Send.
	if b.Send(ms[0].id, make([]byte, 1025)) {
		t.Fatal("Send accepted a frame over MaxFrameSize")
	}
	if b.Stats().DroppedTooLarge != 1 {
		t.Fatalf("DroppedTooLarge = %d, want 1", b.Stats().DroppedTooLarge)
	}
}

func TestTLSRestart(t *testing.T) {
	ms := newMembers(t, 2)
	trs := startCluster(t, ms, nil)
	a, b := trs[0], trs[1]
	addrB := ms[1].addr()

	a.Send(ms[1].id, []byte("one"))
	recvFrom(t, b, ms[0].id, []byte("one"), 5*time.Second)
	b.Send(ms[0].id, []byte("two"))
	recvFrom(t, a, ms[1].id, []byte("two"), 5*time.Second)

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a to see b down", func() bool { return !a.Peers()[0].Connected })
	// Queued while b is down: kept until the new b is reachable.
	if !a.Send(ms[1].id, []byte("while down")) {
		t.Fatal("send refused while peer down")
	}
	time.Sleep(50 * time.Millisecond) // let a fail a few dials

	cfg := fastConfig(ms[1], peersOf(ms))
	cfg.Listener = nil
	cfg.ListenAddr = addrB
	b2 := startTLS(t, cfg)
	recvFrom(t, b2, ms[0].id, []byte("while down"), 5*time.Second)
	b2.Send(ms[0].id, []byte("back again"))
	recvFrom(t, a, ms[1].id, []byte("back again"), 5*time.Second)
	if st := a.Stats(); st.Reconnects < 1 || st.DialFailures < 1 {
		t.Fatalf("stats %+v: want reconnects and dial failures", st)
	}
}

// blackhole accepts TCP connections and never answers, so a dialer's TLS
// handshake hangs and its queue never drains.
func blackhole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

func TestTLSQueueFullDrops(t *testing.T) {
	self := newMembers(t, 1)[0]
	other := Peer{ID: newID(t), NetworkKey: newKey(t).Public().(ed25519.PublicKey), Address: blackhole(t)}
	cfg := fastConfig(self, []Peer{other})
	cfg.SendQueueLen = 8
	tr := startTLS(t, cfg)

	start := time.Now()
	accepted := 0
	for range 1000 {
		if tr.Send(other.ID, []byte("frame")) {
			accepted++
		}
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("1000 sends took %v: Send blocked", elapsed)
	}
	if accepted != 8 {
		t.Fatalf("accepted %d frames, want the queue length 8", accepted)
	}
	if st := tr.Stats(); st.DroppedQueueFull != 992 {
		t.Fatalf("DroppedQueueFull = %d, want 992", st.DroppedQueueFull)
	}
	if ps := tr.Peers(); len(ps) != 1 || ps[0].Dropped != 992 || ps[0].Connected {
		t.Fatalf("peer status %+v", ps)
	}
	tr.Broadcast([]byte("more"))
	if d := tr.Peers()[0].Dropped; d != 993 {
		t.Fatalf("dropped after broadcast = %d, want 993", d)
	}
}

// A receiver that stops reading pushes back on the connection until the
// sender's queue fills and drops; when it reads again traffic flows.
func TestTLSReceiveBackpressure(t *testing.T) {
	ms := newMembers(t, 2)
	trs := startCluster(t, ms, func(i int, c *Config) {
		c.SendQueueLen = 4
		c.ReceiveQueueLen = 4
	})
	a, b := trs[0], trs[1]
	a.Send(ms[1].id, []byte("hi"))
	recvFrom(t, b, ms[0].id, []byte("hi"), 5*time.Second)

	big := make([]byte, 256<<10)
	deadline := time.Now().Add(20 * time.Second)
	for a.Send(ms[1].id, big) {
		if time.Now().After(deadline) {
			t.Fatal("sender never saw backpressure")
		}
		time.Sleep(time.Millisecond)
	}
	if a.Stats().DroppedQueueFull == 0 {
		t.Fatal("drop not counted")
	}
	// Drain: everything accepted arrives, then new traffic flows.
	go func() {
		for !a.Send(ms[1].id, []byte("after")) {
			time.Sleep(time.Millisecond)
		}
	}()
	recvFrom(t, b, ms[0].id, []byte("after"), 20*time.Second)
}

func TestTLSGarbageRejected(t *testing.T) {
	ms := newMembers(t, 2)
	trs := startCluster(t, ms, nil)

	for _, junk := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		bytes.Repeat([]byte{0xff}, 4096),
		{0x16, 0x03, 0x01, 0xff, 0xff}, // a TLS record header announcing a huge record
	} {
		c, err := net.Dial("tcp", ms[0].addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(junk)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				break // closed by the server (or the deadline)
			}
		}
		c.Close()
	}
	eventually(t, 5*time.Second, "handshake failures", func() bool {
		return trs[0].Stats().HandshakeFailures >= 2
	})
	trs[1].Send(ms[0].id, []byte("fine"))
	recvFrom(t, trs[0], ms[1].id, []byte("fine"), 5*time.Second)
	trs[0].Send(ms[1].id, []byte("fine too"))
	recvFrom(t, trs[1], ms[0].id, []byte("fine too"), 5*time.Second)
}

func TestTLSSendEdgeCases(t *testing.T) {
	ms := newMembers(t, 2)
	trs := startCluster(t, ms, nil)
	a := trs[0]

	if a.Send(newID(t), []byte("x")) {
		t.Fatal("send to unknown ID accepted")
	}
	if !a.Send(ms[0].id, []byte("loop")) {
		t.Fatal("send to self refused")
	}
	recvFrom(t, a, ms[0].id, []byte("loop"), time.Second)
	if !a.Send(ms[1].id, nil) {
		t.Fatal("empty frame refused")
	}
	recvFrom(t, trs[1], ms[0].id, []byte{}, 5*time.Second)

	a.Close()
	if a.Send(ms[1].id, []byte("late")) {
		t.Fatal("send after Close accepted")
	}
	a.Broadcast([]byte("late"))
	for range a.Receive() {
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestTLSConfigValidation(t *testing.T) {
	ms := newMembers(t, 2)
	defer ms[0].ln.Close()
	defer ms[1].ln.Close()
	base := func() Config { return fastConfig(ms[0], peersOf(ms)) }
	cases := map[string]func(c *Config){
		"no key":           func(c *Config) { c.Key = nil },
		"no listener":      func(c *Config) { c.Listener = nil },
		"self key differs": func(c *Config) { c.Peers[0].NetworkKey = newKey(t).Public().(ed25519.PublicKey) },
		"duplicate id":     func(c *Config) { c.Peers = append(c.Peers, c.Peers[1]) },
		"duplicate key": func(c *Config) {
			p := c.Peers[1]
			p.ID = newID(t)
			c.Peers = append(c.Peers, p)
		},
		"peer has our key": func(c *Config) { c.Peers[1].NetworkKey = c.Peers[0].NetworkKey },
		"short key":        func(c *Config) { c.Peers[1].NetworkKey = c.Peers[1].NetworkKey[:5] },
		"no address":       func(c *Config) { c.Peers[1].Address = "" },
		"negative frame":   func(c *Config) { c.MaxFrameSize = -1 },
	}
	for name, mod := range cases {
		cfg := base()
		cfg.Peers = append([]Peer(nil), cfg.Peers...)
		mod(&cfg)
		if tr, err := NewTLS(cfg); err == nil {
			tr.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTLSNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()

	ms := newMembers(t, 4)
	peers := peersOf(ms)
	var trs []*TLS
	for _, m := range ms {
		tr, err := NewTLS(fastConfig(m, peers))
		if err != nil {
			t.Fatal(err)
		}
		trs = append(trs, tr)
	}
	for _, tr := range trs {
		tr.Broadcast([]byte("x"))
	}
	for _, tr := range trs {
		for range 3 {
			select {
			case <-tr.Receive():
			case <-time.After(5 * time.Second):
				t.Fatal("broadcast not delivered")
			}
		}
	}
	// Leave a half-open handshake and a stalled reader behind too.
	c, err := net.Dial("tcp", ms[0].addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 100 {
		trs[1].Send(ms[2].id, make([]byte, 1000))
	}
	for _, tr := range trs {
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkTLSThroughput: one transport sends 250-byte frames to another as
// fast as its queue accepts them.
func BenchmarkTLSThroughput(b *testing.B) {
	const size = 250
	ms := newMembers(b, 2)
	trs := startCluster(b, ms, nil)
	src, dst := trs[0], trs[1]
	frame := make([]byte, size)

	// Warm up the connection.
	src.Send(ms[1].id, frame)
	<-dst.Receive()

	done := make(chan struct{})
	go func() {
		for range b.N {
			<-dst.Receive()
		}
		close(done)
	}()
	b.SetBytes(size)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for !src.Send(ms[1].id, frame) {
			runtime.Gosched() // queue full: wait for the writer, do not drop
		}
	}
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "frames/s")
	b.ReportMetric(float64(b.N)*size/elapsed.Seconds()/1e6, "MB/s")
}

// BenchmarkTLSBroadcast4: four transports each broadcast 250-byte frames to
// the three others; frames/s counts deliveries across the cluster.
func BenchmarkTLSBroadcast4(b *testing.B) {
	const size, n = 250, 4
	ms := newMembers(b, n)
	trs := startCluster(b, ms, nil)
	frame := make([]byte, size)
	per := b.N/n + 1

	var wg sync.WaitGroup
	for _, tr := range trs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per * (n - 1) {
				<-tr.Receive()
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	var senders sync.WaitGroup
	for _, tr := range trs {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for range per {
				for _, m := range ms {
					if m.id == tr.cfg.Self {
						continue
					}
					for !tr.Send(m.id, frame) {
						runtime.Gosched()
					}
				}
			}
		}()
	}
	senders.Wait()
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	total := float64(per * n * (n - 1))
	b.ReportMetric(total/elapsed.Seconds(), "frames/s")
	b.ReportMetric(total*size/elapsed.Seconds()/1e6, "MB/s")
}

// Frames above the 1 MiB chunk go through readPayload's growing buffer.
func TestTLSLargeFrame(t *testing.T) {
	ms := newMembers(t, 2)
	trs := startCluster(t, ms, nil)
	for _, size := range []int{1 << 20, 1<<20 + 1, 5<<20 + 123} {
		frame := make([]byte, size)
		rand.Read(frame)
		if !trs[0].Send(ms[1].id, frame) {
			t.Fatal("send refused")
		}
		recvFrom(t, trs[1], ms[0].id, frame, 10*time.Second)
	}
	if _, err := readPayload(bytes.NewReader(make([]byte, 3<<20)), 4<<20); err == nil {
		t.Fatal("short payload accepted")
	}
}

// A validator admitted at run time (a new epoch's member): refused while
// unknown, then reachable both ways once the members add it, and its own
// redial backoff is cut short by the members dialing it.
func TestTLSAddPeerAdmitsNewMember(t *testing.T) {
	ms := newMembers(t, 2)
	trs := startCluster(t, ms, nil)
	joinerM := newMembers(t, 1)[0]
	cfg := fastConfig(joinerM, peersOf(ms))
	// A long backoff: without the wake-up on inbound connections the joiner
	// would not redial within the test's timeout.
	cfg.DialBackoffMin, cfg.DialBackoffMax = 30*time.Second, 30*time.Second
	joiner := startTLS(t, cfg)
	joiner.Broadcast([]byte("too early"))
	eventually(t, 5*time.Second, "the joiner refused", func() bool { return trs[0].Stats().UnknownPeerRejected >= 1 })

	if err := trs[0].AddPeer(joinerM.peer()); err != nil {
		t.Fatal(err)
	}
	if err := trs[0].AddPeer(joinerM.peer()); err != nil {
		t.Fatalf("adding a known peer again: %v", err)
	}
	bad := joinerM.peer()
	bad.NetworkKey = ms[1].key.Public().(ed25519.PublicKey)
	bad.ID = newID(t)
	if err := trs[0].AddPeer(bad); err == nil {
		t.Fatal("a peer reusing a member's network key was added")
	}
	// The member dials the joiner, which knows it: frames flow in.
	resendUntil(t, trs[0], ms[0].id, joiner, joinerM.id, 10*time.Second)
	// And out: the joiner's backoff was cut short by that inbound connection.
	resendUntil(t, joiner, joinerM.id, trs[0], ms[0].id, 10*time.Second)
	if got := len(trs[0].Peers()); got != 2 {
		t.Fatalf("member 0 has %d peers, want 2", got)
	}
}

// TestPeerOfAnotherProtocolVersionIsRefused: a member's own key, but a build
// speaking another protocol version (ALPN floe/1), fails the handshake and
// no frame of it is delivered, so bytes of one version are never decoded
// by another.
func TestPeerOfAnotherProtocolVersionIsRefused(t *testing.T) {
	ms := newMembers(t, 2)
	// Only member 0 runs; member 1 is a known peer, dialled by hand below
	// with its own key.
	tr := startTLS(t, fastConfig(ms[0], peersOf(ms)))
	cert, err := selfSignedCert(ms[1].key, ms[1].id)
	if err != nil {
		t.Fatal(err)
	}
	if alpnProtocol == "floe/1" {
		t.Fatal("the test assumes this build is not protocol version 1")
	}
	conn, err := tls.Dial("tcp", ms[0].addr(), &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		InsecureSkipVerify: true, NextProtos: []string{"floe/1"},
	})
	if err == nil {
		conn.Write([]byte{0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'})
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		_, rerr := conn.Read(b[:])
		conn.Close()
		if rerr == nil {
			t.Fatal("a peer of protocol version 1 was served")
		}
	}
	time.Sleep(200 * time.Millisecond)
	if st := tr.Stats(); st.FramesReceived != 0 {
		t.Fatalf("%d frames delivered from a peer of another version", st.FramesReceived)
	}
}
