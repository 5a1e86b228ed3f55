//go:build unix

package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/floe-bft/floe/bench"
)

func TestLightCommandJSON(t *testing.T) {
	var out bytes.Buffer
	if err := bench.Main(context.Background(), []string{"light", "--epochs", "1", "--state-proofs", "1", "--json"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r["epochs"] != 1.0 || r["verified_state_proofs"] != 1.0 {
		t.Fatalf("report %v", r)
	}
	if err := bench.Main(context.Background(), []string{"light", "--epochs", "0"}, &out, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--epochs") {
		t.Fatalf("--epochs 0: %v", err)
	}
}
