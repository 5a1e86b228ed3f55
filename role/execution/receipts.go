package execution

import (
	"context"
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
}

// receiptSender signs a receipt for the newest executed height and hands
// it to every consensus node. A newer receipt supersedes an older one for
// inclusion (a block's result is the newest receipt's), so nothing
// queues: the signer signs the newest height when it gets to it, and each
// consensus node has one slot holding the newest receipt not yet
// accepted, retried with backoff. Goroutines: one signer, one per
// consensus node.
type receiptSender struct {
	cfg   ReceiptConfig
	key   crypto.PrivateKey
	chain model.ChainID
	self  model.NodeID
	// source names the block and state root at an executed height.
	source func(height uint64) (block, root model.Identifier, err error)
	http   *http.Client
	m      *metrics
	log    *slog.Logger

	executed atomic.Uint64 // newest executed height told
	signal   chan struct{} // capacity 1
	signed   atomic.Uint64 // height of the newest receipt signed
	slots    []*receiptSlot
}

// receiptSlot is one consensus node's newest receipt not yet accepted.
type receiptSlot struct {
	url    string
	signal chan struct{} // capacity 1
	mu     sync.Mutex
	r      *payload.Receipt
	sent   uint64 // height of the newest receipt it accepted
}

func newReceiptSender(cfg ReceiptConfig, key crypto.PrivateKey, chain model.ChainID, self model.NodeID, targets []string,
	source func(uint64) (model.Identifier, model.Identifier, error), hc *http.Client, m *metrics, log *slog.Logger) *receiptSender {
	cfg.defaults()
	if hc == nil {
		hc = &http.Client{}
	}
	s := &receiptSender{cfg: cfg, key: key, chain: chain, self: self, source: source, http: hc, m: m, log: log,
		signal: make(chan struct{}, 1)}
	for _, u := range targets {
		s.slots = append(s.slots, &receiptSlot{url: u, signal: make(chan struct{}, 1)})
	}
	return s
}

// Executed is told each executed height (ledger.Hooks.Executed); it never
// blocks.
func (s *receiptSender) Executed(height uint64) {
	s.executed.Store(height)
	notify(s.signal)
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run starts the signer and one deliverer per consensus node; go runs a
// goroutine under the node's lifetime.
func (s *receiptSender) run(ctx context.Context, goFunc func(func())) {
	goFunc(func() { s.signLoop(ctx) })
	for _, sl := range s.slots {
		goFunc(func() { s.deliver(ctx, sl) })
	}
}

func (s *receiptSender) signLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.signal:
		}
		h := s.executed.Load()
		if h <= s.signed.Load() {
			continue
		}
		r, err := s.sign(h)
		if err != nil {
			// The ledger executed h, so its block and root exist: this is
			// a store error; the next executed height tries again.
			s.log.Error("sign receipt", "height", h, "err", err)
			continue
		}
		s.offer(r)
	}
}

func (s *receiptSender) sign(height uint64) (*payload.Receipt, error) {
	block, root, err := s.source(height)
	if err != nil {
		return nil, err
	}
	return payload.SignReceipt(s.key, s.chain, s.self, block, height, root)
}

// offer puts r in every slot whose receipt is older.
func (s *receiptSender) offer(r *payload.Receipt) {
	s.signed.Store(r.Height)
	s.m.receiptHeight.Set(float64(r.Height))
	for _, sl := range s.slots {
		sl.mu.Lock()
		if sl.r == nil || r.Height > sl.r.Height {
			sl.r = r
		}
		sl.mu.Unlock()
		notify(sl.signal)
	}
}

// next returns the slot's receipt if it is newer than what the node
// accepted.
func (sl *receiptSlot) next() *payload.Receipt {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.r == nil || sl.r.Height <= sl.sent {
		return nil
	}
	return sl.r
}

func (sl *receiptSlot) accepted(height uint64) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	sl.sent = max(sl.sent, height)
}

// SentHeight is the height of the newest receipt the node accepted.
func (sl *receiptSlot) SentHeight() uint64 {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.sent
}

// deliver submits the slot's newest receipt whenever it changes, retrying
// with backoff (always the newest at the time) until the node accepts.
func (s *receiptSender) deliver(ctx context.Context, sl *receiptSlot) {
	c := client.New(sl.url, client.WithHTTPClient(s.http))
	backoff := s.cfg.MinBackoff
	for {
		select {
		case <-ctx.Done():
			return
		case <-sl.signal:
		}
		for r := sl.next(); r != nil; r = sl.next() {
			rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
			err := c.SubmitReceipt(rctx, r)
			cancel()
			if err == nil {
				sl.accepted(r.Height)
				s.m.receiptsSent.Inc()
				backoff = s.cfg.MinBackoff
				continue
			}
			if ctx.Err() != nil {
				return
			}
			s.m.receiptFailures.Inc()
			s.log.Debug("receipt not accepted; retrying with the newest", "consensus_node", sl.url, "height", r.Height, "err", err)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, s.cfg.MaxBackoff)
		}
	}
}
