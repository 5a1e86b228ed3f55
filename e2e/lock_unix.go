//go:build unix

package e2e

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Lock is held by a running 'floe e2e run'. Runs share one Docker daemon,
// the floe:local image, container names, subnets and ports, so two at once
// (from two checkouts, say) would tear down each other's networks; the
// second one waits instead.
type Lock struct{ f *os.File }

// ErrLocked means another run holds the lock.
var ErrLocked = errors.New("another floe e2e run is in progress on this machine")

// AcquireLock takes the machine-wide run lock, recording who holds it. If
// another run holds it, it waits up to wait (telling progress once), then
// gives up with ErrLocked.
func AcquireLock(what string, wait time.Duration, progress io.Writer) (*Lock, error) {
	path := filepath.Join(os.TempDir(), "floe-e2e.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for told := false; ; told = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		holder, _ := os.ReadFile(path)
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w (%s: %s)", ErrLocked, path, strings.TrimSpace(string(holder)))
		}
		if !told {
			fmt.Fprintf(progress, "waiting up to %v for another floe e2e run to finish (%s)\n", wait, strings.TrimSpace(string(holder)))
		}
		// Poll every 2 s, but never past the deadline: a short wait (the
		// test's) gives up when it said it would, not up to 2 s later.
		time.Sleep(min(2*time.Second, time.Until(deadline)))
	}
	wd, _ := os.Getwd()
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d in %s: %s\n", os.Getpid(), wd, what)
	}
	return &Lock{f: f}, nil
}

// Release lets the next run start.
func (l *Lock) Release() {
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
