//go:build unix

package api

import "syscall"

// raiseFileLimit raises the soft limit on open files to the hard limit
// where allowed (the Go runtime already does so at start on most systems;
// this makes it explicit and reports the result) and returns the soft
// limit in force, 0 if unknown.
func raiseFileLimit() (soft uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			return uint64(lim.Cur), err
		}
		lim = raised
	}
	return uint64(lim.Cur), nil
}
