package genesis_test

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/payload"
)

// A genesis with an initial application state: Load checks the state
// against the root it names, and the genesis block commits to that root
// (result of height 0), so a different state is a different chain.
func TestGenesisCarriesAndCommitsToItsAppState(t *testing.T) {
	s, err := kvstore.New(func(yield func(k, v []byte) error) error { return yield([]byte("k"), []byte("v")) })
	if err != nil {
		t.Fatal(err)
	}
	root := s.Root()
	state := &kvstore.StateFile{Format: kvstore.StateFormat, ChainID: "old", Height: 9, Root: hex.EncodeToString(root[:]),
		Entries: []kvstore.StateEntry{{Key: hex.EncodeToString([]byte("k")), Value: hex.EncodeToString([]byte("v"))}}}
	g := testGenesis(t)
	g.AppState = state
	dir := t.TempDir()
	path := filepath.Join(dir, "genesis.json")
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := genesis.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _, err := back.Root(4)
	if err != nil {
		t.Fatal(err)
	}
	res, err := payload.ResultOf(blk.Payload)
	if err != nil || res == nil || res.Height != 0 || res.Root != root {
		t.Fatalf("genesis block result %+v, %v; want height 0, root %x", res, err, root)
	}
	plain, _, err := testGenesis(t).Root(4)
	if err != nil {
		t.Fatal(err)
	}
	if plain.ID() == blk.ID() {
		t.Fatal("a genesis with an initial state has the same block as one without")
	}
	// The state edited in the file: refused on load.
	g.AppState.Entries[0].Value = hex.EncodeToString([]byte("w"))
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := genesis.Load(path); !errors.Is(err, kvstore.ErrBadState) {
		t.Fatalf("an edited app_state loaded: %v", err)
	}
}

// A genesis file over MaxFileBytes is refused by its size, before it is
// read into memory (the file here is sparse: nothing is written or read).
func TestLoadRefusesAnOversizedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := testGenesis(t).Save(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, genesis.MaxFileBytes+1); err != nil {
		t.Fatal(err)
	}
	if _, err := genesis.Load(path); !errors.Is(err, genesis.ErrTooLarge) {
		t.Fatalf("an oversized genesis: %v, want ErrTooLarge", err)
	}
}
