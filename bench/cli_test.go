package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/floe-bft/floe/bench"
)

// The flags reach the benchmark and --json prints one object; the numbers
// themselves are checked by the benchmarks' own tests.
func TestFollowerCommandJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := bench.Main(context.Background(), []string{"follower", "--blocks", "20", "--range", "8", "--json"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	if rep["blocks"] != 20.0 || rep["range_blocks"] != 8.0 || rep["finalized_height"] != 19.0 {
		t.Fatalf("report %v", rep)
	}
}

func TestFollowerCommandRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--blocks", "1"}, {"--range", "0"}, {"--range", "513"}, {"--workers", "0"}, {"--nope"}, {"extra"}} {
		if err := bench.Main(context.Background(), append([]string{"follower"}, args...), &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	for _, args := range [][]string{nil, {"nope"}, {"--help"}} {
		if err := bench.Main(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
