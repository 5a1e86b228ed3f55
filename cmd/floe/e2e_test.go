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
	if _, _, err := execute(t, "e2e", "gen", "--dir", filepath.Join(t.TempDir(), "f"), "--followers", "1"); err == nil ||
		!strings.Contains(err.Error(), "followers not supported yet") {
		t.Errorf("followers: %v", err)
	}
}

func TestE2ERunRefusesBadManifests(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("name = \"x\"\nvalidators = 4\n[[step]]\naction = \"epoch\"\nduration = \"1s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := execute(t, "e2e", "run", "--no-build", bad)
	if err == nil || !strings.Contains(err.Error(), "epoch transitions are not supported yet") {
		t.Errorf("epoch step: %v", err)
	}
	if _, _, err := execute(t, "e2e", "run"); err == nil {
		t.Error("no manifest accepted")
	}
}
