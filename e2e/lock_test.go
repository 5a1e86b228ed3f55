//go:build unix

package e2e

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestLockIsExclusive(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	l, err := AcquireLock("first", 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var msg strings.Builder
	if _, err := AcquireLock("second", 3*time.Second, &msg); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "first") {
		t.Fatalf("a second lock: %v", err)
	}
	if !strings.Contains(msg.String(), "waiting up to 3s") {
		t.Errorf("no word of the wait: %q", msg.String())
	}
	l.Release()
	l2, err := AcquireLock("third", 0, io.Discard)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}
