//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestBenchLightReportsMeasuredNumbers(t *testing.T) {
	var out bytes.Buffer
	if err := runBenchLight([]string{"--epochs", "3", "--state-proofs", "4", "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var r lightBenchResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r.Epochs != 3 || r.VerifiedStateProofs != 4 || r.BytesFetched <= r.BodyBytes || r.BodyBytes == 0 || r.CPUms <= 0 || r.Requests < 3+4 {
		t.Fatalf("implausible report: %+v", r)
	}
	if err := runBench([]string{"nope"}); err == nil {
		t.Fatal("unknown benchmark accepted")
	}
}
