package scratchdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepare(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gen")
	if err := Prepare(dir, ".ours", "ours\n", "%s is not ours"); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "old")
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Ours: wiped and marked again.
	if err := Prepare(dir, ".ours", "ours\n", "%s is not ours"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("a generated directory was not wiped: %v", err)
	}
	// Someone else's: refused, untouched.
	other := t.TempDir()
	keep := filepath.Join(other, "precious")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Prepare(other, ".ours", "ours\n", "%s is not ours")
	if err == nil || !strings.Contains(err.Error(), "is not ours") {
		t.Fatalf("foreign directory: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("a foreign file was touched: %v", err)
	}
}
