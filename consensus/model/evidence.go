package model

import "fmt"

// EvidenceKind names a kind of provable misbehaviour.
type EvidenceKind uint8

// The kinds of equivocation a replica can prove with two signed messages.
const (
	DoubleProposal EvidenceKind = iota + 1 // two different blocks proposed for one view
	DoubleVote                             // two votes for different blocks in one view
	DoubleTimeout                          // two different timeouts for one view
)

// String names the kind.
func (k EvidenceKind) String() string {
	switch k {
	case DoubleProposal:
		return "double-proposal"
	case DoubleVote:
		return "double-vote"
	case DoubleTimeout:
		return "double-timeout"
	}
	return fmt.Sprintf("evidence(%d)", uint8(k))
}

// Evidence is a record of equivocation: both conflicting signed messages, so
// anyone can check it without trusting the reporter. Exactly the pair of
// fields matching Kind is set.
type Evidence struct {
	Kind     EvidenceKind
	Offender NodeID
	View     View

	Proposals [2]*Proposal
	Votes     [2]*Vote
	Timeouts  [2]*TimeoutObject
}

// String summarizes the evidence for logs.
func (e Evidence) String() string {
	return fmt.Sprintf("%s by %v in view %d", e.Kind, e.Offender, e.View)
}
