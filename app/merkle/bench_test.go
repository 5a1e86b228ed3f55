package merkle

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"
)

func randomOps(rng *rand.Rand, n int) []Op {
	ops := make([]Op, n)
	for i := range ops {
		binary.LittleEndian.PutUint64(ops[i].Key[:], rng.Uint64())
		binary.LittleEndian.PutUint64(ops[i].Key[8:], rng.Uint64())
		binary.LittleEndian.PutUint64(ops[i].Value[:], rng.Uint64())
	}
	return ops
}

func filled(rng *rand.Rand, n int) *Tree {
	tr := New()
	for n > 0 {
		k := min(n, 1<<16)
		tr.Update(randomOps(rng, k))
		n -= k
	}
	return tr
}

// BenchmarkMerkleUpdateBatch: a block of 3,000 new random keys into a tree
// of 100,000 (ns/op is per batch; ns/key per key).
func BenchmarkMerkleUpdateBatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	tr := filled(rng, 100_000)
	const batch = 3000
	batches := make([][]Op, 64)
	for i := range batches {
		batches[i] = randomOps(rng, batch)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Update(batches[i%len(batches)])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/key")
}

// BenchmarkProveVerify: prove a random present key in a 100,000-key tree,
// encode, decode and verify.
func BenchmarkProveVerify(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	tr := New()
	keys := make([][]byte, 100_000)
	ops := make([]Op, len(keys))
	for i := range keys {
		keys[i] = binary.BigEndian.AppendUint64(nil, rng.Uint64())
		ops[i] = Op{Key: KeyHash(keys[i]), Value: ValueHash(keys[i])}
	}
	tr.Update(ops)
	root := tr.Root()
	b.ResetTimer()
	size := 0
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		p := tr.Prove(KeyHash(k))
		enc := p.Encode()
		size += len(enc)
		if err := Verify(root, k, k, enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/float64(b.N), "proof-bytes")
}

// TestMemoryPerKey checks the tree's memory per key at 1M keys (the load
// test's scale) against the 150-byte budget. It is skipped with -short and
// under the race detector, which makes it slow and inflates memory.
func TestMemoryPerKey(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds a 1M-key tree")
	}
	rng := rand.New(rand.NewPCG(3, 3))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	tr := filled(rng, 1_000_000)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / 1e6
	t.Logf("1M keys: %d inner nodes (%.2f per key), arenas %.1f B/key, heap growth %.1f B/key",
		tr.InnerNodes(), float64(tr.InnerNodes())/1e6, float64(tr.MemoryBytes())/1e6, heap)
	if per := float64(tr.MemoryBytes()) / 1e6; per > 150 {
		t.Fatalf("%.1f bytes per key", per)
	}
	runtime.KeepAlive(tr)
}
