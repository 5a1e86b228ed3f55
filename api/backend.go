// Package api serves floe's client API over HTTP/JSON: transactions,
// blocks, node status, application state and a server-sent-events stream of
// finalized blocks; plus Prometheus metrics and, on a separate address,
// pprof.
package api

import (
	"context"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/ledger"
)

// Backend is what the API needs from a node. *node.Node implements it; tests
// use a fake.
type Backend interface {
	// SubmitTxs offers transactions to the mempool (and gossips them).
	SubmitTxs(txs [][]byte) []Submission
	// TxStatus looks a transaction up.
	TxStatus(id model.Identifier) (TxStatus, error)
	// BlockByHeight returns a finalized block; height 0 is genesis.
	BlockByHeight(height uint64) (*model.Block, error)
	// LatestBlock returns the last finalized block.
	LatestBlock() (*model.Block, error)
	// Status describes the node.
	Status() Status
	// State reads a key of the application state with a Merkle proof.
	// ctx is the request's: a read that asks other nodes (an access
	// node's) stops when the client goes away.
	State(ctx context.Context, key []byte) (ledger.StateValue, error)
	// SubscribeFinalized streams executed finalized blocks until ctx ends.
	// A subscriber that falls too far behind is dropped (channel closed);
	// one too many is refused (ledger.ErrTooManySubscribers).
	SubscribeFinalized(ctx context.Context) (<-chan ledger.FinalizedBlock, error)
}
