// Package storage persists a node's state in Pebble: the consensus state the
// core restarts from (SafetyData, LivenessData, blocks above the finalized
// block), the finalized chain indexed by height, transaction results, and
// the application's state.
package storage

import (
	"errors"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/safety"
)

// ErrNotFound: the requested item is not stored.
var ErrNotFound = errors.New("not found")

// ErrCorrupt wraps any stored record that fails to decode: the node must
// stop rather than run on damaged state.
var ErrCorrupt = errors.New("corrupt store")

// ErrVersion is returned by OpenPebble for a data directory written by a
// build of another layout (protocol) version.
var ErrVersion = errors.New("store version mismatch")

// Commit is the persistent half of one consensus.Output.
type Commit struct {
	Safety    *safety.Data    // nil: unchanged
	Liveness  *pacemaker.Data // nil: unchanged
	Blocks    []*model.Block  // new blocks (certified or not) above the finalized block
	Finalized []*model.Block  // newly finalized, oldest first, consecutive heights
	// Epochs is the encoded epoch state after applying Finalized (nil:
	// unchanged). It is written in the same batch as the finalized blocks,
	// so after a crash the epoch state always matches the finalized chain.
	Epochs []byte
}

// CommitFromOutput extracts the persistent half of an output.
func CommitFromOutput(o *consensus.Output) Commit {
	return Commit{Safety: o.Safety, Liveness: o.Liveness, Blocks: o.Blocks, Finalized: o.Finalized}
}

// Empty reports whether there is nothing to persist.
func (c Commit) Empty() bool {
	return c.Safety == nil && c.Liveness == nil && len(c.Blocks) == 0 && len(c.Finalized) == 0 && c.Epochs == nil
}

// TxResult is the outcome of one executed transaction.
type TxResult struct {
	ID     model.Identifier // SHA-256 of the transaction bytes
	Height uint64           // finalized block height
	View   model.View
	Index  uint32 // position in the block
	OK     bool
	Error  string // failure reason when !OK
}

// ConsensusStore is what the node's consensus loop needs.
type ConsensusStore interface {
	// Commit writes c atomically and syncs it to disk before returning:
	// the caller sends the messages signed under it only afterwards.
	Commit(c Commit) error
	// LoadState returns the state to restart the core from, and false if
	// the store has never been initialized (then the caller starts from
	// genesis and commits it with Init).
	LoadState() (consensus.State, bool, error)
	// Init stores the genesis state; it fails if the store is initialized.
	Init(st consensus.State) error
	// Block returns any stored block by ID.
	Block(id model.Identifier) (*model.Block, error)
	// FinalizedByHeight returns the finalized block at height.
	FinalizedByHeight(height uint64) (*model.Block, error)
	// FinalizedHeight is the height of the last finalized block.
	FinalizedHeight() (uint64, error)
}

// AppStore persists what execution produces. Execution of a height and its
// results are written in one batch, so a crash never leaves a height half
// executed.
type AppStore interface {
	// ExecutedHeight is the last height whose results are stored.
	ExecutedHeight() (uint64, error)
	// SaveExecution stores the results and the state writes of one height
	// together with the new executed height and state root.
	SaveExecution(height uint64, root [32]byte, results []TxResult, writes []KV) error
	// SaveResults stores the results and state root of one height without
	// moving the executed height: the node writes application state in
	// periodic flushes (SaveExecution) and re-executes from the last flushed
	// height after a crash, rewriting these results identically.
	SaveResults(height uint64, root [32]byte, results []TxResult) error
	// TxResult looks a transaction up by ID.
	TxResult(id model.Identifier) (TxResult, error)
	// StateRoot returns the state root recorded after executing height.
	StateRoot(height uint64) ([32]byte, error)
	// Get reads an application key (latest executed state).
	Get(key []byte) ([]byte, error)
	// Iterate calls fn for every application key in order (used to rebuild
	// in-memory indexes such as the Merkle tree at start-up).
	Iterate(fn func(key, value []byte) error) error
	// SaveGenesisState stores the initial application state (a genesis
	// file's app_state) and its root as the result of height 0, durably.
	// It fails once anything was executed or the state of height 0 was
	// saved before.
	SaveGenesisState(root [32]byte, writes []KV) error
}

// KV is one application state write; a nil Value deletes the key.
type KV struct {
	Key, Value []byte
}
