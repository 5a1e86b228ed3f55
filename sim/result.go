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
	// AdversaryInjected counts messages the adversary crafted or replayed;
	// AdversaryRejected those the decoders or verifiers refused, and
	// AdversaryDelivered the crafted ones that reached a core.
	AdversaryInjected, AdversaryRejected, AdversaryDelivered int
	// ViewsAfterGST and BlocksAfterGST measure the finalization rate of the
	// stable phase (blocks every active honest replica finalized).
	ViewsAfterGST, BlocksAfterGST uint64
	// FailedViewsAfterGST counts views of the stable phase that no QC
	// certified.
	FailedViewsAfterGST uint64
	// LongestFailedRun is the longest run of consecutive failed views after
	// GST: each costs a timeout, so it bounds how long finalization stalls.
	LongestFailedRun uint64
	// Rules counts the rule checks the monitors made.
	Rules uint64
	// SafetyViolations lists every broken safety invariant.
	SafetyViolations []string
	// LivenessFailure says how liveness failed after GST, if it did.
	LivenessFailure string
	// TxOffered and TxFinalized count transactions under load (honest
	// replicas' first finalization); TxLatencyP50 and TxLatencyMax are
	// offer-to-finalization latencies of transactions offered after GST,
	// and LongestTxStall the longest stretch after GST without one
	// finalized.
	TxOffered, TxFinalized     uint64
	TxLatencyP50, TxLatencyMax time.Duration
	LongestTxStall             time.Duration
	// Parked counts proposals that waited for execution (in a cluster
	// run: for their main-chain reference).
	Parked uint64
	// Cluster runs: Collections counts non-empty collections finalized,
	// TxResubmitted transactions offered again, TxExpired those of the
	// cluster never collected whose reference expired (refused, not
	// lost). BadCollectionsProposed counts the bad leaders' invalid
	// proposals, BadCollectionsRefused honest replicas' refusals of them;
	// HonestCollectionsRefused counts honest replicas refusing an honest
	// proposer's collection, and IndexErrors blocks an honest replica
	// could not index: both are liveness bugs and stay zero.
	// UnreadyRefused counts blocks refused because they were checked
	// before their main reference was final at the checking replica.
	Collections, TxResubmitted, TxExpired                                                uint64
	BadCollectionsProposed, BadCollectionsRefused, HonestCollectionsRefused, IndexErrors uint64
	UnreadyRefused                                                                       uint64
	// Trace holds the events leading to the first violation or failure.
	Trace         []string
	SimulatedTime time.Duration
}

// OK reports whether the run had no violation of any kind.
func (r Result) OK() bool {
	return r.Err == "" && len(r.SafetyViolations) == 0 && r.LivenessFailure == ""
}
