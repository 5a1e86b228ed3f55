package state

import (
	"context"
	"os"
	"strconv"
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
