package state

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/floe-bft/floe/app/merkle"
)

func countKeys(t testing.TB, s *Store) map[byte]int {
	t.Helper()
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := map[byte]int{}
	for ok := it.First(); ok; ok = it.Next() {
		n[it.Key()[0]]++
	}
	return n
}

// checkVersion asserts that every register of space reads and proves at v
// as in want.
func checkVersion(t testing.TB, s *Store, v uint64, root merkle.Hash, want map[RegisterID][]byte, space int) {
	t.Helper()
	if r, err := s.Root(v); err != nil || r != root {
		t.Fatalf("Root(%d) = %x, %v; want %x", v, r, err, root)
	}
	var ids []RegisterID
	for i := range space {
		id := regID(i)
		got, err := s.Get(v, id)
		if err != nil || !bytes.Equal(got, want[id]) {
			t.Fatalf("version %d: %v = %x, %v; want %x", v, id, got, err, want[id])
		}
		if i%5 == 0 {
			val, p, err := s.Prove(v, id)
			if err != nil {
				t.Fatal(err)
			}
			if err := merkle.Verify(root, id.Encode(), val, p.Encode()); err != nil {
				t.Fatalf("version %d %v: %v", v, id, err)
			}
			ids = append(ids, id)
		}
	}
	p, err := s.ProveBatch(v, ids)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyBatch(root, p); err != nil {
		t.Fatalf("version %d: batch: %v", v, err)
	}
}

func TestPruneKeepsRetainedVersionsAndShrinks(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.pruneBatchKeys = 7 // many batches
	rng := rand.New(rand.NewPCG(8, 8))
	const space = 600
	m := newModel()
	snaps := map[uint64]map[RegisterID][]byte{}
	roots := map[uint64]merkle.Hash{}
	commit := func(v uint64) {
		ws := randomWrites(rng, 200, space, 0.35)
		roots[v] = m.apply(ws)
		if _, err := s.Commit(v, ws); err != nil {
			t.Fatal(err)
		}
		snaps[v] = m.clone()
	}
	for v := uint64(1); v <= 10; v++ {
		commit(v)
	}
	before := countKeys(t, s)
	if err := s.Prune(6); err != nil {
		t.Fatal(err)
	}
	after := countKeys(t, s)
	t.Logf("keys before %v, after %v", before, after)
	for _, p := range []byte{prefixNode, prefixValue, prefixRoot} {
		if after[p] >= before[p] {
			t.Fatalf("prefix %q: %d keys before pruning, %d after", p, before[p], after[p])
		}
	}
	for v := uint64(0); v < 6; v++ {
		if _, err := s.Get(v, regID(1)); !errors.Is(err, ErrVersionPruned) {
			t.Fatalf("Get at pruned %d: %v", v, err)
		}
		if _, err := s.Root(v); !errors.Is(err, ErrVersionPruned) {
			t.Fatalf("Root at pruned %d: %v", v, err)
		}
	}
	for v := uint64(6); v <= 10; v++ {
		checkVersion(t, s, v, roots[v], snaps[v], space)
	}
	if err := s.Prune(11); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("Prune above the latest: %v", err)
	}
	// Commits continue; pruning to the latest keeps it whole, and the
	// retention survives a reopen.
	for v := uint64(11); v <= 14; v++ {
		commit(v)
	}
	if err := s.Prune(14); err != nil {
		t.Fatal(err)
	}
	checkVersion(t, s, 14, roots[14], snaps[14], space)
	if n := countKeys(t, s); n[prefixStale] != 0 {
		t.Fatalf("%d stale entries left after pruning to the latest", n[prefixStale])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Oldest() != 14 {
		t.Fatalf("oldest after reopen %d", s.Oldest())
	}
	checkVersion(t, s, 14, roots[14], snaps[14], space)
	// After pruning everything but the latest, the store holds one value
	// record per live register and nothing else of the history.
	if n := countKeys(t, s); n[prefixValue] != len(snaps[14]) {
		t.Fatalf("%d value records for %d live registers", n[prefixValue], len(snaps[14]))
	}
}

// Readers of older versions keep working while commits and pruning run
// (run with -race).
func TestReadsDuringCommitsAndPruning(t *testing.T) {
	s := openMem(t)
	rng := rand.New(rand.NewPCG(6, 6))
	const space = 300
	m := newModel()
	var mu sync.Mutex
	snaps := map[uint64]map[RegisterID][]byte{}
	roots := map[uint64]merkle.Hash{}
	commit := func(v uint64) {
		ws := randomWrites(rng, 60, space, 0.3)
		root := m.apply(ws)
		// Recorded before the commit makes v visible to the readers.
		mu.Lock()
		snaps[v], roots[v] = m.clone(), root
		mu.Unlock()
		if _, err := s.Commit(v, ws); err != nil {
			t.Error(err)
		}
	}
	commit(1)
	versions := uint64(60)
	if testing.Short() {
		versions = 20
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := rand.New(rand.NewPCG(uint64(r), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				latest, _ := s.Latest()
				v := latest - uint64(rr.IntN(int(min(latest, 4))))
				mu.Lock()
				want, root := snaps[v], roots[v]
				mu.Unlock()
				id := regID(rr.IntN(space))
				got, err := s.Get(v, id)
				if errors.Is(err, ErrVersionPruned) {
					continue
				}
				if err != nil || !bytes.Equal(got, want[id]) {
					t.Errorf("version %d %v: %x %v, want %x", v, id, got, err, want[id])
					return
				}
				val, p, err := s.Prove(v, id)
				if errors.Is(err, ErrVersionPruned) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if err := merkle.Verify(root, id.Encode(), val, p.Encode()); err != nil {
					t.Errorf("version %d: %v", v, err)
					return
				}
			}
		}()
	}
	for v := uint64(2); v <= versions; v++ {
		commit(v)
		if v%5 == 0 {
			if err := s.Prune(v - 3); err != nil {
				t.Error(err)
			}
		}
	}
	close(stop)
	wg.Wait()
}
