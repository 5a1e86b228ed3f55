package ledger_test

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/storage"
)

// withState gives g an initial application state of the key/values kv.
func withState(t *testing.T, g *genesis.Genesis, kv map[string]string) [32]byte {
	t.Helper()
	iter := func(yield func(k, v []byte) error) error {
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			if err := yield([]byte(k), []byte(kv[k])); err != nil {
				return err
			}
		}
		return nil
	}
	s, err := kvstore.New(iter)
	if err != nil {
		t.Fatal(err)
	}
	if g.AppState, err = kvstore.NewStateFile("old-chain", 7, s.Root(), iter); err != nil {
		t.Fatal(err)
	}
	return s.Root()
}

// snapshot hashes every file under dir by its path, to see that a read
// changes nothing.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	files := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files[path] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// A fresh data directory opened with a genesis that carries a state holds
// that state before anything executes (reads, proofs' root, the result of
// height 0); reopening does not import it again; and ExportState, on the
// closed directory, reads back the same state and root without changing a
// byte, while it refuses a directory a ledger still holds open.
func TestGenesisStateImportAndExport(t *testing.T) {
	kv := map[string]string{"greeting": "hello", "alice": "10", "bob": "20"}
	g := testGenesis(t, "ledger-new", 1)
	root := withState(t, g, kv)
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		l, _, err := ledger.Open(ledger.Config{Genesis: g, DataDir: dir})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for k, want := range kv {
			v, err := l.State([]byte(k))
			if err != nil || string(v.Value) != want || v.Root != root || v.Height != 0 {
				t.Fatalf("round %d: %s = %+v, %v; want %q at height 0, root %x", round, k, v, err, want, root)
			}
		}
		if r, err := l.ResultAt(0); err != nil || r != model.Identifier(root) {
			t.Fatalf("round %d: result of height 0 = %x, %v; want the imported root %x", round, r, err, root)
		}
		if round == 0 {
			if _, err := ledger.ExportState(dir, g.ChainID); err == nil {
				t.Fatal("exported a data directory a ledger holds open")
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}

	before := snapshot(t, dir)
	f, err := ledger.ExportState(dir, g.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.RootHash(); err != nil || got != root || f.Height != 0 || f.ChainID != g.ChainID || len(f.Entries) != len(kv) {
		t.Fatalf("export: root %x (%v), height %d, chain %q, %d entries; want root %x, %d entries", got, err, f.Height, f.ChainID, len(f.Entries), root, len(kv))
	}
	if after := snapshot(t, dir); !maps.Equal(before, after) {
		t.Fatal("ExportState changed the data directory")
	}
}

// A store whose state before height 1 is not the genesis's is refused:
// the node would otherwise execute on a state its network does not share.
func TestOpenRefusesAStateOtherThanTheGenesis(t *testing.T) {
	g := testGenesis(t, "ledger-new", 1)
	withState(t, g, map[string]string{"greeting": "hello"})
	st := storage.NewMemory()
	if err := st.SaveGenesisState([32]byte{1}, []storage.KV{{Key: []byte("greeting"), Value: []byte("HELLO")}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ledger.Open(ledger.Config{Genesis: g, Store: st}); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("opened on a state the genesis does not name: %v", err)
	}
}

// ExportState refuses what is not a store, and creates nothing there.
func TestExportStateRefusesAMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := ledger.ExportState(dir, "c"); err == nil {
		t.Fatal("exported a directory that does not exist")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the export created %s: %v", dir, err)
	}
}
