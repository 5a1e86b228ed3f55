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
	start := time.Now()
	if _, err := AcquireLock("second", 300*time.Millisecond, &msg); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "first") {
		t.Fatalf("a second lock: %v", err)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("gave up after %v, before the 300ms it was given", waited)
	}
	if !strings.Contains(msg.String(), "waiting up to 300ms") {
		t.Errorf("no word of the wait: %q", msg.String())
	}
	l.Release()
	l2, err := AcquireLock("third", 0, io.Discard)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}
