package state

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
)

func TestRunBenchSmall(t *testing.T) {
	rep, err := RunBench(context.Background(), BenchConfig{Dir: t.TempDir(), Registers: 5000, Batch: 100, BuildBatch: 1000, UpdateCommits: 30, ProofSamples: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	if rep.UpdatesPerSecond <= 0 || rep.SingleProofBytes <= 0 || rep.BatchProofBytes <= 0 || rep.BatchProofBytes >= rep.Batch100SingleBytes+100*64 {
		t.Fatalf("implausible report: %+v", rep)
	}
}

// TestRunBenchFromEnv runs RunBench at a size given by the environment
// (FLOE_STATE_BENCH_REGISTERS, in FLOE_STATE_BENCH_DIR), for measuring
// without the CLI: docs/state.md has the command.
func TestRunBenchFromEnv(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FLOE_STATE_BENCH_REGISTERS"))
	dir := os.Getenv("FLOE_STATE_BENCH_DIR")
	if n == 0 || dir == "" {
		t.Skip("FLOE_STATE_BENCH_REGISTERS and FLOE_STATE_BENCH_DIR not set")
	}
	rep, err := RunBench(context.Background(), BenchConfig{Dir: dir, Registers: n, Progress: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
}

// benchFixture is a store of benchRegisters registers shared by the
// benchmarks (built once: 10^6 registers take about a minute).
var benchFixture struct {
	once sync.Once
	dir  string
	s    *Store
	err  error
}

func benchRegisters() int {
	if testing.Short() {
		return 100_000
	}
	return 1_000_000
}

func fixture(b *testing.B) *Store {
	f := &benchFixture
	f.once.Do(func() {
		if f.dir, f.err = os.MkdirTemp("", "state-bench-"); f.err != nil {
			return
		}
		if f.s, f.err = Open(f.dir, Options{}); f.err != nil {
			return
		}
		rng := rand.New(rand.NewPCG(1, 1))
		n := benchRegisters()
		for v := 1; (v-1)*10_000 < n; v++ {
			ws := make([]Write, 0, 10_000)
			for i := (v - 1) * 10_000; i < min(v*10_000, n); i++ {
				ws = append(ws, Write{ID: benchID(i), Value: randomValue(rng, 32)})
			}
			if _, f.err = f.s.Commit(uint64(v), ws); f.err != nil {
				return
			}
			if v%10 == 0 {
				if f.err = f.s.Prune(uint64(v)); f.err != nil {
					return
				}
			}
		}
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.s
}

func randomValue(rng *rand.Rand, n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(rng.Uint32())
	}
	return v
}

func TestMain(m *testing.M) {
	code := m.Run()
	if f := &benchFixture; f.s != nil {
		_ = f.s.Close()
		_ = os.RemoveAll(f.dir)
	}
	os.Exit(code)
}

// BenchmarkCommit: commits of 1,000 random updates (32-byte values) at
// 10^6 registers (10^5 with -short); reports updates/s.
func BenchmarkCommit(b *testing.B) {
	s := fixture(b)
	rng := rand.New(rand.NewPCG(2, 2))
	n := benchRegisters()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ws := make([]Write, 1000)
		for j := range ws {
			ws[j] = Write{ID: benchID(rng.IntN(n)), Value: randomValue(rng, 32)}
		}
		latest, _ := s.Latest()
		b.StartTimer()
		if _, err := s.Commit(latest+1, ws); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkProve: single proofs at 10^6 registers; reports their size.
func BenchmarkProve(b *testing.B) {
	s := fixture(b)
	rng := rand.New(rand.NewPCG(3, 3))
	latest, _ := s.Latest()
	size := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, p, err := s.Prove(latest, benchID(rng.IntN(benchRegisters())))
		if err != nil {
			b.Fatal(err)
		}
		size += len(p.Encode())
	}
	b.ReportMetric(float64(size)/float64(b.N), "bytes/proof")
}

// BenchmarkProveBatch100: batch proofs of 100 random registers at 10^6
// registers; reports their size and that of the same 100 single proofs.
func BenchmarkProveBatch100(b *testing.B) {
	s := fixture(b)
	rng := rand.New(rand.NewPCG(4, 4))
	latest, _ := s.Latest()
	size, single := 0, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ids := make([]RegisterID, 100)
		for j := range ids {
			ids[j] = benchID(rng.IntN(benchRegisters()))
			_, p, err := s.Prove(latest, ids[j])
			if err != nil {
				b.Fatal(err)
			}
			single += len(p.Encode())
		}
		b.StartTimer()
		p, err := s.ProveBatch(latest, ids)
		if err != nil {
			b.Fatal(err)
		}
		size += len(p.Encode())
	}
	b.ReportMetric(float64(size)/float64(b.N), "bytes/batch")
	b.ReportMetric(float64(single)/float64(b.N), "bytes/100-singles")
}
