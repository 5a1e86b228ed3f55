//go:build unix

package blockstm

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used; the
// benchmark reports it per transaction because on a shared machine it
// is steadier than wall-clock throughput.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
