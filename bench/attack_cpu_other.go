//go:build !unix

package bench

import "time"

// selfCPU is unknown here (0).
func selfCPU() time.Duration { return 0 }
