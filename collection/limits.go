package collection

// Default limits, Flow's collection knobs (DESIGN.md §6).
const (
	DefaultMaxTxs     = 100
	DefaultMaxBytes   = 3 << 20
	DefaultMaxTxBytes = 64 << 10
)

// Limits bound a collection. Every decoder takes them, so nothing larger is
// ever allocated, and Rules apply them to what a cluster agrees on.
type Limits struct {
	// MaxTxs bounds the transactions in one collection.
	MaxTxs int
	// MaxBytes bounds a collection's encoding (Collection.Size).
	MaxBytes int
	// MaxTxBytes bounds one transaction's encoding (Tx.Size): reference
	// block, length and body.
	MaxTxBytes int
}

// DefaultLimits returns 100 transactions, 3 MiB per collection and 64 KiB
// per transaction.
func DefaultLimits() Limits {
	return Limits{MaxTxs: DefaultMaxTxs, MaxBytes: DefaultMaxBytes, MaxTxBytes: DefaultMaxTxBytes}
}

// valid reports whether every limit is positive and a transaction of the
// largest size fits a collection.
func (l Limits) valid() bool {
	return l.MaxTxs > 0 && l.MaxTxBytes > txHeader && l.MaxBytes >= collectionHeader+l.MaxTxBytes
}
