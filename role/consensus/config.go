package consensus

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/network"
)

// Config is everything a node needs to run. The CLI fills it from the home
// directory (genesis, keys, floe.toml) and environment overrides.
type Config struct {
	Genesis *genesis.Genesis
	Keys    *genesis.NodeKeys
	// DataDir holds the Pebble database and the evidence log. It may be
	// empty when Store is set (the evidence log then stays in memory).
	DataDir string
	// Store, when set, replaces the Pebble database in DataDir (tests run
	// on storage.Memory). The node closes it when it stops.
	Store ledger.Store
	// Transport, when set, replaces the TLS transport to the peers (tests
	// run on a network.MemoryNetwork). The node closes it when it stops.
	Transport network.Transport
	// P2PListen is the address to accept peer connections on; empty means
	// this node's address from the genesis file.
	P2PListen string

	MempoolMaxTxs   int // default 200,000
	MempoolMaxBytes int // default 256 MiB
	// VerifyWorkers is the size of the signature verification pool
	// (default: number of CPUs).
	VerifyWorkers int
	// VerifyQueue bounds messages waiting for verification (default 8192);
	// beyond it messages are dropped and counted.
	VerifyQueue int
	// StatusInterval is how often the node tells peers its finalized height
	// (height polls for sync; default 1s).
	StatusInterval time.Duration
	// GossipInterval batches transactions gossiped to peers (default 5ms).
	GossipInterval time.Duration

	// GuaranteeExpiry is how many main-chain blocks a guarantee stays
	// includable above its reference block in a pipeline network (default
	// collection.DefaultExpiry). It is a rule every replica and cluster
	// must share: set it only in tests.
	GuaranteeExpiry uint64
	// GuaranteePoolSize bounds guarantees waiting for a block (default
	// 10,000, about 2 MB); beyond it intake answers busy, retry.
	GuaranteePoolSize int
	// GuaranteeIndexCap bounds the included collections the fork index
	// holds (0: collection.DefaultIndexCap).
	GuaranteeIndexCap int
	// ReceiptPoolSize bounds the heights receipts are kept for (default 256).
	ReceiptPoolSize int

	Logger  *slog.Logger
	Metrics prometheus.Registerer // nil: metrics are not registered anywhere

	// Faults are test-only defects (faults.go); zero in production.
	Faults Faults
}

func (c *Config) withDefaults() error {
	if c.Genesis == nil {
		return fmt.Errorf("node config: genesis is required")
	}
	if c.DataDir == "" && c.Store == nil {
		return fmt.Errorf("node config: data directory is required")
	}
	if c.MempoolMaxTxs == 0 {
		c.MempoolMaxTxs = 200_000
	}
	if c.MempoolMaxBytes == 0 {
		c.MempoolMaxBytes = 256 << 20
	}
	if c.VerifyQueue == 0 {
		c.VerifyQueue = 8192
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = time.Second
	}
	if c.GossipInterval == 0 {
		c.GossipInterval = 5 * time.Millisecond
	}
	if c.GuaranteeExpiry == 0 {
		c.GuaranteeExpiry = collection.DefaultExpiry
	}
	if c.GuaranteePoolSize == 0 {
		c.GuaranteePoolSize = 10_000
	}
	if c.ReceiptPoolSize == 0 {
		c.ReceiptPoolSize = 256
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
