//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// The flags reach the benchmark and --json prints one object; the numbers
// themselves are checked in package bench.
func TestBenchLightJSON(t *testing.T) {
	var out bytes.Buffer
	if err := runBenchLight([]string{"--epochs", "1", "--state-proofs", "1", "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r["epochs"] != 1.0 || r["verified_state_proofs"] != 1.0 {
		t.Fatalf("report %v", r)
	}
	if err := runBenchLight([]string{"--epochs", "0"}, &out); err == nil || !strings.Contains(err.Error(), "--epochs") {
		t.Fatalf("--epochs 0: %v", err)
	}
	if err := runBench([]string{"nope"}); err == nil {
		t.Fatal("unknown benchmark accepted")
	}
}
