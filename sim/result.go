package sim

import "time"

// Result is what one run saw.
type Result struct {
	Seed uint64
	// Err is set when the configuration was rejected; nothing ran.
	Err string
	// MaxView is the highest view an honest replica reached.
	MaxView uint64
	// FinalizedBlocks counts finalizations across honest replicas.
	FinalizedBlocks uint64
	// MinFinalizedHeight is the lowest finalized height among honest replicas.
	MinFinalizedHeight uint64
	// Evidence counts equivocation records honest replicas produced.
	Evidence int
	// SafetyViolations lists every broken safety invariant.
	SafetyViolations []string
	// LivenessFailure says how liveness failed after GST, if it did.
	LivenessFailure string
	// Trace holds the events leading to the first violation or failure.
	Trace         []string
	SimulatedTime time.Duration
}

// OK reports whether the run had no violation of any kind.
func (r Result) OK() bool {
	return r.Err == "" && len(r.SafetyViolations) == 0 && r.LivenessFailure == ""
}
