package storage

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/safety"
)

// ErrInvalid wraps every request the store refuses without writing anything:
// a Commit whose finalized blocks do not extend the stored root, an Init of an
// initialized store, an execution height that does not advance, a bad range.
var ErrInvalid = errors.New("invalid storage request")

// ErrClosed is returned by every method of a closed Pebble store.
var ErrClosed = errors.New("storage closed")

// MaxTxErrorLen bounds TxResult.Error as stored. Longer reasons are cut to
// this length (deterministically, so every replica stores the same record)
// rather than refused: refusing would stop the node on every replica at the
// same height because of a log message.
const MaxTxErrorLen = 4096

// Store is everything a node needs from its storage: the consensus half, the
// application half, and the finalized chain for serving sync.
type Store interface {
	ConsensusStore
	AppStore
	// FinalizedRange returns the finalized blocks of heights from..to
	// (inclusive), oldest first, at most maxBlocks of them.
	FinalizedRange(from, to uint64, maxBlocks int) ([]*model.Block, error)
	Close() error
}

var (
	_ Store = (*Pebble)(nil)
	_ Store = (*Memory)(nil)
)

// rootInfo is what the store keeps about the last finalized block so that a
// Commit can check its input without decoding the (possibly large) block.
type rootInfo struct {
	ID     model.Identifier
	Height uint64
	View   model.View
}

func infoOf(b *model.Block) rootInfo { return rootInfo{ID: b.ID(), Height: b.Height, View: b.View} }

const rootInfoLen = 32 + 8 + 8

func (r rootInfo) encode() []byte {
	w := codec.NewWriter(rootInfoLen)
	w.Fixed(r.ID[:])
	w.Uint64(r.Height)
	w.Uint64(uint64(r.View))
	return w.Bytes()
}

func decodeRootInfo(b []byte) (rootInfo, error) {
	var ri rootInfo
	r := codec.NewReader(b)
	r.Fixed(ri.ID[:])
	ri.Height = r.Uint64()
	ri.View = model.View(r.Uint64())
	if err := r.Done(); err != nil {
		return rootInfo{}, corrupt("root", err)
	}
	return ri, nil
}

// encodeTxResult stores everything but the ID, which is the key.
func encodeTxResult(t TxResult) []byte {
	w := codec.NewWriter(32 + len(t.Error))
	w.Uint64(t.Height)
	w.Uint64(uint64(t.View))
	w.Uint32(t.Index)
	w.Bool(t.OK)
	w.Bytes32([]byte(t.Error))
	return w.Bytes()
}

func decodeTxResult(id model.Identifier, b []byte) (TxResult, error) {
	r := codec.NewReader(b)
	t := TxResult{ID: id}
	t.Height = r.Uint64()
	t.View = model.View(r.Uint64())
	t.Index = r.Uint32()
	t.OK = r.Bool()
	t.Error = string(r.Bytes32(MaxTxErrorLen, "tx error"))
	if err := r.Done(); err != nil {
		return TxResult{}, corrupt("tx result", err)
	}
	return t, nil
}

// clampResult applies MaxTxErrorLen.
func clampResult(t TxResult) TxResult {
	if len(t.Error) > MaxTxErrorLen {
		t.Error = t.Error[:MaxTxErrorLen]
	}
	return t
}

func decodeStoredBlock(id model.Identifier, b []byte) (*model.Block, error) {
	blk, err := model.DecodeBlock(b)
	if err != nil {
		return nil, corrupt(fmt.Sprintf("block %v", id), err)
	}
	// The key is the hash of the header; a record whose header hashes to
	// something else was damaged (or written under the wrong key).
	if blk.ID() != id {
		return nil, corrupt(fmt.Sprintf("block %v", id), fmt.Errorf("stored block has ID %v", blk.ID()))
	}
	return blk, nil
}

func decodeSafety(b []byte) (safety.Data, error) {
	d, err := safety.DecodeData(b)
	if err != nil {
		return safety.Data{}, corrupt("safety data", err)
	}
	return d, nil
}

func decodeLiveness(b []byte) (pacemaker.Data, error) {
	d, err := pacemaker.DecodeData(b)
	if err != nil {
		return pacemaker.Data{}, corrupt("liveness data", err)
	}
	return d, nil
}

func corrupt(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, err)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// checkState validates a state handed to Init, so that a bad genesis is
// refused before anything is written (and Encode never meets a nil QC).
func checkState(st consensus.State) error {
	if st.Root == nil {
		return invalid("state without root block")
	}
	if st.Liveness.NewestQC == nil {
		return invalid("liveness data without newest QC")
	}
	for _, b := range st.Blocks {
		if b == nil {
			return invalid("nil block in state")
		}
		if b.View <= st.Root.View {
			return invalid("block of view %d at or below root view %d", b.View, st.Root.View)
		}
	}
	return nil
}

// checkCommit validates c against the stored root and returns the root after
// c. Finalized blocks must extend the root one height at a time: the height
// index may never get a hole or a second chain, since sync serves it as the
// canonical chain.
func checkCommit(root rootInfo, c Commit) (rootInfo, error) {
	if c.Liveness != nil && c.Liveness.NewestQC == nil {
		return root, invalid("liveness data without newest QC")
	}
	for _, b := range c.Blocks {
		if b == nil {
			return root, invalid("nil block in commit")
		}
	}
	for _, b := range c.Finalized {
		switch {
		case b == nil:
			return root, invalid("nil finalized block")
		case b.ParentID != root.ID || b.Height != root.Height+1 || b.View <= root.View:
			return root, invalid("finalized block %v (view %d, height %d) does not extend %v (view %d, height %d)",
				b.ID(), b.View, b.Height, root.ID, root.View, root.Height)
		}
		root = infoOf(b)
	}
	return root, nil
}

// checkExecution refuses to go back: execution results are written once per
// height, in order.
func checkExecution(executed, height uint64) error {
	if height <= executed {
		return invalid("execution of height %d, already executed %d", height, executed)
	}
	return nil
}
