package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTestnetFlagValidation(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--nodes", "0"}, "--nodes"},
		{[]string{"--nodes", "1000"}, "--nodes"},
		{[]string{"--rate", "0"}, "--rate"},
		{[]string{"--rate", "-5"}, "--rate"},
		{[]string{"--rate", "fast"}, "--rate"},
		{[]string{"--tx-size", "10"}, "too small"},
		{[]string{"--tx-size", "100000000"}, "too large"},
		{[]string{"--duration", "-1s"}, "--duration"},
		{[]string{"--dir", ""}, "--dir"},
		{[]string{"--log-level", "chatty"}, "--log-level"},
		{[]string{"--nodes", "four"}, "invalid argument"},
		{[]string{"--kill", "node0@1s"}, "not a validator other than node0"},
		{[]string{"--kill", "node3"}, "nodeN@DURATION"},
		{[]string{"--kill", "node3@5s", "--duration", "5s"}, "before the end of the run"},
		{[]string{"--block-interval-ms", "-1"}, "--block-interval-ms"},
		{[]string{"--idle-block-interval-ms", "1"}, "--idle-block-interval-ms"},
		{[]string{"--max-pending", "-1"}, "--max-pending"},
		{[]string{"--followers", "-1"}, "--followers"},
		{[]string{"--app-state", filepath.Join(t.TempDir(), "missing.json")}, "--app-state"},
		{[]string{"extra"}, "unknown command"},
	} {
		_, _, err := execute(t, append([]string{"testnet"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("testnet %v: err = %v, want mention of %q", c.args, err, c.msg)
		}
	}
}

// TestTestnetEndToEnd runs the real thing: four node processes (this test
// binary acting as floe, see TestMain) under load for a few seconds.
func TestTestnetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes")
	}
	t.Setenv(envRunMain, "1") // inherited by the node processes
	dir := filepath.Join(t.TempDir(), "tn")
	stdout, stderr, err := execute(t, "testnet", "--nodes", "4", "--dir", dir, "--duration", "6s",
		"--rate", "300", "--json")
	if err != nil {
		t.Fatalf("testnet: %v\nstderr:\n%s", err, stderr)
	}
	m := decodeOne(t, stdout)
	if m["nodes"] != 4.0 || m["error"] != nil {
		t.Fatalf("summary %v", m)
	}
	for _, key := range []string{"submitted_tx", "finalized_tx", "finalized_tx_per_s", "latency_p50_ms",
		"latency_p99_ms", "finalized_blocks", "max_rss_mb", "duration_s"} {
		if v, _ := m[key].(float64); v <= 0 {
			t.Errorf("%s = %v, want > 0", key, m[key])
		}
	}
	if _, ok := m["timeouts"].(float64); !ok {
		t.Errorf("timeouts missing: %v", m)
	}
	for i := 0; i < 4; i++ {
		if _, err := os.Stat(filepath.Join(dir, "node"+string(rune('0'+i)), "node.log")); err != nil {
			t.Errorf("node %d log: %v", i, err)
		}
	}
}
