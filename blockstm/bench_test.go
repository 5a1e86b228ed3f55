package blockstm

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var benchHashes = sync.OnceValue(func() int { return calibrateHashes(50 * time.Microsecond) })

// BenchmarkExecute measures 1000-transaction transfer blocks with ~50 µs
// of work per transaction; tx/s is the number to read.
func BenchmarkExecute(b *testing.B) {
	cfg, err := BenchConfig{}.withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	base := benchBase(cfg.Keys)
	modes := []struct {
		name    string
		workers int
	}{{"sequential", 0}, {"workers=1", 1}, {"workers=2", 2}}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			for _, contention := range []string{ContentionLow, ContentionMedium, ContentionFull} {
				blk := newTransferBlock(cfg, contention, benchHashes())
				b.Run(contention, func(b *testing.B) {
					for b.Loop() {
						var err error
						if m.workers == 0 {
							_, err = Sequential(base, cfg.Txs, blk.run)
						} else {
							_, err = Execute(context.Background(), base, cfg.Txs, blk.run, Options{Workers: m.workers})
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(cfg.Txs*b.N)/b.Elapsed().Seconds(), "tx/s")
				})
			}
		})
	}
}

// TestRunBenchSmall runs the report end to end on a tiny block: every
// mode and contention is there, and the parallel outputs were checked
// against sequential (RunBench errors otherwise).
func TestRunBenchSmall(t *testing.T) {
	rep, err := RunBench(context.Background(), BenchConfig{Txs: 50, Work: time.Microsecond, Keys: 1000, MediumKeys: 10, Rounds: 1, Workers: []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 12 {
		t.Fatalf("%d rows, want 12", len(rep.Rows))
	}
	text := rep.String()
	for _, want := range []string{"low", "medium", "full", "sequential", "workers=2", "adaptive", "projection"} {
		if !strings.Contains(text, want) {
			t.Fatalf("report lacks %q:\n%s", want, text)
		}
	}
	if _, err := RunBench(context.Background(), BenchConfig{Txs: -1}); err == nil {
		t.Fatal("RunBench accepted a negative block size")
	}
}

// TestTransferBlockEqualsSequential runs the benchmark's workload through
// the property check at each contention.
func TestTransferBlockEqualsSequential(t *testing.T) {
	cfg, err := BenchConfig{Txs: 300, Keys: 500, MediumKeys: 5}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	base := benchBase(cfg.Keys)
	for _, c := range []string{ContentionLow, ContentionMedium, ContentionFull} {
		blk := newTransferBlock(cfg, c, 20)
		want, err := Sequential(base, cfg.Txs, blk.run)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{1, 2, 4} {
			got, err := Execute(context.Background(), base, cfg.Txs, blk.run, Options{Workers: w})
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, %d workers: %v, %s", c, w, err, diffOutputs(want, got))
			}
		}
	}
}
