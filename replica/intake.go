package replica

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/verify"
)

// ErrEmptyMessage: a message that carries nothing the core takes.
var ErrEmptyMessage = errors.New("empty consensus message")

// Check verifies one message that crossed the wire (its signatures, its
// certificates, its chain) and returns the event the core takes for it.
// Every replica runs it before stepping the core: the node on its
// verification workers, the simulator in line, so that what becomes which
// event after which checks is written once. m carries one proposal, vote
// or timeout, or a QC with an optional TC (sync info); addressing fields
// are ignored. An error means m must be dropped.
func Check(v *verify.Verifier, m consensus.Message) (consensus.Event, error) {
	switch {
	case m.Proposal != nil:
		return consensus.ProposalEvent{Proposal: m.Proposal}, v.Proposal(m.Proposal)
	case m.Vote != nil:
		return consensus.VoteEvent{Vote: m.Vote}, v.Vote(m.Vote)
	case m.Timeout != nil:
		return consensus.TimeoutEvent{Timeout: m.Timeout}, v.Timeout(m.Timeout)
	case m.QC != nil:
		if err := v.QC(m.QC); err != nil {
			return nil, err
		}
		if m.TC != nil {
			if err := v.TC(m.TC); err != nil {
				return nil, fmt.Errorf("sync info: %w", err)
			}
		}
		return consensus.CertificateEvent{QC: m.QC, TC: m.TC}, nil
	}
	return nil, ErrEmptyMessage
}
