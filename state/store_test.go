package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/storage"
)

// model is the reference: app/merkle's in-memory tree plus a map of values.
type model struct {
	tree   *merkle.Tree
	values map[RegisterID][]byte
}

func newModel() *model { return &model{tree: merkle.New(), values: map[RegisterID][]byte{}} }

func (m *model) apply(writes []Write) merkle.Hash {
	ops := make([]merkle.Op, 0, len(writes))
	for _, w := range writes {
		if w.Value == nil {
			delete(m.values, w.ID)
			ops = append(ops, merkle.Op{Key: w.ID.Path(), Delete: true})
		} else {
			m.values[w.ID] = w.Value
			ops = append(ops, merkle.Op{Key: w.ID.Path(), Value: merkle.ValueHash(w.Value)})
		}
	}
	return m.tree.Update(ops)
}

func (m *model) clone() map[RegisterID][]byte {
	c := make(map[RegisterID][]byte, len(m.values))
	for k, v := range m.values {
		c[k] = v
	}
	return c
}

func regID(i int) RegisterID {
	return RegisterID{Owner: fmt.Sprintf("o%d", i%7), Key: fmt.Sprintf("k%d", i)}
}

// randomWrites returns n writes over registers 0..space-1: sets of random
// values, deletes (of present and absent registers) with probability del,
// and some repeated registers within the batch.
func randomWrites(rng *rand.Rand, n, space int, del float64) []Write {
	ws := make([]Write, 0, n)
	for range n {
		id := regID(rng.IntN(space))
		if rng.Float64() < del {
			ws = append(ws, Write{ID: id})
			continue
		}
		v := make([]byte, 1+rng.IntN(40))
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		ws = append(ws, Write{ID: id, Value: v})
	}
	return ws
}

func openMem(t testing.TB) *Store {
	t.Helper()
	s, err := OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRootsMatchMerkleOnRandomUpdateSequences(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		s := openMem(t)
		m := newModel()
		space := []int{3, 40, 500, 5000, 300, 20000}[seed-1]
		for v := uint64(1); v <= 12; v++ {
			ws := randomWrites(rng, 1+rng.IntN(space), space, 0.3)
			want := m.apply(ws)
			got, err := s.Commit(v*2, ws) // versions with gaps
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("seed %d version %d: root %x, merkle %x", seed, v, got, want)
			}
			if lv, lr := s.Latest(); lv != v*2 || lr != want {
				t.Fatalf("Latest = %d %x", lv, lr)
			}
		}
		// Every register reads back, and a sample proves against the root.
		_, root := s.Latest()
		latest, _ := s.Latest()
		n := 0
		for i := range space {
			id := regID(i)
			got, err := s.Get(latest, id)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, m.values[id]) {
				t.Fatalf("seed %d: Get(%v) = %x, want %x", seed, id, got, m.values[id])
			}
			if n++; n > 400 {
				continue
			}
			val, p, err := s.Prove(latest, id)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(val, m.values[id]) {
				t.Fatalf("Prove value %x, want %x", val, m.values[id])
			}
			if err := merkle.Verify(root, id.Encode(), val, p.Encode()); err != nil {
				t.Fatalf("seed %d %v: %v", seed, id, err)
			}
			want := m.tree.Prove(id.Path())
			if !bytes.Equal(p.Encode(), want.Encode()) {
				t.Fatalf("seed %d %v: proof differs from app/merkle's", seed, id)
			}
		}
	}
}

func TestOldVersionsReadAndUnknownVersionsRefused(t *testing.T) {
	s := openMem(t)
	rng := rand.New(rand.NewPCG(3, 3))
	m := newModel()
	snaps := map[uint64]map[RegisterID][]byte{0: {}}
	roots := map[uint64]merkle.Hash{0: merkle.Empty}
	for v := uint64(1); v <= 8; v++ {
		ws := randomWrites(rng, 50, 100, 0.3)
		roots[v*3] = m.apply(ws)
		if _, err := s.Commit(v*3, ws); err != nil {
			t.Fatal(err)
		}
		snaps[v*3] = m.clone()
	}
	for v, vals := range snaps {
		r, err := s.Root(v)
		if err != nil || r != roots[v] {
			t.Fatalf("Root(%d) = %x, %v", v, r, err)
		}
		rd := s.Reader(v)
		for i := range 100 {
			got, err := rd.Get(regID(i))
			if err != nil || !bytes.Equal(got, vals[regID(i)]) {
				t.Fatalf("version %d %v: %x, %v; want %x", v, regID(i), got, err, vals[regID(i)])
			}
		}
	}
	for _, v := range []uint64{1, 2, 4, 25, 100} {
		if _, err := s.Root(v); !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("Root(%d): %v, want ErrUnknownVersion", v, err)
		}
		if _, err := s.Get(v, regID(1)); !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("Get at %d: %v, want ErrUnknownVersion", v, err)
		}
	}
	if _, err := s.Commit(24, nil); !errors.Is(err, ErrVersionOrder) {
		t.Fatalf("Commit at the latest version: %v", err)
	}
}

func TestCommitValidatesEveryWriteFirst(t *testing.T) {
	s := openMem(t)
	good := Write{ID: regID(1), Value: []byte{1}}
	for _, bad := range []Write{
		{ID: RegisterID{Key: ""}, Value: []byte{1}},
		{ID: regID(2), Value: []byte{}},
		{ID: regID(2), Value: make([]byte, MaxValueSize+1)},
	} {
		if _, err := s.Commit(1, []Write{good, bad}); !errors.Is(err, ErrInvalidRegister) {
			t.Fatalf("%v: %v, want ErrInvalidRegister", bad.ID, err)
		}
	}
	if v, r := s.Latest(); v != 0 || r != merkle.Empty {
		t.Fatalf("a refused commit changed the store: %d %x", v, r)
	}
	if got, _ := s.Get(0, regID(1)); got != nil {
		t.Fatal("a refused commit wrote a value")
	}
}

func TestReopenFindsTheLastCommit(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	m := newModel()
	var root merkle.Hash
	for v := uint64(1); v <= 5; v++ {
		ws := randomWrites(rng, 300, 1000, 0.2)
		m.apply(ws)
		if root, err = s.Commit(v, ws); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(5, regID(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, r := s.Latest(); v != 5 || r != root {
		t.Fatalf("reopened at %d %x, want 5 %x", v, r, root)
	}
	for i := range 1000 {
		got, err := s.Get(5, regID(i))
		if err != nil || !bytes.Equal(got, m.values[regID(i)]) {
			t.Fatalf("%v after reopen: %x %v", regID(i), got, err)
		}
	}
	// The tree continues where it was.
	ws := randomWrites(rng, 300, 1000, 0.2)
	want := m.apply(ws)
	if got, err := s.Commit(6, ws); err != nil || got != want {
		t.Fatalf("commit after reopen: %x %v, want %x", got, err, want)
	}
}

func TestCorruptPageIsAnErrorNotAPanic(t *testing.T) {
	s := openMem(t)
	ws := randomWrites(rand.New(rand.NewPCG(1, 1)), 200, 200, 0)
	if _, err := s.Commit(1, ws); err != nil {
		t.Fatal(err)
	}
	// Overwrite every page with garbage and empty the cache.
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys [][]byte
	for it.SeekGE([]byte{prefixNode}); it.Valid() && it.Key()[0] == prefixNode; it.Next() {
		keys = append(keys, bytes.Clone(it.Key()))
	}
	_ = it.Close()
	if len(keys) == 0 {
		t.Fatal("no pages stored")
	}
	for i, k := range keys {
		garbage := []byte{9, 9, 9}
		if i%2 == 1 {
			garbage = []byte{1, 2} // truncated leaf
		}
		if err := s.db.Set(k, garbage, nil); err != nil {
			t.Fatal(err)
		}
		s.cache.remove(k)
	}
	if _, _, err := s.Prove(1, regID(3)); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Prove over a corrupt page: %v, want storage.ErrCorrupt", err)
	}
	if _, err := s.Commit(2, ws[:10]); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Commit over a corrupt page: %v, want storage.ErrCorrupt", err)
	}
}

// A crash at any moment leaves a complete version: the last synced one or
// a later one whose batch reached the disk, never part of a commit.
func TestCrashLeavesACompleteVersion(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s, err := Open("db", Options{Sync: true, fs: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(14, 14))
	m := newModel()
	snaps := map[uint64]map[RegisterID][]byte{}
	roots := map[uint64]merkle.Hash{}
	for v := uint64(1); v <= 8; v++ {
		if v == 4 {
			s.sync = false // versions 4..8 are not synced
		}
		ws := randomWrites(rng, 300, 500, 0.3)
		roots[v] = m.apply(ws)
		if _, err := s.Commit(v, ws); err != nil {
			t.Fatal(err)
		}
		snaps[v] = m.clone()
	}
	seen := map[uint64]bool{}
	for i := range 12 {
		clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: i * 9, RNG: rand.New(rand.NewPCG(uint64(i), 1))})
		c, err := Open("db", Options{fs: clone})
		if err != nil {
			t.Fatal(err)
		}
		v, root := c.Latest()
		if v < 3 || root != roots[v] {
			t.Fatalf("crash %d: reopened at version %d root %x, want ≥ 3 and %x", i, v, root, roots[v])
		}
		seen[v] = true
		for j := range 500 {
			got, err := c.Get(v, regID(j))
			if err != nil || !bytes.Equal(got, snaps[v][regID(j)]) {
				t.Fatalf("crash %d version %d: %v = %x %v", i, v, regID(j), got, err)
			}
		}
		_ = c.Close()
	}
	t.Logf("versions after crashes: %v", seen)
}

func TestPageCacheStaysWithinItsBound(t *testing.T) {
	s, err := Open("", Options{InMemory: true, NodeCacheBytes: 50 * pageBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := newModel()
	rng := rand.New(rand.NewPCG(15, 15))
	for v := uint64(1); v <= 5; v++ {
		ws := randomWrites(rng, 2000, 5000, 0.1)
		want := m.apply(ws)
		if got, err := s.Commit(v, ws); err != nil || got != want {
			t.Fatalf("version %d: %x %v, want %x", v, got, err, want)
		}
		if n := s.cache.len(); n > 50 {
			t.Fatalf("%d pages cached, bound 50", n)
		}
	}
	checkVersion(t, s, 5, m.tree.Root(), m.values, 5000)
}
