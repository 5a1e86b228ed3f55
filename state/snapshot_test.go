package state

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/floe-bft/floe/app/merkle"
)

// wireChunks streams version's snapshot through the wire encoding.
func wireChunks(t *testing.T, s *Store, version uint64, maxBytes int) [][]byte {
	t.Helper()
	var out [][]byte
	err := s.SnapshotChunks(version, maxBytes, func(chunk []Write) error {
		out = append(out, EncodeSnapshotChunk(chunk))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func source(t *testing.T, chunks [][]byte) func() ([]Write, error) {
	return func() ([]Write, error) {
		if len(chunks) == 0 {
			return nil, io.EOF
		}
		c, err := DecodeSnapshotChunk(chunks[0])
		chunks = chunks[1:]
		return c, err
	}
}

func TestSnapshotImportRebuildsTheState(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	const space = 3000
	s, m := buildStore(t, rng, space, 3)
	root3, _ := s.Root(3)
	want := m.clone()
	// Later commits must not show in the snapshot of version 3.
	if _, err := s.Commit(4, randomWrites(rng, 500, space, 0.5)); err != nil {
		t.Fatal(err)
	}
	chunks := wireChunks(t, s, 3, 4096)
	if len(chunks) < 5 {
		t.Fatalf("%d chunks: not chunked", len(chunks))
	}
	for _, c := range chunks {
		if len(c) > 4096+MaxKeySize+MaxOwnerSize+64 {
			t.Fatalf("chunk of %d bytes", len(c))
		}
	}
	dir := t.TempDir()
	imp, err := Import(dir, Options{}, 3, root3, source(t, chunks))
	if err != nil {
		t.Fatal(err)
	}
	if v, r := imp.Latest(); v != 3 || r != root3 {
		t.Fatalf("imported store at %d %x", v, r)
	}
	for i := range space {
		got, err := imp.Get(3, regID(i))
		if err != nil || !bytes.Equal(got, want[regID(i)]) {
			t.Fatalf("%v: %x %v", regID(i), got, err)
		}
	}
	// The imported tree continues like the original.
	ws := randomWrites(rng, 400, space, 0.3)
	m2 := newModel()
	m2.apply(func() []Write {
		var all []Write
		for id, v := range want {
			all = append(all, Write{ID: id, Value: v})
		}
		return all
	}())
	wantRoot := m2.apply(ws)
	if got, err := imp.Commit(4, ws); err != nil || got != wantRoot {
		t.Fatalf("commit on the imported store: %x %v, want %x", got, err, wantRoot)
	}
	if _, err := imp.Get(2, regID(1)); !errors.Is(err, ErrVersionPruned) {
		t.Fatalf("version before the import: %v", err)
	}
	if err := imp.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewImporter(dir, Options{}, 9, root3); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("import into a store with versions: %v", err)
	}
}

func TestTamperedSnapshotIsRefused(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	s, _ := buildStore(t, rng, 500, 2)
	_, root := s.Latest()
	good := wireChunks(t, s, 2, 2048)

	tamper := map[string]func([][]byte) [][]byte{
		"value changed": func(c [][]byte) [][]byte {
			w, _ := DecodeSnapshotChunk(c[1])
			w[0].Value = append(bytes.Clone(w[0].Value), 1)
			c[1] = EncodeSnapshotChunk(w)
			return c
		},
		"chunk missing": func(c [][]byte) [][]byte { return append(c[:1], c[2:]...) },
		"register dropped": func(c [][]byte) [][]byte {
			w, _ := DecodeSnapshotChunk(c[0])
			c[0] = EncodeSnapshotChunk(w[1:])
			return c
		},
	}
	for name, f := range tamper {
		chunks := f(append([][]byte(nil), good...))
		dir := t.TempDir()
		if _, err := Import(dir, Options{}, 2, root, source(t, chunks)); !errors.Is(err, ErrSnapshotRoot) {
			t.Fatalf("%s: %v, want ErrSnapshotRoot", name, err)
		}
		// Nothing is kept: the directory reopens empty.
		re, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v, r := re.Latest(); v != 0 || r != merkle.Empty {
			t.Fatalf("%s: refused import left version %d", name, v)
		}
		if n := countKeys(t, re); n[prefixValue]+n[prefixNode] != 0 {
			t.Fatalf("%s: refused import left %v", name, n)
		}
		_ = re.Close()
	}
	// Out of order and malformed chunks are refused before any root check.
	swapped := append([][]byte(nil), good...)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	if _, err := Import(t.TempDir(), Options{}, 2, root, source(t, swapped)); !errors.Is(err, ErrInvalidSnapshot) {
		t.Fatalf("chunks out of order: %v", err)
	}
	for _, b := range [][]byte{nil, {0, 0, 0, 1}, append(bytes.Clone(good[0]), 0), good[0][:len(good[0])-1], {0xff, 0xff, 0xff, 0xff, 0}} {
		if _, err := DecodeSnapshotChunk(b); !errors.Is(err, ErrInvalidSnapshot) {
			t.Fatalf("malformed chunk %x: %v", b, err)
		}
	}
}
