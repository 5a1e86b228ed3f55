package consensus

import (
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/safety"
)

// Output is everything one Step asks of the caller. The contract, in order:
//
//  1. Persist Safety, Liveness, Blocks and Finalized durably (fsync).
//  2. Only then send Messages: each is signed under the persisted state, and
//     sending it before persisting could let a crash erase the memory of a
//     signature and sign a conflicting one after restart.
//  3. Apply Finalized to the application, report Evidence, start Fetch
//     requests, and arm a timer for NextTimer.
type Output struct {
	// Safety is the new SafetyData, or nil if unchanged.
	Safety *safety.Data
	// Liveness is the new pacemaker state, or nil if unchanged.
	Liveness *pacemaker.Data
	// Blocks are new blocks added to the tree, to store.
	Blocks []*model.Block
	// Finalized are blocks that became final, oldest first. The last one is
	// the new root of the tree.
	Finalized []*model.Block
	// Messages to send, signed under the state above.
	Messages []Message
	// Evidence of equivocation seen in this step.
	Evidence []model.Evidence
	// Fetch lists blocks the core needs and does not have (sync).
	Fetch []model.Identifier
	// NextTimer is when to deliver the next TimerEvent.
	NextTimer time.Time
}

// Empty reports whether the output asks for nothing but a timer.
func (o *Output) Empty() bool {
	return o.Safety == nil && o.Liveness == nil && len(o.Blocks) == 0 && len(o.Finalized) == 0 &&
		len(o.Messages) == 0 && len(o.Evidence) == 0 && len(o.Fetch) == 0
}

// Message is one outgoing message: to one recipient, or to every other
// committee member when Broadcast is set. Exactly one of Proposal, Vote,
// Timeout and QC is set. A message whose recipient is the replica itself (its
// vote when it leads the next view) must be fed back to it as an event.
type Message struct {
	To        model.NodeID
	Broadcast bool
	Proposal  *model.Proposal
	Vote      *model.Vote
	Timeout   *model.TimeoutObject
	// QC (with TC when the view was entered by one) is sync info for a
	// replica that sent a timeout for a view this one has left: a replica
	// left out of a few proposals would otherwise only hear timeouts of its
	// own view, which everyone ahead ignores. Delivered as CertificateEvent.
	QC *model.QC
	TC *model.TC
}
