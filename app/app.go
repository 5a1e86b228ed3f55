// Package app defines the replicated application: what executes finalized
// blocks. The node calls it from one goroutine, in height order; every
// method must be deterministic given the same sequence of blocks.
package app

import (
	"errors"

	"github.com/floe-bft/floe/storage"
)

// ErrInvalidTx wraps every reason a transaction is rejected before it
// enters the mempool or a block.
var ErrInvalidTx = errors.New("invalid transaction")

// Application executes transactions and commits to its state.
type Application interface {
	// CheckTx validates a transaction without executing it (mempool
	// admission, and replicas validating a proposed block's payload).
	CheckTx(tx []byte) error
	// Execute applies the transactions of one finalized block in order and
	// returns each result, the state writes, and the new state root. It must
	// not persist anything itself: the node stores the writes with the
	// results in one batch.
	Execute(height uint64, txs [][]byte) (results []Result, writes []storage.KV, root [32]byte, err error)
	// Root is the current state root.
	Root() [32]byte
	// Prove returns the value of key (nil if absent) and a proof of it (or
	// of its absence) against Root.
	Prove(key []byte) (value []byte, proof []byte, err error)
}

// Result is the outcome of one transaction.
type Result struct {
	OK    bool
	Error string
}
