package api

import (
	"container/list"
	"net/http"
	"sync"
	"time"

	"github.com/floe-bft/floe/follower"
)

// Costs of expensive reads in blocks, charged to the client's read budget
// (Limits.ReadBlockRate). A range or chain read costs what it asks for; a
// light proof reads a segment of a few blocks and a Merkle path; a block
// with its transactions listed is one block but up to megabytes of JSON.
const (
	maxRangeCost    = follower.MaxRangeBlocks
	lightProofCost  = 16
	blockWithTxCost = 8
	// MaxAnswerBytes is the largest range answer (ledger's bound) and
	// more than the largest chain answer: the node-wide byte budget's
	// burst must hold one.
	MaxAnswerBytes = 16 << 20
)

// admitRead runs admission control for an expensive read of cost blocks:
// the client's read budget (429), then one of the node's expensive-read
// slots (503 after Limits.ExpensiveWait). It answers the refusal itself and
// reports ok false; on ok the caller must call release when done.
func (s *Server) admitRead(w http.ResponseWriter, r *http.Request, cost int) (release func(), ok bool) {
	client := clientIP(r)
	if ok, retry := s.readBudget.charge(client, cost); !ok {
		s.refuse(w, http.StatusTooManyRequests, RefusedReadCost, retry,
			"rate limit: this read costs %d blocks and %s has used its budget of %g blocks per second; retry later", cost, client, s.limits.ReadBlockRate)
		return nil, false
	}
	if s.readSlots == nil {
		return func() {}, true
	}
	select {
	case s.readSlots <- struct{}{}:
		return func() { <-s.readSlots }, true
	default:
	}
	timer := time.NewTimer(s.limits.ExpensiveWait)
	defer timer.Stop()
	select {
	case s.readSlots <- struct{}{}:
		return func() { <-s.readSlots }, true
	case <-r.Context().Done():
		// The client is gone: nobody reads an answer. Counted as busy, the
		// reason it waited.
		s.metrics.Refused(RefusedBusy)
		return nil, false
	case <-timer.C:
		s.refuse(w, http.StatusServiceUnavailable, RefusedBusy, time.Second,
			"busy: %d expensive reads (block ranges, chain, proofs) are being served; retry later", cap(s.readSlots))
		return nil, false
	}
}

// admitBytes charges an answer of n bytes (a block range or chain read,
// from the cache or not) to the node's byte budget (Limits.ReadBytesRate)
// before it is written; over it the request gets a 503 saying when to come
// back. A cached answer costs no store reads, but writing it costs CPU and
// bandwidth all the same: about 30 cached 7-10 MB answers a second from a
// client with a few addresses took 0.6 of a core from consensus.
func (s *Server) admitBytes(w http.ResponseWriter, n int) bool {
	if ok, retry := s.readBytes.charge("", n); !ok {
		s.refuseBytes(w, retry)
		return false
	}
	return true
}

// admitBytesBefore is the byte budget for an answer still to be read from
// the store, whose size is known only at the end: the read starts only
// while the budget is not in debt, and its answer is paid for after
// (spendBytes), so the work done is never thrown away.
func (s *Server) admitBytesBefore(w http.ResponseWriter) bool {
	if debt, retry := s.readBytes.inDebt(""); debt {
		s.refuseBytes(w, retry)
		return false
	}
	return true
}

// spendBytes pays for an answer admitBytesBefore let through.
func (s *Server) spendBytes(n int) { s.readBytes.spend("", n) }

func (s *Server) refuseBytes(w http.ResponseWriter, retry time.Duration) {
	s.refuse(w, http.StatusServiceUnavailable, RefusedReadBytes, retry,
		"busy: this node serves %g MiB of blocks per second to all clients together; retry later", s.limits.ReadBytesRate/(1<<20))
}

// rangeCache holds answers that can never change (ranges of blocks below
// the finalized height), bounded by their total size. Followers catching
// up ask for the same recent ranges; serving them from memory costs no
// store reads and no encoding.
type rangeCache struct {
	mu      sync.Mutex
	max     int64
	size    int64
	order   *list.List // of *cacheEntry, most recent at the front
	byKey   map[string]*list.Element
	metrics *HTTPMetrics
}

type cacheEntry struct {
	key  string
	body []byte
}

// newRangeCache returns nil (no caching) when max is 0.
func newRangeCache(max int64, m *HTTPMetrics) *rangeCache {
	if max <= 0 {
		return nil
	}
	return &rangeCache{max: max, order: list.New(), byKey: make(map[string]*list.Element), metrics: m}
}

// get returns a cached answer (nil, false if none). The caller must not
// modify it.
func (c *rangeCache) get(key string) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		c.metrics.cache.WithLabelValues("miss").Inc()
		return nil, false
	}
	c.metrics.cache.WithLabelValues("hit").Inc()
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).body, true
}

// put caches an immutable answer, evicting the least recently used ones
// to stay within the bound. An answer larger than a quarter of the bound
// is not cached: it would evict too much for one key.
func (c *rangeCache) put(key string, body []byte) {
	if c == nil || int64(len(body)) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok {
		return
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, body: body})
	c.size += int64(len(body))
	for c.size > c.max {
		oldest := c.order.Back()
		e := oldest.Value.(*cacheEntry)
		c.order.Remove(oldest)
		delete(c.byKey, e.key)
		c.size -= int64(len(e.body))
	}
}

// bytes is the total size of the cached answers.
func (c *rangeCache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
