package localnet

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	"github.com/floe-bft/floe/client"
)

// AccessEventsPath is the access nodes' stream of the status transitions
// of the transactions submitted through them (docs/pipeline.md, "The
// access role").
const AccessEventsPath = "/v1/access/events"

// accessEvent is one transition on that stream.
type accessEvent struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Height     uint64 `json:"height,omitempty"`
	Collection string `json:"collection,omitempty"`
}

// The stages a pipeline transaction goes through after submission.
const (
	stageCollected = iota
	stageFinalized
	stageExecuted
	numStages
)

var stageNames = [numStages]string{"collected", "finalized", "executed"}

// stageTracker follows the access nodes' transition streams and measures,
// for each transaction the load submitted, the latency from submission
// to each stage. A transaction leaves the pending set when executed (or
// expired: refused, not lost).
type stageTracker struct {
	pending *pendingTxs
	// settled, if set, is told when a transaction's block is finalized
	// (or it was executed: spent true) or it expired (spent false).
	settled func(id [32]byte, spent bool)

	mu       sync.Mutex
	counting bool
	start    time.Time
	seen     map[[32]byte]uint8 // stages reached, by bit; bounded by the load's transactions
	hist     [numStages]*latencyHist
	count    [numStages]int64
	// transitions reported more than once for one transaction and stage
	// (an access node reports each once: more means a transaction was
	// collected, finalized or executed twice).
	repeats     int64
	expired     int64
	collections map[string]int // this load's transactions per collection
	perSecond   []int64        // transactions executed in each second
}

func newStageTracker(pending *pendingTxs) *stageTracker {
	t := &stageTracker{pending: pending, seen: map[[32]byte]uint8{}, collections: map[string]int{}}
	for i := range t.hist {
		t.hist[i] = newLatencyHist()
	}
	return t
}

func (t *stageTracker) startCounting() {
	t.mu.Lock()
	t.counting, t.start = true, time.Now()
	t.mu.Unlock()
}

// run follows one access node's stream until ctx ends, reconnecting.
func (t *stageTracker) run(ctx context.Context, c *client.Client, connected func()) {
	var once sync.Once
	for ctx.Err() == nil {
		_ = c.Events(ctx, AccessEventsPath, func() { once.Do(connected) }, func(ev client.StreamEvent) error {
			var e accessEvent
			if json.Unmarshal(ev.Data, &e) == nil && e.ID != "" {
				t.event(&e)
			}
			return nil
		})
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (t *stageTracker) event(e *accessEvent) {
	var id [32]byte
	if n, err := hex.Decode(id[:], []byte(e.ID)); err != nil || n != 32 {
		return
	}
	now := time.Now()
	stage := -1
	for i, name := range stageNames {
		if e.Status == name {
			stage = i
		}
	}
	if t.settled != nil {
		switch {
		case stage == stageFinalized || stage == stageExecuted:
			t.settled(id, true)
		case e.Status == "expired":
			t.settled(id, false)
		}
	}
	submitted, ok := t.pending.get(id)
	if !ok {
		return // not this load's, or already executed
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Status == "expired" {
		t.pending.remove(id)
		delete(t.seen, id)
		t.expired++
		return
	}
	if stage < 0 {
		return
	}
	bit := uint8(1) << stage
	if t.seen[id]&bit != 0 {
		t.repeats++
		return
	}
	t.seen[id] |= bit
	if stage == stageCollected && e.Collection != "" {
		t.collections[e.Collection]++
	}
	if stage == stageExecuted {
		t.pending.remove(id)
		delete(t.seen, id)
	}
	if !t.counting {
		return
	}
	t.count[stage]++
	t.hist[stage].add(now.Sub(submitted))
	if stage == stageExecuted {
		if sec := int(now.Sub(t.start) / time.Second); sec >= 0 && sec < maxRunSeconds {
			for len(t.perSecond) <= sec {
				t.perSecond = append(t.perSecond, 0)
			}
			t.perSecond[sec]++
		}
	}
}

// StageLatency is the latency from submission to one stage.
type StageLatency struct {
	Count  int64   `json:"count"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MeanMS float64 `json:"mean_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// stages reads the latencies per stage, the collections' sizes (mean,
// max; counting this load's transactions) and the executed per second.
func (t *stageTracker) stages() (lat map[string]StageLatency, meanCol float64, maxCol int, perSecond []int64, repeats, expired int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lat = map[string]StageLatency{}
	for i, name := range stageNames {
		h := t.hist[i]
		lat[name] = StageLatency{Count: t.count[i], P50MS: round2(h.quantile(0.5)), P99MS: round2(h.quantile(0.99)),
			MeanMS: round2(h.mean()), MaxMS: round2(h.maxMS)}
	}
	total := 0
	for _, n := range t.collections {
		total += n
		maxCol = max(maxCol, n)
	}
	if len(t.collections) > 0 {
		meanCol = round2(float64(total) / float64(len(t.collections)))
	}
	return lat, meanCol, maxCol, append([]int64(nil), t.perSecond...), t.repeats, t.expired
}
