package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func noEnv(string) (string, bool) { return "", false }

// initHome makes a home as 'floe init' does, with the API on port 0.
func initHome(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "a")
	if _, err := Init(home, InitOptions{Name: "a", P2P: "127.0.0.1:30001", API: "127.0.0.1:0", LogLevel: "info", Weight: 1}); err != nil {
		t.Fatal(err)
	}
	return home
}

func TestInitWritesAHomeThatLoads(t *testing.T) {
	home := initHome(t)
	for _, f := range []string{"config/keys.json", "config/floe.toml", "config/validator.json", "data"} {
		if _, err := os.Stat(filepath.Join(home, f)); err != nil {
			t.Fatalf("Init did not create %s: %v", f, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(home, "config/keys.json")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys.json mode %v", fi.Mode())
	}
	// A second Init must not replace the keys.
	_, err := Init(home, InitOptions{P2P: "127.0.0.1:30001"})
	if _, ok := err.(*ExistsError); !ok {
		t.Fatalf("Init over an existing home: %v", err)
	}
	cfg, err := Load(home, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Listen != "127.0.0.1:0" || cfg.Storage.DataDir != filepath.Join(home, "data") || cfg.Log.Level != "info" ||
		cfg.Mempool.MaxTxs != 200000 || cfg.Node.GossipInterval.Milliseconds() != 5 {
		t.Fatalf("config %+v", cfg)
	}
}

func TestEnvOverrides(t *testing.T) {
	home := initHome(t)
	env := map[string]string{EnvAPI: "127.0.0.1:9999", EnvP2P: "0.0.0.0:1", EnvDebug: "", EnvLogLevel: "debug",
		EnvDataDir: "/var/lib/floe"}
	cfg, err := Load(home, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Listen != "127.0.0.1:9999" || cfg.P2P.Listen != "0.0.0.0:1" || cfg.Debug.Listen != "" ||
		cfg.Log.Level != "debug" || cfg.Storage.DataDir != "/var/lib/floe" {
		t.Fatalf("config %+v", cfg)
	}
	env = map[string]string{EnvLogLevel: "loud"}
	if _, err := Load(home, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil {
		t.Fatal("bad log level accepted")
	}
	// Misspelled settings are errors, not silently ignored.
	path := filepath.Join(home, "config/floe.toml")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(b, []byte("\n[api]\nlisten_addr = \"x\"\n")...), 0o644)
	if _, err := Load(home, noEnv); err == nil {
		t.Fatal("unknown key accepted")
	}
	os.WriteFile(path, []byte("[mempool]\nmax_txs = 5\n"), 0o644)
	if cfg, err := Load(home, noEnv); err != nil || cfg.Mempool.MaxTxs != 5 || cfg.API.Listen != "" {
		t.Fatalf("partial config: %+v %v", cfg, err)
	}
	// No floe.toml at all: every default, the API on its default address.
	if cfg, err := Load(t.TempDir(), noEnv); err != nil || cfg.API.Listen != DefaultAPIAddr {
		t.Fatalf("no config file: %+v %v", cfg, err)
	}
}

func TestWithoutOverrides(t *testing.T) {
	got := WithoutOverrides([]string{"PATH=/bin", EnvAPI + "=x", EnvDataDir + "=", "HOME=/h", EnvLogLevel + "=debug"})
	if want := []string{"PATH=/bin", "HOME=/h"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCheckNoClobber(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := CheckNoClobber(path, false); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, nil, 0o600)
	err := CheckNoClobber(path, false)
	if _, ok := err.(*ExistsError); !ok || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("existing file: %v", err)
	}
	if err := CheckNoClobber(path, true); err != nil {
		t.Fatalf("forced: %v", err)
	}
}

// floe.toml's role picks the role; anything else is refused at start-up.
func TestConfigRole(t *testing.T) {
	for _, c := range []struct{ toml, want, err string }{
		{"", RoleConsensus, ""},
		{`role = "observer"`, RoleObserver, ""},
		{`role = "consensus"`, RoleConsensus, ""},
		{`role = "collector"`, "", "role"},
	} {
		home := t.TempDir()
		if err := os.MkdirAll(filepath.Join(home, Dir), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, Dir, File), []byte(c.toml+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(home, noEnv)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: err %v, want one naming %q", c.toml, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.toml, err)
		case c.err == "" && cfg.Role != c.want:
			t.Errorf("%q: role %q, want %q", c.toml, cfg.Role, c.want)
		}
	}
	cfg, err := Load(t.TempDir(), func(k string) (string, bool) { return RoleObserver, k == EnvRole })
	if err != nil || cfg.Role != RoleObserver {
		t.Fatalf("FLOE_ROLE: %v %+v", err, cfg)
	}
}

// A pipeline member's home runs its role and advertises a dialable API
// URL in its genesis entry; an unspecified listen address advertises none.
func TestInitRoleAndAPIURL(t *testing.T) {
	home := t.TempDir()
	v, err := Init(home, InitOptions{Name: "c0", P2P: "127.0.0.1:1", API: "127.0.0.1:8080", Weight: 1, Role: "collection"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Role != "collection" || v.API != "http://127.0.0.1:8080" {
		t.Fatalf("entry role %q api %q", v.Role, v.API)
	}
	cfg, err := Load(home, func(string) (string, bool) { return "", false })
	if err != nil || cfg.Role != RoleCollection {
		t.Fatalf("floe.toml role %q (%v), want %q", cfg.Role, err, RoleCollection)
	}
	for addr, want := range map[string]string{"0.0.0.0:8080": "", "[::]:1": "", "": "", "node3:8080": "http://node3:8080"} {
		if got := advertisedAPI(addr); got != want {
			t.Errorf("advertisedAPI(%q) = %q, want %q", addr, got, want)
		}
	}
}

// floe.toml's [access] section reaches the access role's settings; the
// written default file loads with every value at "the role's default".
func TestAccessSection(t *testing.T) {
	home := t.TempDir()
	if _, err := Init(home, InitOptions{Name: "a0", P2P: "127.0.0.1:1", API: "127.0.0.1:2", Weight: 1, Role: "access"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(home, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Access; a.Redundancy != 0 || a.QueueTxs != 0 || a.TrackTxs != 0 || a.RefWait.Duration != 0 {
		t.Fatalf("default [access] = %+v, want zero values", a)
	}
	path := filepath.Join(home, Dir, File)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("redundancy = 0"), []byte("redundancy = 3"), 1)
	b = bytes.Replace(b, []byte(`ref_wait = "0s"`), []byte(`ref_wait = "500ms"`), 1)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(home, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	if cfg.Access.Redundancy != 3 || cfg.Access.RefWait.Duration != 500*time.Millisecond {
		t.Fatalf("[access] = %+v, want redundancy 3, ref_wait 500ms", cfg.Access)
	}
}

// The [collection] and [execution] sections load, default to zero (the
// roles' defaults), and refuse negative values.
func TestRoleSections(t *testing.T) {
	home := t.TempDir()
	if _, err := Init(home, InitOptions{Name: "c0", P2P: "127.0.0.1:1", API: "127.0.0.1:2", Weight: 1, Role: "collection"}); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) (string, bool) { return "", false }
	cfg, err := Load(home, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Collection.Retain != 0 || cfg.Execution.FetchParallel != 0 || cfg.Execution.FetchTimeout.Duration != 0 {
		t.Fatalf("defaults: %+v %+v", cfg.Collection, cfg.Execution)
	}
	path := filepath.Join(home, Dir, File)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Replace(orig, []byte("retain = 0"), []byte("retain = 100"), 1)
	b = bytes.Replace(b, []byte(`fetch_timeout = "0s"`), []byte(`fetch_timeout = "2s"`), 1)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(home, noEnv); err != nil {
		t.Fatal(err)
	}
	if cfg.Collection.Retain != 100 || cfg.Execution.FetchTimeout.Duration != 2*time.Second {
		t.Fatalf("loaded %+v %+v, want retain 100, fetch_timeout 2s", cfg.Collection, cfg.Execution)
	}
	b = bytes.Replace(orig, []byte("prefetch_blocks = 0"), []byte("prefetch_blocks = -1"), 1)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(home, noEnv); err == nil {
		t.Fatal("a negative prefetch_blocks loaded")
	}
}

// A pipeline testnet's consensus homes hold more streams per address;
// every other [api] limit keeps its default.
func TestSetStreamsPerIP(t *testing.T) {
	home := t.TempDir()
	if _, err := Init(home, InitOptions{Name: "n0", P2P: "127.0.0.1:1", API: "127.0.0.1:2", Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if err := SetStreamsPerIP(home, 9); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(home, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.API
	if a.MaxStreamsPerIP == nil || *a.MaxStreamsPerIP != 9 || a.MaxConnectionsPerIP != nil || a.MaxStreams != nil {
		t.Fatalf("[api] after SetStreamsPerIP: streams/ip %v, conns/ip %v, streams %v", a.MaxStreamsPerIP, a.MaxConnectionsPerIP, a.MaxStreams)
	}
	if err := SetStreamsPerIP(home, 9); err == nil {
		t.Fatal("a rewritten file was rewritten again")
	}
}
