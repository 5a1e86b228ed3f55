//go:build !unix

package api

// raiseFileLimit is a no-op where there is no RLIMIT_NOFILE; 0 means the
// limit is unknown.
func raiseFileLimit() (uint64, error) { return 0, nil }
