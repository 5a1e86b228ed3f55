package access

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
)

// Defaults of Config.
const (
	DefaultRedundancy     = 2
	DefaultQueueTxs       = 50_000
	DefaultBatchTxs       = 256
	DefaultBatchWait      = 5 * time.Millisecond
	DefaultForwardRetries = 3
	DefaultTrackTxs       = 1_000_000
	DefaultPollInterval   = time.Second
	DefaultPollWorkers    = 4
	DefaultPollRate       = 200
	DefaultMaxSubscribers = 16
	DefaultSubscriberBuf  = 8192
	DefaultRequestTimeout = 5 * time.Second
	DefaultRefWait        = 2 * time.Second
)

// Config configures the transaction path of an access node. Zero values
// take the defaults.
type Config struct {
	// Chain reads finalized main-chain blocks; Directory answers epochs
	// and clusters. Both required.
	Chain     Chain
	Directory Directory
	// Decode decodes a finalized block's payload (default payload.Decode
	// under PayloadLimits; a Node passes the observer's cache).
	Decode        func(b *model.Block) (*payload.Payload, error)
	PayloadLimits payload.Limits

	// Expiry is the rules' expiry in main-chain blocks (default
	// collection.DefaultExpiry); TxLimits bound one transaction
	// (collection.DefaultLimits).
	Expiry   uint64
	TxLimits collection.Limits
	// CollectionLimits bound a collection read from a guarantor (default:
	// 10,000 transactions, 64 MiB, TxLimits.MaxTxBytes each; generous,
	// since a collection is checked against its ID).
	CollectionLimits collection.Limits

	// RefWait is how long a submission whose reference block this node
	// does not hold yet waits for it to arrive before it is refused
	// (default 2s; negative: no wait). Access nodes follow the chain a
	// little apart, so a reference another node just handed out is
	// normal; the request is answered when the block arrives.
	RefWait time.Duration

	// Redundancy is how many members of the cluster each transaction is
	// sent to (default 2; fewer when the cluster is smaller).
	Redundancy int
	// QueueTxs bounds each cluster's forwarding queue (default 50,000):
	// beyond it, Submit refuses with ErrBusy.
	QueueTxs int
	// BatchTxs and BatchWait bound one forwarded batch: up to BatchTxs
	// transactions, or what arrived within BatchWait of the first.
	BatchTxs  int
	BatchWait time.Duration
	// ForwardRetries is how many more rounds over the cluster's members a
	// batch gets when none took it (503, unreachable), with doubling
	// backoff from 50 ms (default 3; negative: no retry).
	ForwardRetries int

	// TrackTxs bounds the tracked transactions (default 1,000,000); the
	// oldest finished ones are forgotten first, and when every tracked
	// one is unfinished Submit refuses with ErrBusy.
	TrackTxs int
	// PollInterval is how often a pending transaction's collectors are
	// asked whether it was collected (default 1s); PollWorkers bounds the
	// requests in flight (default 4).
	PollInterval time.Duration
	PollWorkers  int
	// PollRate bounds the polls per second over all pending transactions
	// (default 200): a collector answers each with an HTTP request, and
	// finality is learned from finalized guarantees' collections anyway,
	// so polling only dates the collected stage and must not load the
	// collectors.
	PollRate int

	// MaxSubscribers bounds the event stream's subscribers (default 16),
	// SubscriberBuffer each one's backlog (default 8192 events): a
	// subscriber that falls that far behind is dropped.
	MaxSubscribers   int
	SubscriberBuffer int

	// HTTPClient reaches the collectors (default: one with
	// RequestTimeout, 5s).
	HTTPClient     *http.Client
	RequestTimeout time.Duration
	// Now is the clock of the stage times (default time.Now).
	Now func() time.Time

	// Accounts, in a network of accounts, checks signed transactions at
	// ingress and serves accounts (accounts.go); nil: transactions are
	// opaque bodies (the key/value application).
	Accounts *Accounts

	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

func (c *Config) defaults() error {
	if c.Chain == nil || c.Directory == nil {
		return errors.New("access: Chain and Directory are required")
	}
	if c.Expiry == 0 {
		c.Expiry = collection.DefaultExpiry
	}
	if c.TxLimits == (collection.Limits{}) {
		c.TxLimits = collection.DefaultLimits()
	}
	if c.CollectionLimits == (collection.Limits{}) {
		c.CollectionLimits = collection.Limits{MaxTxs: 10_000, MaxBytes: 64 << 20, MaxTxBytes: c.TxLimits.MaxTxBytes}
	}
	if c.Decode == nil {
		lim := c.PayloadLimits
		c.Decode = func(b *model.Block) (*payload.Payload, error) { return payload.Decode(b.Payload, lim) }
	}
	setInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setInt(&c.Redundancy, DefaultRedundancy)
	setInt(&c.QueueTxs, DefaultQueueTxs)
	setInt(&c.BatchTxs, DefaultBatchTxs)
	setInt(&c.TrackTxs, DefaultTrackTxs)
	setInt(&c.PollWorkers, DefaultPollWorkers)
	setInt(&c.PollRate, DefaultPollRate)
	setInt(&c.MaxSubscribers, DefaultMaxSubscribers)
	setInt(&c.SubscriberBuffer, DefaultSubscriberBuf)
	if c.ForwardRetries < 0 {
		c.ForwardRetries = 0
	} else if c.ForwardRetries == 0 {
		c.ForwardRetries = DefaultForwardRetries
	}
	if c.RefWait == 0 {
		c.RefWait = DefaultRefWait
	}
	if c.BatchWait <= 0 {
		c.BatchWait = DefaultBatchWait
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.RequestTimeout}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if a := c.Accounts; a != nil {
		if a.Chain == (model.ChainID{}) {
			return errors.New("access: Accounts needs the chain ID")
		}
		setInt(&a.CacheAccounts, 10_000)
		setInt(&a.Workers, 2)
		if a.CacheTTL <= 0 {
			a.CacheTTL = 5 * time.Second
		}
	}
	return nil
}
