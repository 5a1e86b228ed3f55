package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/floe-bft/floe/bench"
)

// 'floe bench attack' end to end on short windows: the testnet starts, a
// node restarted on purpose is not reported as crashed, the attacks run
// and report their checks. The criterion itself is not asserted here (a
// few seconds on a shared machine say little about rates).
func TestBenchAttackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes")
	}
	t.Setenv(envRunMain, "1") // inherited by the node processes
	dir := filepath.Join(t.TempDir(), "tn")
	stdout, stderr, err := execute(t, "bench", "attack", "--attacks", "handshake-hold,dup-flood", "--duration", "4s",
		"--warmup", "1s", "--settle", "500ms", "--rate", "300", "--dir", dir, "--json")
	if err != nil {
		t.Fatalf("bench attack: %v\nstderr:\n%s", err, stderr)
	}
	var rep bench.AttackReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("not one JSON report: %v\n%s", err, stdout)
	}
	var names []string
	for _, w := range rep.Windows {
		names = append(names, w.Name)
	}
	if len(names) != 5 || names[1] != "handshake-hold" || names[3] != "dup-flood" || names[4] != "baseline" {
		t.Fatalf("windows %v", names)
	}
	for _, w := range rep.Windows {
		if w.BlocksPerS <= 0 {
			t.Errorf("%s: nothing finalized", w.Name)
		}
		for _, c := range w.Checks {
			if !c.OK {
				t.Errorf("%s: %s: %s", w.Name, c.Name, c.Detail)
			}
		}
	}
	if rep.Windows[1].Counters["back_ms"] <= 0 || rep.Windows[3].Counters["refused_duplicate"] <= 0 {
		t.Errorf("counters %v %v", rep.Windows[1].Counters, rep.Windows[3].Counters)
	}
}
