package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floe-bft/floe/follower"
	"github.com/floe-bft/floe/ledger"
)

// dialFrom opens a TCP connection to addr from the local IP src (Linux
// routes all of 127/8 over the loopback device, so each 127.x address is a
// distinct client).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readRefusal reads the HTTP response a refused connection gets and checks
// it is complete, closes the connection and carries a JSON error.
func readRefusal(t *testing.T, c net.Conn, status int) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the refusal: %v", err)
	}
	defer resp.Body.Close()
	var e ErrorResponse
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("refusal body: %v", err)
	}
	if resp.StatusCode != status || !resp.Close || resp.Header.Get("Retry-After") == "" || e.Error == "" {
		t.Fatalf("refusal: %d close=%v retry=%q %q; want %d, closed, Retry-After and an error", resp.StatusCode, resp.Close, resp.Header.Get("Retry-After"), e.Error, status)
	}
	return e.Error
}

// The listener caps connections per address (429) and in total (503),
// answers the refused ones itself, and gives a slot back exactly once when
// a connection closes.
func TestConnectionCaps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewHTTPMetrics(nil)
	lim := limitConns(ln, 3, 2, m)
	defer lim.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := lim.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	addr := ln.Addr().String()
	take := func(src string) net.Conn {
		t.Helper()
		dialFrom(t, src, addr)
		select {
		case c := <-accepted:
			return c
		case <-time.After(2 * time.Second):
			t.Fatalf("connection from %s not accepted", src)
			return nil
		}
	}
	a1, _ := take("127.0.0.1"), take("127.0.0.1")
	if msg := readRefusal(t, dialFrom(t, "127.0.0.1", addr), 429); !strings.Contains(msg, "127.0.0.1") {
		t.Fatalf("per-address refusal does not name the address: %q", msg)
	}
	take("127.0.0.2") // another address is not affected by the first one's cap
	readRefusal(t, dialFrom(t, "127.0.0.3", addr), 503)
	if got := testutil.ToFloat64(m.refusals.WithLabelValues(RefusedConnPerIP)); got != 1 {
		t.Fatalf("per-address refusals counted %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.refusals.WithLabelValues(RefusedConnTotal)); got != 1 {
		t.Fatalf("total refusals counted %v, want 1", got)
	}
	// Closing twice frees one slot, not two.
	a1.Close()
	a1.Close()
	if n := lim.openConns(); n != 2 {
		t.Fatalf("%d connections hold slots after one closed, want 2", n)
	}
	take("127.0.0.3")
	readRefusal(t, dialFrom(t, "127.0.0.4", addr), 503)
	if got := testutil.ToFloat64(m.open); got != 3 {
		t.Fatalf("open connections gauge %v, want 3", got)
	}
}

// Over its request rate a client gets a 429 with Retry-After and nothing
// else runs; another client is not affected; both are counted.
func TestRequestRateLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewHTTPMetrics(reg)
	lim := DefaultLimits()
	lim.RequestRate, lim.RequestBurst = 1, 5
	s := New(newFake(t), Options{Limits: &lim, Metrics: m})
	get := func(remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/v1/status", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	for i := 0; i < 5; i++ {
		if rec := get("192.0.2.1:1000"); rec.Code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i, rec.Code)
		}
	}
	rec := get("192.0.2.1:1001")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "rate limit") {
		t.Fatalf("over the rate: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if rec := get("192.0.2.2:1000"); rec.Code != http.StatusOK {
		t.Fatalf("another client: %d", rec.Code)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("GET /v1/status", "GET", "200")); got != 6 {
		t.Fatalf("floe_api_requests_total{route=GET /v1/status,code=200} = %v, want 6", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("GET /v1/status", "GET", "429")); got != 1 {
		t.Fatalf("429s counted %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.refusals.WithLabelValues(RefusedRate)); got != 1 {
		t.Fatalf("rate refusals counted %v, want 1", got)
	}
}

// The per-client table never holds more than its bound; the least recently
// seen client is the one forgotten.
func TestClientTableIsBounded(t *testing.T) {
	made := 0
	tab := newClientTable(10_000, func() int { made++; return made })
	for i := 0; i < 20_000; i++ {
		tab.get(fmt.Sprintf("client-%d", i))
	}
	if n := tab.len(); n != 10_000 {
		t.Fatalf("table holds %d clients, bound 10000", n)
	}
	if v := tab.get("client-19999"); v != 20_000 {
		t.Fatalf("the most recent client was forgotten (state %d)", v)
	}
	if v := tab.get("client-0"); v != 20_001 {
		t.Fatalf("the oldest client was kept (state %d)", v)
	}
}

// syncFake serves ranges, counting calls; a range blocks until release is
// closed when block is set.
type syncFake struct {
	*fakeBackend
	calls   atomic.Int32
	block   bool
	release chan struct{}
	started chan struct{}
}

func (f *syncFake) SyncRange(ctx context.Context, from uint64, count int) ([]byte, error) {
	f.calls.Add(1)
	if f.block {
		f.started <- struct{}{}
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return follower.EncodeRange(nil, nil), nil
}

func (f *syncFake) SubscribeSync(ctx context.Context) (<-chan ledger.SyncFrame, error) {
	return make(chan ledger.SyncFrame), nil
}

func rangeRequest(s http.Handler, remote, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", target, nil)
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// Expensive reads take one of a few slots; a read that finds none within
// the wait gets a 503 "busy", and one whose client leaves gives up at once.
func TestExpensiveReadsAreBounded(t *testing.T) {
	f := &syncFake{fakeBackend: newFake(t), block: true, release: make(chan struct{}), started: make(chan struct{}, 4)}
	lim := DefaultLimits()
	lim.MaxExpensiveReads, lim.ExpensiveWait = 2, 100*time.Millisecond
	s := New(f, Options{Limits: &lim})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rangeRequest(s, fmt.Sprintf("192.0.2.%d:1", i+1), "/v1/sync/range?from=1&count=8")
		}()
		<-f.started
	}
	start := time.Now()
	rec := rangeRequest(s, "192.0.2.9:1", "/v1/sync/range?from=1&count=8")
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "busy") || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("third concurrent read: %d %s", rec.Code, rec.Body.String())
	}
	if waited := time.Since(start); waited < 90*time.Millisecond {
		t.Fatalf("refused after %v, before the wait", waited)
	}
	// A client that leaves while waiting gives up without a slot.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/v1/sync/range?from=1&count=8", nil).WithContext(ctx)
	s.ServeHTTP(httptest.NewRecorder(), req)
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d ranges read; the refused and the departed must not read", n)
	}
	close(f.release)
	wg.Wait()
	if len(s.readSlots) != 0 {
		t.Fatalf("%d slots still held after every read ended", len(s.readSlots))
	}
}

// Each client has a budget of blocks read per second; over it a range is a
// 429, and another client still reads.
func TestReadBudgetPerClient(t *testing.T) {
	f := &syncFake{fakeBackend: newFake(t)}
	lim := DefaultLimits()
	lim.ReadBlockRate, lim.ReadBlockBurst, lim.RangeCacheBytes = 1, 1024, 0
	s := New(f, Options{Limits: &lim})
	for i := 0; i < 2; i++ {
		if rec := rangeRequest(s, "192.0.2.1:1", "/v1/sync/range?from=1&count=512"); rec.Code != http.StatusOK {
			t.Fatalf("range %d within the budget: %d %s", i, rec.Code, rec.Body.String())
		}
	}
	rec := rangeRequest(s, "192.0.2.1:1", "/v1/sync/range?from=1&count=512")
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "budget") {
		t.Fatalf("over the budget: %d %s", rec.Code, rec.Body.String())
	}
	if rec := rangeRequest(s, "192.0.2.2:1", "/v1/sync/range?from=1&count=512"); rec.Code != http.StatusOK {
		t.Fatalf("another client: %d", rec.Code)
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("%d ranges read, want 3 (the refused one must not read)", n)
	}
}

// A range wholly below the finalized height is read once and then served
// from the cache; one reaching the top is read every time.
func TestImmutableRangesAreCached(t *testing.T) {
	f := &syncFake{fakeBackend: newFake(t)} // finalized height 3
	s := New(f, Options{})
	for i := 0; i < 3; i++ {
		if rec := rangeRequest(s, "192.0.2.1:1", "/v1/sync/range?from=1&count=1"); rec.Code != http.StatusOK {
			t.Fatalf("range: %d", rec.Code)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("an immutable range was read %d times, want once", n)
	}
	for i := 0; i < 2; i++ {
		rangeRequest(s, "192.0.2.1:1", "/v1/sync/range?from=2&count=4")
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("a range reaching the top was read %d times in all, want it read each time (3)", n)
	}
}

// The cache stays within its byte bound, evicting the least recently used.
func TestRangeCacheIsBounded(t *testing.T) {
	c := newRangeCache(400, NewHTTPMetrics(nil))
	for i := 0; i < 5; i++ {
		c.put(fmt.Sprint(i), make([]byte, 100))
	}
	c.put("huge", make([]byte, 101)) // over a quarter of the bound: not cached
	if b := c.bytes(); b > 400 {
		t.Fatalf("cache holds %d bytes, bound 400", b)
	}
	if _, ok := c.get("0"); ok {
		t.Fatal("the least recently used answer was kept")
	}
	if _, ok := c.get("4"); !ok {
		t.Fatal("the newest answer was evicted")
	}
	if _, ok := c.get("huge"); ok {
		t.Fatal("an answer over a quarter of the bound was cached")
	}
}

// Subscriptions are capped per client (429) and in total (503), refused
// before the stream starts with a JSON error and Connection: close; other
// clients keep subscribing until the total is reached.
func TestStreamCaps(t *testing.T) {
	f := newFake(t)
	f.subs = make(chan chan ledger.FinalizedBlock, 16)
	lim := DefaultLimits()
	lim.MaxStreams, lim.MaxStreamsPerIP = 3, 2
	s := New(f, Options{Limits: &lim})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	open := func(remote string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("GET", "/v1/blocks/stream", nil).WithContext(ctx)
			req.RemoteAddr = remote
			s.ServeHTTP(httptest.NewRecorder(), req)
		}()
		<-f.subs
	}
	refused := func(remote string, status int) {
		t.Helper()
		// Bounded: a stream admitted by mistake must fail the test, not hang it.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req := httptest.NewRequest("GET", "/v1/blocks/stream", nil).WithContext(ctx)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != status || rec.Header().Get("Connection") != "close" || !strings.Contains(rec.Body.String(), "too many subscribers") {
			t.Fatalf("subscription from %s: %d %q %s; want %d, Connection: close, too many subscribers", remote, rec.Code, rec.Header().Get("Connection"), rec.Body.String(), status)
		}
	}
	open("192.0.2.1:1")
	open("192.0.2.1:2")
	refused("192.0.2.1:3", http.StatusTooManyRequests)
	open("192.0.2.2:1")
	refused("192.0.2.3:1", http.StatusServiceUnavailable)
	cancel()
	wg.Wait()
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	if s.streams.open != 0 || len(s.streams.byClient) != 0 {
		t.Fatalf("%d stream slots held after every stream ended", s.streams.open)
	}
}

// A refused connection is half-closed after the refusal and what the
// client still sends is read and discarded for a moment, not answered with
// a reset: over a real network a reset can overtake the refusal still in
// the send buffer, and the client sees "connection reset" instead of the
// reason (net/http's server waits after a half-close for the same reason).
func TestRefusalIsHalfClosedAndDrained(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := limitConns(ln, 0, 1, NewHTTPMetrics(nil))
	defer lim.Close()
	go func() {
		for {
			if _, err := lim.Accept(); err != nil {
				return
			}
		}
	}()
	addr := ln.Addr().String()
	dialFrom(t, "127.0.0.5", addr) // holds the address's one slot
	time.Sleep(50 * time.Millisecond)
	c := dialFrom(t, "127.0.0.5", addr)
	body := strings.Repeat("x", 1<<10)
	send := func() error {
		_, err := fmt.Fprintf(c, "POST /v1/transactions HTTP/1.1\r\nHost: n\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		return err
	}
	if err := send(); err != nil {
		t.Fatalf("sending the request: %v", err)
	}
	readRefusal(t, c, 429)
	// The client keeps sending (a body it had queued, a pipelined request):
	// a closed socket would reset it and the writes would fail.
	for i := 0; i < 4; i++ {
		time.Sleep(20 * time.Millisecond)
		if err := send(); err != nil {
			t.Fatalf("write %d after the refusal: %v (the server reset the connection)", i+1, err)
		}
	}
}

// IPv6 clients are counted per /64 (a host can pick any address in its
// prefix); IPv4 clients per address.
func TestClientKeys(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"::ffff:192.0.2.7", "::ffff:192.0.2.7"},
		{"not-an-ip", "not-an-ip"},
	} {
		if got := clientKey(c.in); got != c.want {
			t.Errorf("clientKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// An answer from the range cache costs the client its blocks, like a read
// from the store: it saves the store, not the bandwidth.
func TestCachedReadsCostTheirBlocks(t *testing.T) {
	f := &syncFake{fakeBackend: newFake(t)}
	lim := DefaultLimits()
	lim.ReadBlockRate, lim.ReadBlockBurst = 1, 1024
	s := New(f, Options{Limits: &lim})
	s.cache.put("range/1/512", follower.EncodeRange(nil, nil))
	for i := 0; i < 2; i++ {
		if rec := rangeRequest(s, "192.0.2.1:1", "/v1/sync/range?from=1&count=512"); rec.Code != http.StatusOK {
			t.Fatalf("cached range %d within the budget: %d %s", i, rec.Code, rec.Body.String())
		}
	}
	if rec := rangeRequest(s, "192.0.2.1:1", "/v1/sync/range?from=1&count=512"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("a third 512-block answer within a 1024-block budget: %d", rec.Code)
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("the store was read %d times for cached answers", n)
	}
}

// The node's byte budget for history holds for all clients together, for
// cached and read answers alike: more addresses do not buy more.
func TestReadBytesAreBoundedForAllClients(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewHTTPMetrics(reg)
	f := &syncFake{fakeBackend: newFake(t)}
	body := follower.EncodeRange(nil, nil)
	lim := DefaultLimits()
	lim.ReadBytesRate, lim.ReadBytesBurst = 1, 3*len(body)
	s := New(f, Options{Limits: &lim, Metrics: m})
	s.cache.put("range/1/1", body)
	for i, remote := range []string{"192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"} {
		if rec := rangeRequest(s, remote, "/v1/sync/range?from=1&count=1"); rec.Code != http.StatusOK {
			t.Fatalf("answer %d within the node's budget: %d", i, rec.Code)
		}
	}
	for _, target := range []string{"/v1/sync/range?from=1&count=1", "/v1/sync/range?from=2&count=4"} {
		rec := rangeRequest(s, "192.0.2.4:1", target)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "MiB") {
			t.Fatalf("%s over the node's byte budget from a fourth address: %d %s", target, rec.Code, rec.Body.String())
		}
	}
	if got := testutil.ToFloat64(m.refusals.WithLabelValues(RefusedReadBytes)); got != 2 {
		t.Fatalf("byte-budget refusals counted %v, want 2", got)
	}
}

// Submissions are charged per transaction: to the client (429) and to the
// node (503), before the backend sees any; what was refused never reached
// it.
func TestSubmissionBudgets(t *testing.T) {
	f := newFake(t)
	lim := DefaultLimits()
	lim.SubmitTxRate, lim.SubmitTxBurst = 1, 3
	lim.TotalSubmitTxRate, lim.TotalSubmitTxBurst = 1, 5
	s := New(f, Options{Limits: &lim})
	submit := func(remote string, txs ...string) *httptest.ResponseRecorder {
		var hexes []string
		for _, tx := range txs {
			hexes = append(hexes, `"`+hexOf(tx)+`"`)
		}
		req := httptest.NewRequest("POST", "/v1/transactions", strings.NewReader(`{"txs":[`+strings.Join(hexes, ",")+`]}`))
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	if rec := submit("192.0.2.1:1", "a", "b", "c"); rec.Code != http.StatusAccepted {
		t.Fatalf("3 transactions within a client's 3: %d %s", rec.Code, rec.Body.String())
	}
	if rec := submit("192.0.2.1:1", "d"); rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "transactions per second") {
		t.Fatalf("a fourth from the same client: %d %s", rec.Code, rec.Body.String())
	}
	if rec := submit("192.0.2.2:1", "e", "f"); rec.Code != http.StatusAccepted {
		t.Fatalf("another client within the node's 5: %d %s", rec.Code, rec.Body.String())
	}
	if rec := submit("192.0.2.3:1", "g"); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "all clients") {
		t.Fatalf("a sixth for the node: %d %s", rec.Code, rec.Body.String())
	}
	if got := len(f.submitted); got != 5 {
		t.Fatalf("the backend saw %d transactions, want the 5 admitted", got)
	}
}

// A read from the store learns its size at the end: it starts only while
// the node's byte budget is not in debt, and its answer is paid for after,
// so the next read waits for the budget to refill.
func TestStoreReadsPayForTheirAnswers(t *testing.T) {
	f := &syncFake{fakeBackend: newFake(t)}
	lim := DefaultLimits()
	lim.ReadBytesRate, lim.ReadBytesBurst = 1, len(follower.EncodeRange(nil, nil))
	s := New(f, Options{Limits: &lim})
	if rec := rangeRequest(s, "192.0.2.1:1", "/v1/sync/range?from=2&count=4"); rec.Code != http.StatusOK {
		t.Fatalf("a read within the budget: %d", rec.Code)
	}
	if rec := rangeRequest(s, "192.0.2.2:1", "/v1/sync/range?from=2&count=4"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("a read after the budget was spent: %d", rec.Code)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d store reads, want 1: the refused read must not read", n)
	}
}
