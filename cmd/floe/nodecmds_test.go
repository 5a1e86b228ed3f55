package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
)

func TestKeysCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "keys.json")
	stdout, stderr, err := execute(t, "keys", "--out", out, "--name", "alice", "--p2p", "10.0.0.1:26656")
	if err != nil {
		t.Fatalf("keys: %v\n%s", err, stderr)
	}
	var ko keysOutput
	if err := json.Unmarshal([]byte(stdout), &ko); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	keys, err := genesis.LoadKeys(out)
	if err != nil {
		t.Fatal(err)
	}
	if ko.NodeID != keys.NodeID().Hex() || ko.Validator.Name != "alice" || ko.Validator.Address != "10.0.0.1:26656" ||
		ko.Validator.Weight != 1 {
		t.Fatalf("output %+v does not match the keys", ko)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys file mode: %v %v", fi.Mode(), err)
	}
	// Never overwrite keys by accident.
	if _, _, err := execute(t, "keys", "--out", out); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("overwrite: %v", err)
	}
	if _, _, err := execute(t, "keys"); err == nil {
		t.Fatal("keys without --out succeeded")
	}
	// The printed output is accepted by 'floe genesis' as a member entry.
	entry := filepath.Join(t.TempDir(), "alice.json")
	os.WriteFile(entry, []byte(stdout), 0o644)
	gpath := filepath.Join(t.TempDir(), "genesis.json")
	if _, stderr, err := execute(t, "genesis", "--chain-id", "c", "--out", gpath, entry); err != nil {
		t.Fatalf("genesis from keys output: %v\n%s", err, stderr)
	}
}

// initNode runs 'floe init' and returns the home directory.
func initNode(t *testing.T, name, p2p string) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), name)
	if _, stderr, err := execute(t, "init", "--home", home, "--name", name, "--p2p", p2p, "--api", "127.0.0.1:0"); err != nil {
		t.Fatalf("init %s: %v\n%s", name, err, stderr)
	}
	return home
}

func TestInitGenesisRoundTrip(t *testing.T) {
	a := initNode(t, "a", "127.0.0.1:30001")
	b := initNode(t, "b", "127.0.0.1:30002")
	for _, home := range []string{a, b} {
		for _, f := range []string{"config/keys.json", "config/floe.toml", "config/validator.json", "data"} {
			if _, err := os.Stat(filepath.Join(home, f)); err != nil {
				t.Fatalf("init did not create %s: %v", f, err)
			}
		}
		if fi, _ := os.Stat(filepath.Join(home, "config/keys.json")); fi.Mode().Perm() != 0o600 {
			t.Fatalf("keys.json mode %v", fi.Mode())
		}
	}
	// A second init must not replace the keys.
	if _, _, err := execute(t, "init", "--home", a); err == nil {
		t.Fatal("init over an existing home succeeded")
	}

	gpath := filepath.Join(t.TempDir(), "genesis.json")
	stdout, stderr, err := execute(t, "genesis", "--chain-id", "round-trip", "--out", gpath,
		filepath.Join(a, "config/validator.json"), filepath.Join(b, "config/validator.json"))
	if err != nil {
		t.Fatalf("genesis: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "2 validators") {
		t.Fatalf("genesis output: %s", stdout)
	}
	g, err := genesis.Load(gpath) // validates everything, proofs of possession included
	if err != nil {
		t.Fatal(err)
	}
	com, members, err := g.Committee()
	if err != nil || com.Size() != 2 || len(members) != 2 {
		t.Fatalf("committee: %v", err)
	}
	// Each node's keys are members of the committee.
	for _, home := range []string{a, b} {
		keys, err := genesis.LoadKeys(filepath.Join(home, "config/keys.json"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := com.Index(keys.NodeID()); err != nil {
			t.Fatalf("%s is not in the committee: %v", home, err)
		}
	}
	// And each node's configuration loads.
	cfg, err := config.Load(a, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Listen != "127.0.0.1:0" || cfg.Storage.DataDir != filepath.Join(a, "data") || cfg.Log.Level != "info" ||
		cfg.Mempool.MaxTxs != 200000 || cfg.Node.GossipInterval.Milliseconds() != 5 {
		t.Fatalf("config %+v", cfg)
	}
}

func TestGenesisRejects(t *testing.T) {
	a := initNode(t, "a", "127.0.0.1:30001")
	b := initNode(t, "b", "127.0.0.1:30002")
	va := filepath.Join(a, "config/validator.json")
	vb := filepath.Join(b, "config/validator.json")
	dir := t.TempDir()
	write := func(name string, mutate func(*genesis.Validator)) string {
		v, err := genesis.ReadValidator(vb)
		if err != nil {
			t.Fatal(err)
		}
		mutate(&v)
		p := filepath.Join(dir, name)
		if err := config.WriteJSON(p, v); err != nil {
			t.Fatal(err)
		}
		return p
	}
	va0, _ := genesis.ReadValidator(va)
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"bad possession", []string{va, write("pop.json", func(v *genesis.Validator) { v.Possession = va0.Possession })}, "possession"},
		{"same name", []string{va, write("name.json", func(v *genesis.Validator) { v.Name = "a" })}, "twice"},
		{"same address", []string{va, write("addr.json", func(v *genesis.Validator) { v.Address = va0.Address })}, "address"},
		{"same key", []string{va, va}, "twice"},
		{"bad network key", []string{va, write("nk.json", func(v *genesis.Validator) { v.NetworkKey = "00" })}, "network_key"},
		{"zero weight", []string{va, write("w.json", func(v *genesis.Validator) { v.Weight = 0 })}, "weight"},
		{"not json", []string{va, "/dev/null"}, "not a validator"},
		{"missing file", []string{va, filepath.Join(dir, "nope.json")}, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "g.json")
			_, _, err := execute(t, append([]string{"genesis", "--chain-id", "x", "--out", out}, c.args...)...)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), c.msg) {
				t.Fatalf("err = %v, want mention of %q", err, c.msg)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Fatal("a genesis file was written despite the error")
			}
		})
	}
	if _, _, err := execute(t, "genesis", "--out", filepath.Join(dir, "g.json"), va); err == nil {
		t.Fatal("genesis without --chain-id succeeded")
	}
}

// TestRolesThroughKeysInitAndGenesis: --role goes into the validator entry
// of 'floe keys' and 'floe init', 'floe genesis' puts collectors outside
// the committee and deals them into --clusters clusters.
func TestRolesThroughKeysInitAndGenesis(t *testing.T) {
	dir := t.TempDir()
	a := initNode(t, "a", "127.0.0.1:30001")
	entries := []string{filepath.Join(a, "config/validator.json")}
	if v, err := genesis.ReadValidator(entries[0]); err != nil || v.Role != "consensus" {
		t.Fatalf("init without --role wrote role %q (%v), want consensus", v.Role, err)
	}
	home := filepath.Join(dir, "x")
	if _, stderr, err := execute(t, "init", "--home", home, "--name", "x", "--p2p", "127.0.0.1:30009", "--role", "execution"); err != nil {
		t.Fatalf("init --role execution: %v\n%s", err, stderr)
	}
	entries = append(entries, filepath.Join(home, "config/validator.json"))
	for i := range 3 {
		name := "c" + string(rune('0'+i))
		stdout, stderr, err := execute(t, "keys", "--out", filepath.Join(dir, name+".keys"), "--name", name,
			"--p2p", "127.0.0.1:3010"+string(rune('0'+i)), "--role", "collection")
		if err != nil {
			t.Fatalf("keys --role collection: %v\n%s", err, stderr)
		}
		var ko keysOutput
		if err := json.Unmarshal([]byte(stdout), &ko); err != nil || ko.Validator.Role != "collection" {
			t.Fatalf("keys output role %q (%v)", ko.Validator.Role, err)
		}
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, p)
	}
	for _, args := range [][]string{
		{"keys", "--out", filepath.Join(dir, "bad.keys"), "--role", "verification"},
		{"init", "--home", filepath.Join(dir, "bad"), "--role", "validator"},
	} {
		if _, _, err := execute(t, args...); err == nil || !strings.Contains(err.Error(), "unknown role") {
			t.Fatalf("%v: err = %v, want unknown role", args, err)
		}
	}
	gpath := filepath.Join(dir, "genesis.json")
	if _, _, err := execute(t, append([]string{"genesis", "--chain-id", "roles", "--out", gpath, "--clusters", "4"}, entries...)...); err == nil ||
		!strings.Contains(err.Error(), "clusters") {
		t.Fatalf("4 clusters for 3 collectors: err = %v", err)
	}
	stdout, stderr, err := execute(t, append([]string{"genesis", "--chain-id", "roles", "--out", gpath, "--clusters", "2"}, entries...)...)
	if err != nil {
		t.Fatalf("genesis: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "5 validators, committee of 1") || !strings.Contains(stdout, "3 collection") ||
		!strings.Contains(stdout, "1 execution; clusters: 2") {
		t.Fatalf("genesis output: %s", stdout)
	}
	g, err := genesis.Load(gpath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := g.EpochState()
	if err != nil {
		t.Fatal(err)
	}
	e := st.Schedule().Last()
	if e.Committee().Size() != 1 || len(e.Clusters) != 2 || len(e.Clusters[0])+len(e.Clusters[1]) != 3 {
		t.Fatalf("genesis epoch: committee %d, clusters %v", e.Committee().Size(), e.Clusters)
	}
}
