package ledger

import (
	"context"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/storage"
)

// FinalizedBlock is one executed finalized block, as streamed to clients.
type FinalizedBlock struct {
	Block     *model.Block
	TxCount   int
	StateRoot [32]byte
	Time      time.Time // when this node executed it
}

// StateValue is a key read from the application state with its proof.
type StateValue struct {
	Key    []byte
	Value  []byte // nil when absent
	Proof  []byte
	Height uint64
	Root   [32]byte
	// Pipeline marks a read an access node proved against the Result of
	// the finalized block at BlockHeight; Sealed says whether that result
	// is sealed (never yet: sealing does not exist).
	Pipeline    bool
	BlockHeight uint64
	Sealed      bool
}

const (
	subscriberBuffer = 256
	maxSubscribers   = 64
)

// BlockByHeight returns the finalized block at height.
func (l *Ledger) BlockByHeight(height uint64) (*model.Block, error) {
	if height > l.finalizedHeight.Load() {
		return nil, storage.ErrNotFound
	}
	return l.store.FinalizedByHeight(height)
}

// LatestBlock returns the last finalized block.
func (l *Ledger) LatestBlock() (*model.Block, error) {
	return l.store.FinalizedByHeight(l.finalizedHeight.Load())
}

// State reads a key of the executed application state with its Merkle
// proof against the state root at the executed height.
func (l *Ledger) State(key []byte) (StateValue, error) {
	l.appMu.RLock()
	defer l.appMu.RUnlock()
	value, proof, err := l.app.Prove(key)
	if err != nil {
		return StateValue{}, err
	}
	return StateValue{Key: key, Value: value, Proof: proof, Height: l.executedHeight.Load(), Root: l.app.Root()}, nil
}

// SubscribeFinalized streams executed blocks until ctx ends. A subscriber
// more than subscriberBuffer blocks behind is dropped (its channel closed);
// beyond maxSubscribers a new one gets ErrTooManySubscribers.
func (l *Ledger) SubscribeFinalized(ctx context.Context) (<-chan FinalizedBlock, error) {
	return l.subs.add(ctx)
}

// TxResult is the stored result of an executed transaction
// (storage.ErrNotFound if none).
func (l *Ledger) TxResult(id model.Identifier) (storage.TxResult, error) {
	return l.store.TxResult(id)
}

// StateRoot is the state root after executing height, as stored.
func (l *Ledger) StateRoot(height uint64) ([32]byte, error) { return l.store.StateRoot(height) }

// CheckTx is the application's stateless admission check of a transaction.
func (l *Ledger) CheckTx(tx []byte) error { return l.app.CheckTx(tx) }
