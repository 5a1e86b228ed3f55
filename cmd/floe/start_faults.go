package main

import (
	"fmt"
	"strconv"
	"time"

	node "github.com/floe-bft/floe/role/consensus"
)

// Test-only fault switches of 'floe start', for the end-to-end runner
// (docs/e2e.md). Each one makes the node unsafe or its clock wrong; none is
// in floe.toml, so a production configuration cannot carry one by accident.
const (
	// envForgetSafetyData is --unsafe-forget-safety-data for containers.
	envForgetSafetyData = "FLOE_UNSAFE_FORGET_SAFETY_DATA"
	// envClockOffset shifts the consensus clock ("30s", "-2m").
	envClockOffset = "FLOE_CLOCK_OFFSET"
)

// maxClockOffset bounds FLOE_CLOCK_OFFSET: a typo such as "30h" for "30s"
// should fail loudly rather than produce a chain timestamped next year.
const maxClockOffset = 24 * time.Hour

// loadFaults combines the --unsafe-forget-safety-data flag with the
// environment.
func loadFaults(forgetFlag bool, lookupEnv func(string) (string, bool)) (node.Faults, error) {
	f := node.Faults{ForgetSafetyData: forgetFlag}
	if v, ok := lookupEnv(envForgetSafetyData); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, fmt.Errorf("%s=%q: want true or false", envForgetSafetyData, v)
		}
		f.ForgetSafetyData = f.ForgetSafetyData || b
	}
	if v, ok := lookupEnv(envClockOffset); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return f, fmt.Errorf("%s=%q: want a duration such as 30s or -2m", envClockOffset, v)
		}
		if d > maxClockOffset || d < -maxClockOffset {
			return f, fmt.Errorf("%s=%q: at most %v either way", envClockOffset, v, maxClockOffset)
		}
		f.ClockOffset = d
	}
	return f, nil
}
