package storage

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The initial state is stored once, before anything is executed, survives
// a restart, and is then the state execution builds on.
func TestSaveGenesisState(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		if err := h.s.SaveGenesisState([32]byte{7}, []KV{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
			t.Fatal(err)
		}
		h.reopen()
		if v, err := h.s.Get([]byte("k")); err != nil || string(v) != "v" {
			t.Fatalf("k = %q, %v", v, err)
		}
		if r, err := h.s.StateRoot(0); err != nil || r != [32]byte{7} {
			t.Fatalf("root of height 0: %x, %v", r, err)
		}
		if err := h.s.SaveGenesisState([32]byte{8}, nil); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a second initial state: %v", err)
		}
		if err := h.s.SaveExecution(1, [32]byte{9}, nil, []KV{{Key: []byte("k2"), Value: []byte("v2")}}); err != nil {
			t.Fatal(err)
		}
		if v, err := h.s.Get([]byte("k")); err != nil || string(v) != "v" {
			t.Fatalf("k after height 1 = %q, %v", v, err)
		}
	})
	forEach(t, func(t *testing.T, h *harness) {
		if err := h.s.SaveExecution(1, [32]byte{9}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := h.s.SaveGenesisState([32]byte{7}, nil); !errors.Is(err, ErrInvalid) {
			t.Fatalf("an initial state after height 1: %v", err)
		}
	})
}

// A read-only open reads a store and writes nothing: a directory that is
// not a store stays absent, and writes fail.
func TestOpenReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := OpenPebble(dir, ReadOnly()); err == nil {
		t.Fatal("opened a missing store read-only")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a read-only open created %s: %v", dir, err)
	}
	p := mustOpen(t, dir)
	if err := p.SaveExecution(1, [32]byte{1}, nil, []KV{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenPebble(dir, ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := ro.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("k = %q, %v", v, err)
	}
	if err := ro.SaveExecution(2, [32]byte{2}, nil, nil); err == nil {
		t.Fatal("a read-only store took a write")
	}
	// Close has nothing to flush: it must not report Pebble's refusal to
	// flush a read-only database.
	if err := ro.Close(); err != nil {
		t.Fatalf("closing a read-only store: %v", err)
	}
}
