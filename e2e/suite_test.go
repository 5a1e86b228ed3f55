package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadManifestsChecksAllFirst(t *testing.T) {
	good, err := filepath.Glob("manifests/*.toml")
	if err != nil || len(good) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	ms, err := LoadManifests(good)
	if err != nil || len(ms) != len(good) {
		t.Fatalf("%d manifests: %v", len(ms), err)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("name = \"x\"\nvalidators = 4\n[[step]]\naction = \"epoch\"\nduration = \"1s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadManifests(append(good, bad)); err == nil || !strings.Contains(err.Error(), "fault is required") {
		t.Fatalf("a bad manifest last: %v", err)
	}
}

// With nothing to run, RunAll succeeds and --json still prints one value.
func TestRunAllOfNothing(t *testing.T) {
	var out bytes.Buffer
	if err := RunAll(context.Background(), nil, Options{}, &out, true); err != nil || strings.TrimSpace(out.String()) != "null" {
		t.Fatalf("out %q, err %v", out.String(), err)
	}
}
