package ledger

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/fvm"
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
// genesis state (GenesisWrites), committed over register paths
// (state.RegisterID.Path) as execution nodes commit them.
func GenesisRegisterRoot(g *genesis.Genesis) (model.Identifier, error) {
	writes, err := GenesisWrites(g)
	if err != nil {
		return model.Identifier{}, err
	}
	ops := make([]merkle.Op, 0, len(writes))
	for _, w := range writes {
		ops = append(ops, merkle.Op{Key: w.ID.Path(), Value: merkle.ValueHash(w.Value)})
	}
	slices.SortFunc(ops, func(a, b merkle.Op) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	return merkle.New().Update(ops), nil
}

// GenesisWrites is a pipeline network's genesis state as registers: the
// genesis file's initial key/value entries as network-wide registers
// (owner empty), and with an accounts section the accounts VM's genesis
// accounts (fvm.GenesisWrites).
func GenesisWrites(g *genesis.Genesis) ([]state.Write, error) {
	var writes []state.Write
	if g.AppState != nil {
		err := g.AppState.Iterate(func(key, value []byte) error {
			writes = append(writes, state.Write{ID: state.RegisterID{Key: string(key)}, Value: append([]byte(nil), value...)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("genesis state: %w", err)
		}
	}
	if a := g.Accounts; a != nil {
		service, err := genesisAccount(a.Service)
		if err != nil {
			return nil, fmt.Errorf("genesis service account: %w", err)
		}
		accounts := make([]fvm.GenesisAccount, len(a.Accounts))
		for i, s := range a.Accounts {
			if accounts[i], err = genesisAccount(s); err != nil {
				return nil, fmt.Errorf("genesis account %d: %w", i, err)
			}
		}
		aw, err := fvm.GenesisWrites(model.MainChain(g.ChainID), service, accounts)
		if err != nil {
			return nil, err
		}
		writes = append(writes, aw...)
	}
	return writes, nil
}

func genesisAccount(s genesis.AccountSpec) (fvm.GenesisAccount, error) {
	keys, err := s.DecodedKeys()
	return fvm.GenesisAccount{Keys: keys, Balance: s.Balance}, err
}

// NewVM is the VM a pipeline network's transactions run on: the accounts
// VM (signed transactions, package fvm) when the genesis has accounts,
// the key/value application otherwise. Execution nodes run it, and
// whoever re-executes a chunk from its data pack must use the same.
// close releases it.
func NewVM(ctx context.Context, g *genesis.Genesis) (vm execution.VM, close func(), err error) {
	if g.Accounts == nil {
		return execution.KV{}, func() {}, nil
	}
	v, err := fvm.New(ctx, fvm.Config{Chain: model.MainChain(g.ChainID), GasPrice: g.Accounts.GasPrice})
	if err != nil {
		return nil, nil, err
	}
	return v, func() { _ = v.Close(context.WithoutCancel(ctx)) }, nil
}
