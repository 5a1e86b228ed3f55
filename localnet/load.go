package localnet

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/crypto"
)

// nonceCounterLen is the part of every nonce that makes transactions
// unique: a per-run counter.
const nonceCounterLen = 8

// txShape fixes the layout of the load's transactions so that each one is
// exactly size bytes: a key from a bounded space, a value, and a nonce that
// takes the remainder (at least the unique counter).
type txShape struct {
	size, keyLen, valueLen, nonceLen int
	keySpace                         int
}

// newTxShape lays out size-byte transactions over keySpace keys.
func newTxShape(size, keySpace int) (txShape, error) {
	if keySpace < 1 {
		return txShape{}, fmt.Errorf("key space must be positive")
	}
	s := txShape{size: size, keySpace: keySpace, keyLen: 1 + len(strconv.Itoa(keySpace-1))}
	fixed := kvstore.Overhead + s.keyLen + nonceCounterLen
	if min := fixed + 1; size < min {
		return txShape{}, fmt.Errorf("--tx-size %d is too small: at least %d bytes (encoding overhead, key, value, unique nonce)", size, min)
	}
	if size > kvstore.MaxTxSize {
		return txShape{}, fmt.Errorf("--tx-size %d is too large: at most %d bytes", size, kvstore.MaxTxSize)
	}
	// Split what is left between value and nonce padding: the value is what
	// the state stores, so it should grow with the size too.
	s.valueLen = min(max((size-fixed)/2, 1), kvstore.MaxValueSize)
	s.nonceLen = size - kvstore.Overhead - s.keyLen - s.valueLen
	if s.nonceLen > kvstore.MaxNonceSize {
		return txShape{}, fmt.Errorf("--tx-size %d cannot be laid out", size)
	}
	return s, nil
}

// build makes one transaction with nonce counter n and a random key.
func (s txShape) build(rng *rand.Rand, n uint64, value []byte) []byte {
	key := make([]byte, 0, s.keyLen)
	key = append(key, 'k')
	k := strconv.Itoa(rng.IntN(s.keySpace))
	for i := len(k); i < s.keyLen-1; i++ {
		key = append(key, '0')
	}
	key = append(key, k...)
	nonce := make([]byte, s.nonceLen)
	binary.BigEndian.PutUint64(nonce, n)
	return kvstore.EncodeSet(key, value[:s.valueLen], nonce)
}

// latencyHist is a log-bucketed histogram of latencies: 2% resolution from
// 0.1 ms to over an hour in under a thousand buckets, so percentiles of
// millions of samples cost no memory.
type latencyHist struct {
	counts []uint64
	n      uint64
	sumMS  float64
	maxMS  float64
}

const (
	histMinMS   = 0.1
	histGrowth  = 1.02
	histBuckets = 1000
)

func newLatencyHist() *latencyHist { return &latencyHist{counts: make([]uint64, histBuckets)} }

func (h *latencyHist) add(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	i := 0
	if ms > histMinMS {
		i = int(math.Log(ms/histMinMS) / math.Log(histGrowth))
	}
	h.counts[min(max(i, 0), histBuckets-1)]++
	h.n++
	h.sumMS += ms
	h.maxMS = max(h.maxMS, ms)
}

// quantile returns the q-quantile in milliseconds (the geometric middle of
// its bucket), 0 without samples.
func (h *latencyHist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histMinMS * math.Pow(histGrowth, float64(i)+0.5)
			return min(v, h.maxMS)
		}
	}
	return h.maxMS
}

func (h *latencyHist) mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sumMS / float64(h.n)
}

// pendingTxs maps the IDs of submitted, not yet finalized transactions to
// when they were submitted.
type pendingTxs struct {
	mu sync.Mutex
	m  map[[32]byte]time.Time
}

func newPendingTxs() *pendingTxs { return &pendingTxs{m: make(map[[32]byte]time.Time)} }

func (p *pendingTxs) addAll(ids [][32]byte, t time.Time) {
	p.mu.Lock()
	for _, id := range ids {
		p.m[id] = t
	}
	p.mu.Unlock()
}

func (p *pendingTxs) remove(id [32]byte) (time.Time, bool) {
	p.mu.Lock()
	t, ok := p.m[id]
	if ok {
		delete(p.m, id)
	}
	p.mu.Unlock()
	return t, ok
}

// get is when id was submitted, if it is pending.
func (p *pendingTxs) get(id [32]byte) (time.Time, bool) {
	p.mu.Lock()
	t, ok := p.m[id]
	p.mu.Unlock()
	return t, ok
}

func (p *pendingTxs) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// loadGen submits transactions round-robin to the nodes' APIs, either at a
// fixed rate (open loop: when the nodes fall behind, it skips rather than
// queueing without bound) or, with rate 0, as fast as they accept with a
// bounded number of batches in flight.
type loadGen struct {
	clients []*client.Client
	shape   txShape
	rate    int // tx/s; 0 = max
	// maxPending bounds submitted, unfinalized transactions in max mode
	// (0: only the mempools bound them).
	maxPending int
	batch      int
	inflight   int
	pending    *pendingTxs
	// envelope, if set, wraps each generated body into the transaction
	// sent and gives its ID (a pipeline network's collection.Tx); nil
	// sends the body, whose ID is its hash.
	envelope func(body []byte) (tx []byte, id [32]byte)
	// source, if set, makes the transactions instead of the shape: up to
	// n envelopes with their IDs (fewer when it has no more to give now:
	// the rest counts as skipped). dropped, if set, is told of every
	// transaction that left pending without being finalized (refused,
	// failed request).
	source  func(n int) ([][]byte, [][32]byte, error)
	dropped func(id [32]byte)

	nonce atomic.Uint64
	rr    atomic.Uint64
	// dead marks clients whose node was killed: the load goes elsewhere,
	// as a client of a real network would.
	dead      []atomic.Bool
	submitted atomic.Int64 // accepted by a mempool
	rejected  atomic.Int64 // refused (mempool full, invalid, ...)
	failed    atomic.Int64 // lost to request errors
	skipped   atomic.Int64 // not generated: rate mode fell behind
	lastErr   atomic.Value // string
}

func newLoadGen(clients []*client.Client, shape txShape, rate, maxPending int, pending *pendingTxs) *loadGen {
	g := &loadGen{clients: clients, shape: shape, rate: rate, maxPending: maxPending, pending: pending,
		dead: make([]atomic.Bool, len(clients))}
	// Enough batches in flight to keep every node busy while one is being
	// decoded, few enough that the mempools, not the sockets, absorb load.
	g.inflight = max(4, 2*len(clients))
	if rate == 0 {
		g.batch = 500
	} else {
		// One batch per tick. The whole load comes from one address, and
		// a node admits 100 requests per second per client (docs/security.md):
		// 50 batches a second leave room for the tracker and status
		// polls even when a single node takes it all.
		g.batch = min(max(rate/ticksPerSecond, 1), 1000)
	}
	return g
}

// ticksPerSecond paces a fixed-rate load.
const ticksPerSecond = 50

// run generates load until ctx ends, then waits for the batches in flight.
func (g *loadGen) run(ctx context.Context) {
	batches := make(chan txBatch, g.inflight)
	var wg sync.WaitGroup
	for w := 0; w < g.inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.worker(ctx, batches)
		}()
	}
	g.generate(ctx, batches)
	close(batches)
	wg.Wait()
}

// txBatch is one submission: transactions, and their IDs when the source
// made them (nil: the worker computes them).
type txBatch struct {
	txs [][]byte
	ids [][32]byte
}

func (g *loadGen) makeBatch(rng *rand.Rand, n int, value []byte) txBatch {
	if g.source != nil {
		txs, ids, err := g.source(n)
		if err != nil {
			g.lastErr.Store(err.Error())
		}
		g.skipped.Add(int64(n - len(txs)))
		return txBatch{txs: txs, ids: ids}
	}
	txs := make([][]byte, n)
	for i := range txs {
		txs[i] = g.shape.build(rng, g.nonce.Add(1), value)
	}
	return txBatch{txs: txs}
}

func (g *loadGen) generate(ctx context.Context, batches chan<- txBatch) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	value := make([]byte, g.shape.valueLen)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	if g.rate == 0 {
		for {
			// Closed loop: with a window of unfinalized transactions the
			// nodes run at capacity without the mempools (hundreds of
			// thousands of transactions) turning latency into queueing
			// time.
			for g.maxPending > 0 && g.pending.len() >= g.maxPending {
				select {
				case <-ctx.Done():
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			b := g.makeBatch(rng, g.batch, value)
			if len(b.txs) == 0 {
				// The source has nothing to give (every slot in flight).
				select {
				case <-ctx.Done():
					return
				case <-time.After(2 * time.Millisecond):
				}
				continue
			}
			select {
			case <-ctx.Done():
				return
			case batches <- b:
			}
		}
	}
	start := time.Now()
	tick := time.NewTicker(time.Second / ticksPerSecond)
	defer tick.Stop()
	var generated int64
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			due := int64(float64(g.rate)*now.Sub(start).Seconds()) - generated
			for due > 0 {
				n := int(min(due, int64(g.batch)))
				due -= int64(n)
				generated += int64(n)
				// This goroutine is the only sender, so a free slot stays
				// free; checking first avoids building batches only to
				// drop them.
				if len(batches) < cap(batches) {
					if b := g.makeBatch(rng, n, value); len(b.txs) > 0 {
						batches <- b
					}
				} else {
					g.skipped.Add(int64(n))
				}
			}
		}
	}
}

// drop tells the source a transaction will not be finalized.
func (g *loadGen) drop(id [32]byte) {
	if g.dropped != nil {
		g.dropped(id)
	}
}

// down takes client i out of the rotation.
func (g *loadGen) down(i int) { g.dead[i].Store(true) }

// next picks the next live client, round-robin.
func (g *loadGen) next() *client.Client {
	for range g.clients {
		i := g.rr.Add(1) % uint64(len(g.clients))
		if !g.dead[i].Load() {
			return g.clients[i]
		}
	}
	return g.clients[0] // node0 is never killed
}

// worker submits batches; after a refusal (mempool full) or a failed
// request it backs off, so an overloaded node is given time to drain.
func (g *loadGen) worker(ctx context.Context, batches <-chan txBatch) {
	backoff := time.Duration(0)
	for b := range batches {
		txs, ids := b.txs, b.ids
		if ctx.Err() != nil {
			for _, id := range ids {
				g.drop(id)
			}
			continue // drain without sending
		}
		c := g.next()
		if ids == nil {
			ids = make([][32]byte, len(txs))
			for i, tx := range txs {
				if g.envelope != nil {
					txs[i], ids[i] = g.envelope(tx)
					continue
				}
				ids[i] = crypto.Sum(tx)
			}
		}
		// Recorded before sending: a transaction can be finalized before
		// the answer to its POST arrives.
		g.pending.addAll(ids, time.Now())
		// A request in flight is allowed to finish when the load stops
		// (bounded by the client's timeout): cancelling it would leave
		// transactions the node may have accepted unaccounted for.
		resp, err := c.SubmitBinary(context.WithoutCancel(ctx), txs)
		var ae *client.Error
		full := false
		switch {
		case err != nil && !errors.As(err, &ae):
			for _, id := range ids {
				g.pending.remove(id)
				g.drop(id)
			}
			g.failed.Add(int64(len(txs)))
			g.lastErr.Store(err.Error())
			full = true
		case resp.Accepted+resp.Rejected != len(txs):
			for _, id := range ids {
				g.pending.remove(id)
				g.drop(id)
			}
			g.rejected.Add(int64(len(txs)))
			if err != nil {
				g.lastErr.Store(err.Error())
			}
			full = err != nil && ae.Status == http.StatusServiceUnavailable
		default:
			for _, r := range resp.Results {
				if r.Error == "" || r.Index < 0 || r.Index >= len(ids) {
					continue
				}
				g.pending.remove(ids[r.Index])
				g.drop(ids[r.Index])
				g.rejected.Add(1)
				g.lastErr.Store(r.Error)
				if r.Code == api.CodeFull {
					full = true
				}
			}
			g.submitted.Add(int64(resp.Accepted))
		}
		if full {
			backoff = min(max(2*backoff, 20*time.Millisecond), time.Second)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
		} else {
			backoff = 0
		}
	}
}

// tracker follows one node's block stream and matches finalized
// transactions against the pending ones, measuring submit-to-finalized
// latency. Blocks missed across a reconnect are fetched by height.
type tracker struct {
	c       *client.Client
	pending *pendingTxs

	mu         sync.Mutex
	total      *latencyHist // whole run
	window     *latencyHist // since the last progress line
	lastHeight uint64
	blocks     int64
	blockTx    int64 // transaction slots in blocks (a transaction included twice counts twice)
	matched    int64 // submitted transactions seen finalized (each once)
	counting   bool  // false until the load starts: earlier blocks are not the run's
	gaps       int64
	start      time.Time
	perSecond  []int64 // transactions matched in each second of the run
	// The current Harness window: since the last window_ call.
	win        *latencyHist
	winStart   time.Time
	winBlocks  int64
	winMatched int64
}

func newTracker(c *client.Client, pending *pendingTxs) *tracker {
	return &tracker{c: c, pending: pending, total: newLatencyHist(), window: newLatencyHist(), win: newLatencyHist()}
}

// errStreamDropped ends one stream connection so the tracker reconnects.
var errStreamDropped = errors.New("block stream dropped by the node")

// run follows the stream until ctx ends, reconnecting after errors.
// connected is closed after the first subscription is in place.
func (t *tracker) run(ctx context.Context, connected chan<- struct{}) {
	var once sync.Once
	for ctx.Err() == nil {
		_ = t.c.Stream(ctx, client.BlockQuery{TxIDs: true}, func() { once.Do(func() { close(connected) }) }, func(ev client.StreamEvent) error {
			switch ev.Event {
			case "block":
				var b api.BlockResponse
				if err := json.Unmarshal(ev.Data, &b); err != nil {
					return err
				}
				t.block(ctx, &b)
			case "dropped", "error":
				return errStreamDropped
			}
			return nil
		})
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startCounting marks the start of the measured run.
func (t *tracker) startCounting() {
	t.mu.Lock()
	t.counting, t.start = true, time.Now()
	t.winStart = t.start
	t.mu.Unlock()
}

// maxGapFill bounds how many missed blocks are fetched one by one after a
// reconnect; beyond it they are skipped (and their transactions count as
// unfinalized), which only happens if the tracker was stalled for long.
const maxGapFill = 2000

func (t *tracker) block(ctx context.Context, b *api.BlockResponse) {
	t.mu.Lock()
	last := t.lastHeight
	t.mu.Unlock()
	if last != 0 && b.Height <= last {
		return // seen before a reconnect
	}
	if last != 0 && b.Height > last+1 {
		from := last + 1
		if b.Height-from > maxGapFill {
			t.mu.Lock()
			t.gaps += int64(b.Height - from - maxGapFill)
			t.mu.Unlock()
			from = b.Height - maxGapFill
		}
		for h := from; h < b.Height && ctx.Err() == nil; h++ {
			missed, err := t.c.Block(ctx, h, client.BlockQuery{TxIDs: true})
			if err != nil {
				t.mu.Lock()
				t.gaps++
				t.mu.Unlock()
				continue
			}
			t.record(&missed)
		}
	}
	t.record(b)
}

func (t *tracker) record(b *api.BlockResponse) {
	now := time.Now()
	var lat []time.Duration
	for _, s := range b.TxIDs {
		var id [32]byte
		if _, err := hex.Decode(id[:], []byte(s)); err != nil {
			continue
		}
		if t0, ok := t.pending.remove(id); ok {
			lat = append(lat, now.Sub(t0))
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastHeight = b.Height
	if !t.counting {
		return
	}
	t.blocks++
	if b.TxCount != nil {
		t.blockTx += int64(*b.TxCount)
	}
	t.matched += int64(len(lat))
	if sec := int(now.Sub(t.start) / time.Second); sec >= 0 && sec < maxRunSeconds {
		for len(t.perSecond) <= sec {
			t.perSecond = append(t.perSecond, 0)
		}
		t.perSecond[sec] += int64(len(lat))
	}
	t.winBlocks++
	t.winMatched += int64(len(lat))
	for _, d := range lat {
		t.total.add(d)
		t.window.add(d)
		t.win.add(d)
	}
}

// windowStats returns the Harness window's measurements and starts a new one.
func (t *tracker) windowStats() WindowStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	w := WindowStats{Elapsed: now.Sub(t.winStart), Blocks: t.winBlocks, FinalizedTx: t.winMatched,
		P50MS: round2(t.win.quantile(0.5)), P99MS: round2(t.win.quantile(0.99))}
	t.win, t.winStart, t.winBlocks, t.winMatched = newLatencyHist(), now, 0, 0
	return w
}

// maxRunSeconds bounds the per-second series (a day).
const maxRunSeconds = 86_400

// trackerSnapshot is the tracker's state at one moment.
type trackerSnapshot struct {
	perSecond      []int64
	blocks         int64
	blockTx        int64
	matched        int64
	gaps           int64
	p50, p99       float64 // whole run
	winP50, winP99 float64 // since the previous snapshot
	meanMS, maxMS  float64
}

// snapshot reads the counters and starts a new progress window.
func (t *tracker) snapshot() trackerSnapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := trackerSnapshot{
		perSecond: append([]int64(nil), t.perSecond...),
		blocks:    t.blocks, blockTx: t.blockTx, matched: t.matched, gaps: t.gaps,
		p50: t.total.quantile(0.5), p99: t.total.quantile(0.99),
		winP50: t.window.quantile(0.5), winP99: t.window.quantile(0.99),
		meanMS: t.total.mean(), maxMS: t.total.maxMS,
	}
	t.window = newLatencyHist()
	return s
}
