package consensus

import (
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
)

// Event is an input to the core. Every message event must carry a message
// whose signatures the caller already verified (consensus/verify); the core
// re-checks everything else.
type Event interface{ isEvent() }

// ProposalEvent delivers a verified proposal.
type ProposalEvent struct{ Proposal *model.Proposal }

// HeldProposalEvent shows the core a verified proposal its driver holds
// back until the payload can be checked (replica.Readiness). The core only
// looks for equivocation: a held proposal and another one by the same
// member for the same view, held or delivered, are evidence. The driver
// delivers the held proposal as a ProposalEvent once it is checkable.
type HeldProposalEvent struct{ Proposal *model.Proposal }

// VoteEvent delivers a verified vote.
type VoteEvent struct{ Vote *model.Vote }

// TimeoutEvent delivers a verified timeout object.
type TimeoutEvent struct{ Timeout *model.TimeoutObject }

// CertificateEvent delivers a verified QC and/or TC a peer sent so that
// this replica can catch up (see Message.QC).
type CertificateEvent struct {
	QC *model.QC
	TC *model.TC
}

// TimerEvent tells the core that the time passed to Step reached the
// NextTimer of an earlier output. Spurious or early ticks are harmless.
type TimerEvent struct{}

// BlocksEvent delivers blocks fetched through sync, each verified by its
// certificates. The core adds those that connect to its tree; it never votes
// for them.
type BlocksEvent struct{ Blocks []*model.Block }

// ScheduleEvent replaces the committee schedule: a new epoch became known
// (from finalized service events), or the current one was extended.
// Schedules only ever grow; a view's committee never changes once known.
type ScheduleEvent struct{ Schedule committee.Schedule }

// WorkEvent tells the core that the application has something to order
// (a transaction arrived): a leader waiting out the idle interval proposes
// now. Spurious ones are harmless.
type WorkEvent struct{}

func (WorkEvent) isEvent()         {}
func (ScheduleEvent) isEvent()     {}
func (ProposalEvent) isEvent()     {}
func (HeldProposalEvent) isEvent() {}
func (VoteEvent) isEvent()         {}
func (TimeoutEvent) isEvent()      {}
func (TimerEvent) isEvent()        {}
func (CertificateEvent) isEvent()  {}
func (BlocksEvent) isEvent()       {}
