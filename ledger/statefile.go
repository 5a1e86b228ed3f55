package ledger

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/storage"
)

// importGenesisState writes a genesis file's initial application state
// into a store that has executed nothing and holds no state of height 0
// yet. It runs on every open, so a crash between initializing the store
// and importing the state is repaired on the next start.
func importGenesisState(store Store, g *genesis.Genesis) error {
	if g.AppState == nil {
		return nil
	}
	executed, err := store.ExecutedHeight()
	if err != nil || executed > 0 {
		return err
	}
	if _, err := store.StateRoot(0); err == nil || !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	root, err := g.AppState.RootHash()
	if err != nil {
		return err
	}
	var writes []storage.KV
	if err := g.AppState.Iterate(func(k, v []byte) error {
		writes = append(writes, storage.KV{Key: k, Value: v})
		return nil
	}); err != nil {
		return err
	}
	if err := store.SaveGenesisState(root, writes); err != nil {
		return fmt.Errorf("import the genesis state: %w", err)
	}
	return nil
}

// ExportState reads the application state of a stopped node's data
// directory at its executed height, without writing to it, and checks it
// against the state root the node recorded for that height. chainID names
// the network in the file.
func ExportState(dataDir, chainID string) (f *kvstore.StateFile, err error) {
	store, err := storage.OpenPebble(dataDir, storage.ReadOnly())
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			f, err = nil, cerr
		}
	}()
	executed, err := store.ExecutedHeight()
	if err != nil {
		return nil, err
	}
	root, err := store.StateRoot(executed)
	if errors.Is(err, storage.ErrNotFound) && executed == 0 {
		// A node that never executed a block and had no initial state.
		s, serr := kvstore.New(nil)
		if serr != nil {
			return nil, serr
		}
		root, err = s.Root(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("state root of height %d: %w", executed, err)
	}
	return kvstore.NewStateFile(chainID, executed, root, store.Iterate)
}
