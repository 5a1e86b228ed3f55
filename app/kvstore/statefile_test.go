package kvstore_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/storage"
)

// stateOf executes sets into a fresh store and returns its state file.
func stateOf(t *testing.T, kv ...string) (*kvstore.StateFile, *kvstore.Store) {
	t.Helper()
	s, err := kvstore.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var txs [][]byte
	for i := 0; i+1 < len(kv); i += 2 {
		txs = append(txs, kvstore.EncodeSet([]byte(kv[i]), []byte(kv[i+1]), []byte{byte(i)}))
	}
	_, writes, root, err := s.Execute(1, txs)
	if err != nil {
		t.Fatal(err)
	}
	iter := func(yield func(k, v []byte) error) error {
		// In key order, as a store iterates.
		sorted := slices.Clone(writes)
		slices.SortFunc(sorted, func(a, b storage.KV) int { return bytes.Compare(a.Key, b.Key) })
		for _, w := range sorted {
			if err := yield(w.Key, w.Value); err != nil {
				return err
			}
		}
		return nil
	}
	f, err := kvstore.NewStateFile("old-chain", 1, root, iter)
	if err != nil {
		t.Fatal(err)
	}
	return f, s
}

// TestStateFileRoundTrip: what is exported reads back to the same state
// (same root, same values), through the file.
func TestStateFileRoundTrip(t *testing.T) {
	f, s := stateOf(t, "a", "1", "b", "2", "zz", "3")
	path := filepath.Join(t.TempDir(), "state.json")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(fh); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	back, err := kvstore.ReadStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := kvstore.New(back.Iterate)
	if err != nil {
		t.Fatal(err)
	}
	if restored.Root() != s.Root() || restored.Len() != 3 {
		t.Fatalf("restored root %x (%d keys), exported %x", restored.Root(), restored.Len(), s.Root())
	}
	if v, ok := restored.Get([]byte("zz")); !ok || string(v) != "3" {
		t.Fatalf("zz = %q %v", v, ok)
	}
}

// TestStateFileRefusesTampering: any edit the root does not vouch for, and
// anything that is not the canonical form, is refused with ErrBadState.
func TestStateFileRefusesTampering(t *testing.T) {
	for name, edit := range map[string]func(f *kvstore.StateFile){
		"value changed":   func(f *kvstore.StateFile) { f.Entries[0].Value = hex.EncodeToString([]byte("9")) },
		"entry dropped":   func(f *kvstore.StateFile) { f.Entries = f.Entries[1:] },
		"entry added":     func(f *kvstore.StateFile) { f.Entries = append(f.Entries, kvstore.StateEntry{Key: "ff", Value: "01"}) },
		"out of order":    func(f *kvstore.StateFile) { f.Entries[0], f.Entries[1] = f.Entries[1], f.Entries[0] },
		"key repeated":    func(f *kvstore.StateFile) { f.Entries[1] = f.Entries[0] },
		"not hex":         func(f *kvstore.StateFile) { f.Entries[0].Key = "zz" },
		"empty value":     func(f *kvstore.StateFile) { f.Entries[0].Value = "" },
		"root not hex":    func(f *kvstore.StateFile) { f.Root = "root" },
		"another format":  func(f *kvstore.StateFile) { f.Format = "floe-kvstore-state/0" },
		"root of nothing": func(f *kvstore.StateFile) { f.Entries = nil },
	} {
		f, _ := stateOf(t, "a", "1", "b", "2")
		edit(f)
		if err := f.Check(); !errors.Is(err, kvstore.ErrBadState) {
			t.Errorf("%s: %v", name, err)
		}
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"not JSON":      "state",
		"unknown field": `{"format":"floe-kvstore-state/1","root":"00","entries":[],"extra":1}`,
	} {
		path := filepath.Join(dir, "f.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := kvstore.ReadStateFile(path); !errors.Is(err, kvstore.ErrBadState) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A state file over MaxStateFileBytes is refused by its size, before it is
// read into memory (the file here is sparse).
func TestReadStateFileRefusesAnOversizedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, kvstore.MaxStateFileBytes+1); err != nil {
		t.Fatal(err)
	}
	if _, err := kvstore.ReadStateFile(path); !errors.Is(err, kvstore.ErrBadState) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("an oversized state file: %v", err)
	}
}

// WriteFile writes the whole file where it was asked, and nothing where it
// could not write: no temporary file is left behind.
func TestStateFileWriteFile(t *testing.T) {
	f, _ := stateOf(t, "a", "1")
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := f.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := kvstore.ReadStateFile(path)
	if err != nil || back.Root != f.Root || len(back.Entries) != 1 {
		t.Fatalf("read back %+v, %v", back, err)
	}
	if err := f.WriteFile(filepath.Join(dir, "missing", "state.json")); err == nil {
		t.Fatal("wrote into a directory that does not exist")
	}
	if err := os.Mkdir(filepath.Join(dir, "taken"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(filepath.Join(dir, "taken")); err == nil {
		t.Fatal("replaced a directory with a state file")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("left behind: %v", entries)
	}
}
