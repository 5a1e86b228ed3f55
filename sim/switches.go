package sim

import "sort"

// FaultSwitch breaks one protocol rule in every honest replica (or in the
// verification in front of them). The switches exist only to prove that
// the simulator catches a replica that breaks the rule: each one must be
// reported by the default soaks and by the scenario search.
type FaultSwitch struct {
	Name string
	// Rule is the rule of DESIGN.md §3 that the switch breaks.
	Rule  string
	Apply func(*Config)
}

// FaultSwitches lists every test-only fault switch, by name.
var FaultSwitches = []FaultSwitch{
	{"skip-voting-rule", "vote only once per view, under the QC/TC rule",
		func(c *Config) { c.Faults.Safety.SkipVotingRule = true }},
	{"skip-extend-rule", "vote after a TC only for a QC at least as new as the TC's newest",
		func(c *Config) { c.Faults.Safety.SkipExtendRule = true }},
	{"finalize-non-consecutive", "2-chain finality needs a certified child of the next view",
		func(c *Config) { c.Faults.Forks.FinalizeNonConsecutive = true }},
	{"vote-past-view", "vote only in the current view",
		func(c *Config) { c.Faults.Safety.VotePastView = true }},
	{"accept-non-leader-proposal", "vote only for the view leader's proposal",
		func(c *Config) {
			c.Faults.AcceptNonLeaderProposal = true
			c.VerifyFaults.SkipLeaderCheck = true
		}},
	{"accept-underweight-certificate", "certificates need a supermajority by weight",
		func(c *Config) { c.VerifyFaults.SkipWeightCheck = true }},
	{"weak-quorum", "certificates need a supermajority by weight",
		func(c *Config) {
			c.Faults.WeakQuorum = true
			c.VerifyFaults.WeakQuorum = true
		}},
	{"drop-evidence", "report every equivocation",
		func(c *Config) { c.Faults.DropEvidence = true }},
	{"forget-lock-on-restart", "the lock survives restarts",
		func(c *Config) { c.Faults.Safety.ForgetLockOnRestart = true }},
	{"forget-safety-data", "never sign conflicting messages across restarts",
		func(c *Config) { c.ForgetSafetyData = true }},
}

// FaultSwitchNames lists the switch names, sorted.
func FaultSwitchNames() []string {
	var names []string
	for _, f := range FaultSwitches {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// LookupFaultSwitch returns the switch with that name.
func LookupFaultSwitch(name string) (FaultSwitch, bool) {
	for _, f := range FaultSwitches {
		if f.Name == name {
			return f, true
		}
	}
	return FaultSwitch{}, false
}
