//go:build !unix

package e2e

import (
	"errors"
	"io"
	"time"
)

// Lock is a no-op where flock does not exist; the runner needs Linux
// (nsenter, iptables) for partitions anyway.
type Lock struct{}

// ErrLocked means another run holds the lock.
var ErrLocked = errors.New("another floe e2e run is in progress on this machine")

// AcquireLock does nothing on this platform.
func AcquireLock(string, time.Duration, io.Writer) (*Lock, error) { return &Lock{}, nil }

// Release does nothing on this platform.
func (*Lock) Release() {}
