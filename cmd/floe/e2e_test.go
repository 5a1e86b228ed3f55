package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestE2EGen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	stdout, stderr, err := execute(t, "e2e", "gen", "--dir", dir, "--validators", "3", "--api-port-base", "19000")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "floe-node2  172.30.0.12  api http://127.0.0.1:19002") {
		t.Errorf("output:\n%s", stdout)
	}
	for _, f := range []string{"compose.yaml", "genesis.json", "node2/config/keys.json", "node2/config/genesis.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	fdir := filepath.Join(t.TempDir(), "f")
	stdout, stderr, err = execute(t, "e2e", "gen", "--dir", fdir, "--validators", "2", "--followers", "1", "--epoch-views", "600")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "floe-follower0  172.30.0.12  api http://127.0.0.1:18082  follows http://172.30.0.10:8080") {
		t.Errorf("output:\n%s", stdout)
	}
	for _, f := range []string{"follower0/config/genesis.json", "governance.key"} {
		if _, err := os.Stat(filepath.Join(fdir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestE2ERunRefusesBadManifests(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("name = \"x\"\nvalidators = 4\n[[step]]\naction = \"epoch\"\nduration = \"1s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := execute(t, "e2e", "run", "--no-build", bad)
	if err == nil || !strings.Contains(err.Error(), "fault is required") {
		t.Errorf("epoch step: %v", err)
	}
	if _, _, err := execute(t, "e2e", "run"); err == nil {
		t.Error("no manifest accepted")
	}
}
