package consensus

import (
	"fmt"
	"strconv"
	"time"

	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
)

// Faults are deliberate defects for end-to-end tests (see docs/e2e.md). A
// production node leaves them zero; `floe start` sets them only from
// explicitly unsafe flags and environment variables, and the node logs a
// warning at startup when any is set.
type Faults struct {
	// ForgetSafetyData resets the persisted SafetyData to its genesis value
	// at startup, as if the disk had lost it: the node may then sign a
	// second, conflicting message in a view it already acted in. It exists
	// so the end-to-end runner can prove that it detects such a node.
	ForgetSafetyData bool
	// ClockOffset shifts the clock the consensus core runs on: block
	// timestamps and the deadlines the core computes. Timers still fire
	// after the intended durations (a deadline is converted back with the
	// same offset), so only the wall-clock values the node signs are
	// skewed, as they would be on a host whose clock is off.
	ClockOffset time.Duration
}

// Any reports whether some fault is switched on.
func (f Faults) Any() bool { return f.ForgetSafetyData || f.ClockOffset != 0 }

// The environment variables that switch faults on, for the end-to-end
// runner's containers (docs/e2e.md). None is in floe.toml, so a production
// configuration cannot carry one by accident.
const (
	// EnvForgetSafetyData is the environment form of `floe start
	// --unsafe-forget-safety-data` (Faults.ForgetSafetyData).
	EnvForgetSafetyData = "FLOE_UNSAFE_FORGET_SAFETY_DATA"
	// EnvClockOffset shifts the consensus clock ("30s", "-2m";
	// Faults.ClockOffset).
	EnvClockOffset = "FLOE_CLOCK_OFFSET"
)

// MaxClockOffset bounds EnvClockOffset: a typo such as "30h" for "30s"
// should fail loudly rather than produce a chain timestamped next year.
const MaxClockOffset = 24 * time.Hour

// FaultsFromEnv combines the --unsafe-forget-safety-data flag (forget) with
// the fault variables of the environment lookupEnv reads: either source
// switches ForgetSafetyData on. An unparsable or out-of-range value is an
// error naming the variable, never silently ignored, because a fault the
// test asked for and did not get would make the test prove nothing.
func FaultsFromEnv(forget bool, lookupEnv func(string) (string, bool)) (Faults, error) {
	f := Faults{ForgetSafetyData: forget}
	if v, ok := lookupEnv(EnvForgetSafetyData); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, fmt.Errorf("%s=%q: want true or false", EnvForgetSafetyData, v)
		}
		f.ForgetSafetyData = f.ForgetSafetyData || b
	}
	if v, ok := lookupEnv(EnvClockOffset); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return f, fmt.Errorf("%s=%q: want a duration such as 30s or -2m", EnvClockOffset, v)
		}
		if d > MaxClockOffset || d < -MaxClockOffset {
			return f, fmt.Errorf("%s=%q: at most %v either way", EnvClockOffset, v, MaxClockOffset)
		}
		f.ClockOffset = d
	}
	return f, nil
}

// now is the consensus core's clock: wall time plus the injected offset.
func (n *Node) now() time.Time { return time.Now().Add(n.cfg.Faults.ClockOffset) }

// applyStartupFaults rewrites the loaded consensus state as the configured
// faults demand, and says so loudly.
func (n *Node) applyStartupFaults(st core.State, root *model.Block, rootQC *model.QC) core.State {
	if !n.cfg.Faults.Any() {
		return st
	}
	n.log.Warn("UNSAFE: test faults enabled; never run a real network like this",
		"forget_safety_data", n.cfg.Faults.ForgetSafetyData, "clock_offset", n.cfg.Faults.ClockOffset)
	if n.cfg.Faults.ForgetSafetyData {
		n.log.Warn("UNSAFE: forgetting persisted safety data",
			"highest_acknowledged_view", st.Safety.HighestAcknowledgedView,
			"highest_proposed_view", st.Safety.HighestProposedView, "locked_view", st.Safety.LockedView)
		st.Safety = core.GenesisState(root, rootQC).Safety
	}
	return st
}
