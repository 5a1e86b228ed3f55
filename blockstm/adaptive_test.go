package blockstm

import (
	"context"
	"reflect"
	"testing"

	"github.com/floe-bft/floe/state"
)

// counterBlock: every transaction increments one of keys registers (one
// key: full contention).
func counterBlock(keys int) Func {
	return func(i int, v View) (Result, error) {
		id := state.RegisterID{Key: string(rune('a' + i%keys))}
		cur, err := v.Get(id)
		if err != nil {
			return Result{}, err
		}
		next := append([]byte{}, cur...)
		next = append(next, byte(i))
		if len(next) > 64 {
			next = next[len(next)-64:]
		}
		if err := v.Set(id, next); err != nil {
			return Result{}, err
		}
		return Result{OK: true, Computation: 1}, nil
	}
}

// Adaptive gives Sequential's output whatever it chooses; after a
// contended parallel block it runs Backoff blocks sequentially and then
// probes again; uncontended blocks stay parallel; small blocks run
// sequentially.
func TestAdaptiveChoosesAndAgrees(t *testing.T) {
	base := state.MapReader{}
	a := &Adaptive{Workers: 2, Backoff: 3}
	full, low := counterBlock(1), counterBlock(26)
	for b := 0; b < 12; b++ {
		run := full
		if b >= 10 {
			run = low
		}
		want, err := Sequential(base, 40, run)
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Execute(context.Background(), base, 40, run)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("block %d: output differs from sequential (%v)", b, err)
		}
	}
	// Blocks 0 (probe, contended), 1-3 sequential (backoff 3), 4 probe
	// (still contended), 5-10 sequential (backoff doubled to 6; the last
	// of them already on the low-contention load), 11 a probe on it.
	if a.ParallelBlocks != 3 || a.SequentialBlocks != 9 {
		t.Fatalf("parallel %d, sequential %d blocks; want 3 and 9", a.ParallelBlocks, a.SequentialBlocks)
	}
	if a.sequentialLeft != 0 || a.backoff != 0 {
		t.Fatal("an uncontended probe left a backoff")
	}
	if _, err := a.Execute(context.Background(), base, 3, low); err != nil || a.SequentialBlocks != 10 {
		t.Fatalf("a 3-transaction block: %v, sequential blocks %d", err, a.SequentialBlocks)
	}
	out, _ := Sequential(base, 40, full)
	if d := out.CriticalPath(); d != 40 {
		t.Fatalf("full contention: critical path %d of 40, want 40", d)
	}
	out, _ = Sequential(base, 20, counterBlock(26))
	if d := out.CriticalPath(); d != 1 {
		t.Fatalf("distinct keys: critical path %d, want 1", d)
	}
	out, _ = Sequential(base, 40, counterBlock(4))
	if d := out.CriticalPath(); d != 10 {
		t.Fatalf("four counters: critical path %d, want 10", d)
	}
}
