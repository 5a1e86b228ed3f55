package api

import (
	"fmt"
	"time"
)

// Limits are the API's admission limits: what one client, and all clients
// together, can make a node spend. docs/security.md gives the reasoning
// for each default; floe.toml's [api] section sets them.
type Limits struct {
	// MaxConnections bounds open API connections (0: no bound besides the
	// file-descriptor budget Host computes). Beyond it a new connection
	// gets a 503 and is closed.
	MaxConnections int
	// MaxConnectionsPerIP bounds one client address's open connections
	// (0: no bound). Beyond it a new connection gets a 429 and is closed.
	MaxConnectionsPerIP int
	// RequestRate is each client's sustained requests per second, and
	// RequestBurst how many it may send at once (RequestRate 0: no limit).
	RequestRate  float64
	RequestBurst int
	// MaxClients bounds the per-client tables (rates, read budgets,
	// streams); the least recently seen client is forgotten beyond it.
	MaxClients int
	// MaxExpensiveReads bounds expensive reads (block ranges, the chain,
	// light proofs, blocks with transactions) served at once; a request
	// waits up to ExpensiveWait for a slot, then gets a 503.
	MaxExpensiveReads int
	ExpensiveWait     time.Duration
	// ReadBlockRate is each client's sustained budget of blocks read per
	// second through expensive reads, ReadBlockBurst its burst (0: no
	// limit). A 512-block range costs 512.
	ReadBlockRate  float64
	ReadBlockBurst int
	// ReadBytesRate is the node's budget, all clients together, of bytes
	// answered per second by block ranges and chain reads, cached or not
	// (0: no limit); ReadBytesBurst its burst (at least one largest
	// answer). However many addresses a client has, serving history takes
	// only this much of the node's CPU and bandwidth from consensus.
	ReadBytesRate  float64
	ReadBytesBurst int
	// SubmitTxRate is each client's sustained budget of transactions
	// submitted per second, SubmitTxBurst its burst (0: no limit); a
	// request may carry thousands, so the request rate alone does not
	// bound them.
	SubmitTxRate  float64
	SubmitTxBurst int
	// TotalSubmitTxRate is the node's budget of transactions submitted per
	// second by all clients together, TotalSubmitTxBurst its burst (0: no
	// limit): above what the chain can order, intake is refused (503)
	// before it costs the node more than its checks.
	TotalSubmitTxRate  float64
	TotalSubmitTxBurst int
	// RangeCacheBytes bounds the cache of immutable range answers (0: no
	// cache).
	RangeCacheBytes int64
	// MaxStreams bounds open subscriptions (block stream and live sync
	// together); MaxStreamsPerIP one client's.
	MaxStreams      int
	MaxStreamsPerIP int
}

// DefaultLimits are sized for a node on a small machine (2 cores) that
// serves followers, light clients and submitting clients at once: a follower
// catching up at 2,048 blocks/s is far faster than any chain here produces
// blocks, two concurrent expensive reads cost at most about one core, 32
// MiB/s of history is six times what a full-speed chain writes, and 20,000
// submitted transactions a second are more than a 4-node network orders
// (about 17,000 here).
func DefaultLimits() Limits {
	return Limits{
		MaxConnections:      1024,
		MaxConnectionsPerIP: 64,
		RequestRate:         100,
		RequestBurst:        200,
		MaxClients:          10_000,
		MaxExpensiveReads:   2,
		ExpensiveWait:       time.Second,
		ReadBlockRate:       2048,
		ReadBlockBurst:      4096,
		ReadBytesRate:       32 << 20,
		ReadBytesBurst:      64 << 20,
		SubmitTxRate:        5000,
		SubmitTxBurst:       10_000,
		TotalSubmitTxRate:   20_000,
		TotalSubmitTxBurst:  40_000,
		RangeCacheBytes:     64 << 20,
		MaxStreams:          64,
		MaxStreamsPerIP:     4,
	}
}

// Validate rejects negative limits and a burst below one request or one
// full range.
func (l Limits) Validate() error {
	switch {
	case l.MaxConnections < 0 || l.MaxConnectionsPerIP < 0 || l.MaxClients < 0 || l.MaxExpensiveReads < 0 ||
		l.MaxStreams < 0 || l.MaxStreamsPerIP < 0 || l.RangeCacheBytes < 0 || l.ExpensiveWait < 0:
		return fmt.Errorf("api limits must not be negative")
	case l.RequestRate < 0 || l.ReadBlockRate < 0 || l.ReadBytesRate < 0 || l.SubmitTxRate < 0 || l.TotalSubmitTxRate < 0:
		return fmt.Errorf("api rates must not be negative")
	case l.RequestRate > 0 && l.RequestBurst < 1:
		return fmt.Errorf("api rate_burst must be at least 1 when rate_limit is set")
	case l.ReadBytesRate > 0 && l.ReadBytesBurst < MaxAnswerBytes:
		return fmt.Errorf("api read bytes burst must be at least %d (one largest answer) when the read byte rate is set", MaxAnswerBytes)
	case l.SubmitTxRate > 0 && l.SubmitTxBurst < 1, l.TotalSubmitTxRate > 0 && l.TotalSubmitTxBurst < 1:
		return fmt.Errorf("api submit_tx_burst and total_submit_tx_burst must be at least 1 when their rates are set")
	case l.ReadBlockRate > 0 && l.ReadBlockBurst < maxRangeCost:
		return fmt.Errorf("api read_block_burst must be at least %d (one full range) when read_block_rate is set", maxRangeCost)
	}
	return nil
}
