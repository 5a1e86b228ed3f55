package execution

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/blockstm"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/state"
)

// VM executes one transaction body through a view of the state. It must
// be deterministic in the context, the body and what it reads; a failed
// transaction is a Result with OK false (and writes nothing it must not);
// an error is a state failure that stops execution.
type VM interface {
	Run(tx TxContext, body []byte, v blockstm.View) (blockstm.Result, error)
}

// TxContext is what a transaction knows of where it runs besides the
// state: its block and its place in the block's chunks. A verifier
// re-executing one chunk from its data pack knows exactly this (the
// result names the block), so a VM may use nothing else.
type TxContext struct {
	Block  model.Identifier
	Height uint64
	Chunk  uint16 // index of the transaction's chunk (its collection) in the block
	Pos    uint32 // position in the chunk
}

// KV is the key/value application as a VM over registers: a set or delete
// (app/kvstore's transaction encoding) of the network-wide register
// (owner empty) named by the key. It is what the pipeline executes until
// accounts and programs replace it, and it keeps kvstore's rules: a
// malformed transaction fails, and so does deleting an absent key, both
// writing nothing.
type KV struct{}

// Event types KV emits.
const (
	EventKVSet    = "kv.set"
	EventKVDelete = "kv.delete"
)

// computation per byte class: a base charge per transaction plus one unit
// per 32 bytes of key and value.
const (
	kvBaseComputation = 10
	kvBytesPerUnit    = 32
)

// Run applies one kvstore transaction.
func (KV) Run(_ TxContext, raw []byte, v blockstm.View) (blockstm.Result, error) {
	tx, err := kvstore.Decode(raw)
	if err != nil {
		return blockstm.Result{Error: err.Error(), Computation: kvBaseComputation}, nil
	}
	id := state.RegisterID{Key: string(tx.Key)}
	comp := uint64(kvBaseComputation + (len(tx.Key)+len(tx.Value))/kvBytesPerUnit)
	if tx.Op == kvstore.OpDelete {
		old, err := v.Get(id)
		if err != nil {
			return txFault(err, comp)
		}
		if old == nil {
			return blockstm.Result{Error: kvstore.ReasonKeyNotFound, Computation: comp}, nil
		}
		if err := v.Set(id, nil); err != nil {
			return txFault(err, comp)
		}
		return blockstm.Result{OK: true, Computation: comp, Events: []blockstm.Event{{Type: EventKVDelete, Payload: tx.Key}}}, nil
	}
	if err := v.Set(id, tx.Value); err != nil {
		return txFault(err, comp)
	}
	return blockstm.Result{OK: true, Computation: comp, Events: []blockstm.Event{{Type: EventKVSet, Payload: tx.Key}}}, nil
}

// txFault turns a view error that is the transaction's fault into a
// failed result, and passes any other (state failure, speculation) on.
func txFault(err error, comp uint64) (blockstm.Result, error) {
	if errors.Is(err, state.ErrInvalidRegister) || errors.Is(err, blockstm.ErrTxLimit) {
		return blockstm.Result{Error: fmt.Sprintf("refused by the state: %v", err), Computation: comp}, nil
	}
	return blockstm.Result{}, err
}
