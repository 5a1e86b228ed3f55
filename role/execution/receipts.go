package execution

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/payload"
)

// ReceiptConfig tunes receipt delivery. Zero values take the defaults.
type ReceiptConfig struct {
	// RequestTimeout bounds one submission (default 5s).
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before retrying a consensus
	// node that refused or did not answer (default 200ms doubling up to 5s).
	MinBackoff, MaxBackoff time.Duration
	// RewindEvery is how often a deliverer checks that the chain keeps
	// carrying this node's receipts (default 5s; see rewind).
	RewindEvery time.Duration
}

func (c *ReceiptConfig) defaults() {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(5*time.Second, c.MinBackoff)
	}
	if c.RewindEvery <= 0 {
		c.RewindEvery = 5 * time.Second
	}
}

// receiptSender hands every consensus node a receipt for every executed
// height, in height order: a receipt chains onto the previous height's
// result, so a block can carry it only once the one below is
// incorporated. Each consensus node has a cursor, the lowest height it has
// not answered for; a refusal of the receipt itself (invalid, too old)
// moves the cursor on, anything else (not finalized there yet, busy,
// unreachable) is retried with backoff. Receipts are signed once, when
// their height is executed, and kept for a bounded window of recent
// heights; an older one a slow node still needs is signed again from the
// stored result. Goroutines: one per consensus node.
type receiptSender struct {
	cfg   ReceiptConfig
	key   crypto.PrivateKey
	chain model.ChainID
	self  model.NodeID
	// load returns the published result of an executed height (from the
	// store), for receipts no longer in the recent window.
	load func(height uint64) (*payload.ExecutionResult, error)
	http *http.Client
	m    *metrics
	log  *slog.Logger

	mu     sync.Mutex
	recent map[uint64]*payload.Receipt // the newest recentReceipts heights
	top    uint64                      // newest height signed
	slots  []*receiptSlot

	// carried is the newest height whose receipt of this node a
	// finalized block carries (Carried).
	carried atomic.Uint64
}

// recentReceipts bounds the signed receipts kept in memory.
const recentReceipts = 1024

// resendWindow is how many heights below the newest executed one a
// restarted node offers again (a consensus node that already took or
// included one answers it at no cost).
const resendWindow = 256

// receiptSlot is one consensus node's cursor.
type receiptSlot struct {
	url    string
	signal chan struct{} // capacity 1
	mu     sync.Mutex
	next   uint64 // lowest height not answered yet
}

func newReceiptSender(cfg ReceiptConfig, key crypto.PrivateKey, chain model.ChainID, self model.NodeID, targets []string,
	load func(uint64) (*payload.ExecutionResult, error), hc *http.Client, m *metrics, log *slog.Logger) *receiptSender {
	cfg.defaults()
	if hc == nil {
		hc = &http.Client{}
	}
	s := &receiptSender{cfg: cfg, key: key, chain: chain, self: self, load: load, http: hc, m: m, log: log,
		recent: map[uint64]*payload.Receipt{}}
	for _, u := range targets {
		s.slots = append(s.slots, &receiptSlot{url: u, signal: make(chan struct{}, 1), next: 1})
	}
	return s
}

// start positions every cursor a little below the newest executed height
// (a restart offers the recent heights again).
func (s *receiptSender) start(executed uint64) {
	s.mu.Lock()
	s.top = executed
	s.mu.Unlock()
	from := uint64(1)
	if executed > resendWindow {
		from = executed - resendWindow
	}
	for _, sl := range s.slots {
		sl.mu.Lock()
		sl.next = max(sl.next, from)
		sl.mu.Unlock()
	}
}

// Executed signs the receipt of a newly executed height's published
// result and wakes every deliverer. It runs on the execution loop.
func (s *receiptSender) Executed(r *payload.ExecutionResult) error {
	rc, err := payload.SignReceipt(s.key, s.chain, s.self, r)
	if err != nil {
		return fmt.Errorf("sign the receipt of height %d: %w", r.Height, err)
	}
	s.mu.Lock()
	s.recent[r.Height] = rc
	if r.Height > recentReceipts {
		delete(s.recent, r.Height-recentReceipts)
	}
	s.top = max(s.top, r.Height)
	s.mu.Unlock()
	s.m.receiptHeight.Set(float64(r.Height))
	for _, sl := range s.slots {
		notify(sl.signal)
	}
	return nil
}

// Carried is told the height of a receipt of this node a finalized block
// carries.
func (s *receiptSender) Carried(height uint64) {
	for {
		cur := s.carried.Load()
		if height <= cur || s.carried.CompareAndSwap(cur, height) {
			return
		}
	}
}

// rewind moves the cursor back to just above the newest carried height
// when the chain stopped carrying this node's receipts and the cursor is
// ahead of it (at most resendWindow back): the receipts in between went
// missing on the way (every consensus node restarted and lost its pool,
// say) and are offered again, since a receipt can only chain onto the one
// below it.
func (sl *receiptSlot) rewind(carried, newest uint64) bool {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	to := carried + 1
	if newest > resendWindow {
		to = max(to, newest-resendWindow)
	}
	if to >= sl.next {
		return false
	}
	sl.next = to
	return true
}

// receipt returns the signed receipt of height.
func (s *receiptSender) receipt(height uint64) (*payload.Receipt, error) {
	s.mu.Lock()
	rc, ok := s.recent[height]
	s.mu.Unlock()
	if ok {
		return rc, nil
	}
	r, err := s.load(height)
	if err != nil {
		return nil, err
	}
	return payload.SignReceipt(s.key, s.chain, s.self, r)
}

func (s *receiptSender) newest() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.top
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run starts one deliverer per consensus node; goFunc runs a goroutine
// under the node's lifetime.
func (s *receiptSender) run(ctx context.Context, goFunc func(func())) {
	for _, sl := range s.slots {
		goFunc(func() { s.deliver(ctx, sl) })
	}
}

func (sl *receiptSlot) cursor() uint64 {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.next
}

func (sl *receiptSlot) advance(past uint64) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	sl.next = max(sl.next, past+1)
}

// AnsweredHeight is the newest height the node answered for.
func (sl *receiptSlot) AnsweredHeight() uint64 { return sl.cursor() - 1 }

// deliver submits the node's receipts from its cursor up to the newest
// executed height, one at a time, retrying with backoff what it may take
// later.
func (s *receiptSender) deliver(ctx context.Context, sl *receiptSlot) {
	c := client.New(sl.url, client.WithHTTPClient(s.http))
	backoff := s.cfg.MinBackoff
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	check := time.NewTicker(s.cfg.RewindEvery)
	defer check.Stop()
	lastCarried := s.carried.Load()
	for {
		for h := sl.cursor(); h <= s.newest(); h = sl.cursor() {
			rc, err := s.receipt(h)
			if err != nil {
				s.log.Error("receipt of an executed height", "height", h, "err", err)
				if !wait(s.cfg.MaxBackoff) {
					return
				}
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
			err = c.SubmitReceipt(rctx, rc)
			cancel()
			switch {
			case err == nil:
				sl.advance(h)
				s.m.receiptsSent.Inc()
				backoff = s.cfg.MinBackoff
			case client.IsStatus(err, http.StatusBadRequest) || client.IsStatus(err, http.StatusForbidden):
				// The node refused the receipt itself (too old, or not
				// ours to give): resending cannot change that.
				s.m.receiptFailures.Inc()
				s.log.Warn("receipt refused; moving on", "consensus_node", sl.url, "height", h, "err", err)
				sl.advance(h)
			default:
				if ctx.Err() != nil {
					return
				}
				s.m.receiptFailures.Inc()
				s.log.Debug("receipt not taken yet; retrying", "consensus_node", sl.url, "height", h, "err", err)
				if !wait(backoff) {
					return
				}
				backoff = min(2*backoff, s.cfg.MaxBackoff)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-sl.signal:
		case <-check.C:
			carried := s.carried.Load()
			if carried == lastCarried && sl.rewind(carried, s.newest()) {
				s.log.Info("receipts not carried lately: offering them again", "consensus_node", sl.url, "from", carried+1)
			}
			lastCarried = carried
		}
	}
}
