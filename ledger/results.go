package ledger

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// resultRing keeps the state roots of the most recent executed heights, so
// the consensus loop can build and check block result commitments without
// a disk read. Older heights fall back to the store.
type resultRing struct {
	mu    sync.RWMutex
	roots map[uint64]model.Identifier
	low   uint64 // lowest height still held
}

const resultRingSize = 4096

func newResultRing() *resultRing { return &resultRing{roots: make(map[uint64]model.Identifier)} }

func (r *resultRing) put(height uint64, root model.Identifier) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roots[height] = root
	for len(r.roots) > resultRingSize {
		delete(r.roots, r.low)
		r.low++
	}
	if height < r.low {
		r.low = height
	}
}

func (r *resultRing) get(height uint64) (model.Identifier, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	root, ok := r.roots[height]
	return root, ok
}

// ResultAt returns the state root after executing height, from memory or the
// store. Height 0 is the genesis state.
func (l *Ledger) ResultAt(height uint64) (model.Identifier, error) {
	if root, ok := l.results.get(height); ok {
		return root, nil
	}
	if height == 0 {
		root, err := l.cfg.Genesis.InitialRoot()
		return model.Identifier(root), err
	}
	return l.store.StateRoot(height)
}

// GenesisResult is the root of a pipeline network's execution-result
// tree: the genesis block executed into the genesis state
// (payload.GenesisResult), which the first block's results name as
// Previous. Every role computes it from the genesis file alone.
func (l *Ledger) GenesisResult() (*payload.ExecutionResult, error) {
	root, err := GenesisRegisterRoot(l.cfg.Genesis)
	if err != nil {
		return nil, err
	}
	return payload.GenesisResult(l.rootQC.BlockID, root), nil
}

// GenesisRegisterRoot is the state commitment of a pipeline network's
// genesis state: the genesis file's initial key/value entries as
// network-wide registers (owner empty), committed over their register
// paths (state.RegisterID.Path) as execution nodes commit them.
func GenesisRegisterRoot(g *genesis.Genesis) (model.Identifier, error) {
	t := merkle.New()
	if g.AppState == nil {
		return t.Root(), nil
	}
	var ops []merkle.Op
	err := g.AppState.Iterate(func(key, value []byte) error {
		ops = append(ops, merkle.Op{Key: state.RegisterID{Key: string(key)}.Path(), Value: merkle.ValueHash(value)})
		return nil
	})
	if err != nil {
		return model.Identifier{}, fmt.Errorf("genesis state: %w", err)
	}
	slices.SortFunc(ops, func(a, b merkle.Op) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	return t.Update(ops), nil
}
