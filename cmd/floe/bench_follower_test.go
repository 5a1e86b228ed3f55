package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

func TestBenchFollowerJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runBenchFollowerCmd(context.Background(), []string{"--blocks", "60", "--range", "16", "--json"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"blocks", "chained_blocks_per_s", "per_block_blocks_per_s", "speedup", "setup_s"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("missing %q", k)
		}
	}
	if rep["blocks"] != 60.0 || rep["finalized_height"] != 59.0 {
		t.Fatalf("report %v", rep)
	}
	// One QC check per range (60 blocks in ranges of 16) vs one per block.
	if rep["chained_qc_checks"] != 4.0 || rep["per_block_qc_checks"] != 60.0 {
		t.Fatalf("QC checks: chained %v, per-block %v", rep["chained_qc_checks"], rep["per_block_qc_checks"])
	}
}

func TestBenchFollowerRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--blocks", "1"}, {"--range", "0"}, {"--range", "513"}, {"--workers", "0"}, {"--nope"}, {"extra"}} {
		if err := runBenchFollowerCmd(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
