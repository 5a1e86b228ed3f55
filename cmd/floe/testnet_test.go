package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/app/kvstore"
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
		{[]string{"extra"}, "unknown command"},
	} {
		_, _, err := execute(t, append([]string{"testnet"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("testnet %v: err = %v, want mention of %q", c.args, err, c.msg)
		}
	}
}

// The testnet deletes only directories it created.
func TestTestnetDirSafety(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("x"), 0o644)
	if err := prepareTestnetDir(dir); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("foreign directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious.txt")); err != nil {
		t.Fatal("foreign file deleted")
	}
	mine := filepath.Join(t.TempDir(), "tn")
	if err := prepareTestnetDir(mine); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mine, "old.log"), []byte("x"), 0o644)
	if err := prepareTestnetDir(mine); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mine, "old.log")); !os.IsNotExist(err) {
		t.Fatal("previous run's files kept")
	}
}

func TestTestnetSetup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tn")
	nodes, err := setupTestnet(dir, 3, "warn")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tn := range nodes {
		for _, a := range []string{tn.apiAddr, tn.p2pAddr, tn.dbgAddr} {
			if seen[a] {
				t.Fatalf("address %s used twice", a)
			}
			seen[a] = true
		}
		cfg, err := loadConfig(tn.home, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.API.Listen != tn.apiAddr || cfg.Debug.Listen != tn.dbgAddr || cfg.Log.Level != "warn" {
			t.Fatalf("node config %+v", cfg)
		}
	}
	// Keys are deterministic across runs.
	again, err := setupTestnet(dir, 3, "info")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(nodes[1].home, "config/validator.json"))
	b, _ := os.ReadFile(filepath.Join(again[1].home, "config/validator.json"))
	if !bytes.Contains(b, []byte(`"staking_key"`)) || extractField(a, "staking_key") != extractField(b, "staking_key") {
		t.Fatal("testnet keys differ between runs")
	}
}

func extractField(b []byte, field string) string {
	s := string(b)
	i := strings.Index(s, `"`+field+`": "`)
	if i < 0 {
		return ""
	}
	s = s[i+len(field)+5:]
	return s[:strings.IndexByte(s, '"')]
}

func TestTxShapeExactSizes(t *testing.T) {
	rng := newTestRand()
	value := bytes.Repeat([]byte("v"), kvstore.MaxValueSize)
	shape, _ := newTxShape(250, testnetKeySpace)
	min := kvstore.Overhead + shape.keyLen + nonceCounterLen + 1
	for _, size := range []int{min, min + 1, 100, 250, 251, 1000, 4096, 65536, kvstore.MaxTxSize} {
		s, err := newTxShape(size, testnetKeySpace)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		for n := uint64(1); n < 50; n++ {
			tx := s.build(rng, n, value)
			if len(tx) != size {
				t.Fatalf("size %d: built %d bytes", size, len(tx))
			}
			if _, err := kvstore.Decode(tx); err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
		}
	}
	if _, err := newTxShape(min-1, testnetKeySpace); err == nil {
		t.Fatal("too small accepted")
	}
}

func TestLatencyHist(t *testing.T) {
	h := newLatencyHist()
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	near := func(got, want float64) bool { return got > want*0.97 && got < want*1.03 }
	if p := h.quantile(0.5); !near(p, 500) {
		t.Fatalf("p50 = %v", p)
	}
	if p := h.quantile(0.99); !near(p, 990) {
		t.Fatalf("p99 = %v", p)
	}
	if h.maxMS != 1000 || !near(h.mean(), 500.5) {
		t.Fatalf("max %v mean %v", h.maxMS, h.mean())
	}
	h.add(0)
	h.add(100 * time.Hour) // clamped into the last bucket, no panic
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

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
