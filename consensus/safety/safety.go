// Package safety holds the rules that keep an honest replica from ever
// signing two conflicting messages, and the SafetyData that makes those rules
// hold across crashes.
//
// Every signing method updates SafetyData before it returns the signed
// message; the caller must persist the new SafetyData before the message
// leaves the node. After a restart from persisted SafetyData the rules refuse
// anything that would contradict what was signed before the crash.
package safety

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// ErrRefused is wrapped when a rule refuses to sign. It is an expected
// condition (already voted, stale view, proposal not extending a safe QC).
var ErrRefused = errors.New("safety rules refuse to sign")

// Data is what the safety rules persist.
type Data struct {
	// LockedView is the highest QC view of any block this replica voted for
	// (the 1-chain lock). A replica never times out with a newest QC below it.
	LockedView model.View
	// HighestAcknowledgedView is the highest view in which this replica voted
	// or timed out; it never votes in a view at or below it.
	HighestAcknowledgedView model.View
	// HighestProposedView is the highest view this replica proposed in, so a
	// leader that crashes right after proposing never proposes a second block.
	HighestProposedView model.View
	// LastTimeout is the last timeout object signed; re-broadcasts resend it
	// unchanged rather than signing a second, different timeout for the view.
	LastTimeout *model.TimeoutObject
}

// Encode returns the canonical encoding of the data.
func (d Data) Encode() []byte {
	w := codec.NewWriter(64)
	w.Uint64(uint64(d.LockedView))
	w.Uint64(uint64(d.HighestAcknowledgedView))
	w.Uint64(uint64(d.HighestProposedView))
	w.Bool(d.LastTimeout != nil)
	if d.LastTimeout != nil {
		w.Bytes32(d.LastTimeout.Encode())
	}
	return w.Bytes()
}

// DecodeData decodes Data.Encode.
func DecodeData(b []byte) (Data, error) {
	r := codec.NewReader(b)
	var d Data
	d.LockedView = model.View(r.Uint64())
	d.HighestAcknowledgedView = model.View(r.Uint64())
	d.HighestProposedView = model.View(r.Uint64())
	if r.Bool() {
		raw := r.Bytes32(1<<20, "last timeout")
		if r.Err() == nil {
			t, err := model.DecodeTimeout(raw)
			if err != nil {
				return Data{}, fmt.Errorf("safety data: %w", err)
			}
			d.LastTimeout = t
		}
	}
	if err := r.Done(); err != nil {
		return Data{}, fmt.Errorf("safety data: %w", err)
	}
	return d, nil
}

// Faults switches off individual rules. It exists only so that tests can
// prove the simulator catches a broken replica; a node must never set it.
type Faults struct {
	// SkipVotingRule votes for any proposal of the current view, ignoring
	// the QC/TC condition and the acknowledged-view check.
	SkipVotingRule bool
	// SkipExtendRule ignores only the QC/TC half of the voting rule: the
	// replica votes for blocks extending a QC older than the TC's newest.
	SkipExtendRule bool
	// VotePastView votes for a proposal of a view the replica already left
	// (if it has not acted in that view).
	VotePastView bool
	// ForgetLockOnRestart restores every field of the persisted data except
	// the locked view, as a node that persisted only part of it would.
	ForgetLockOnRestart bool
}

// Rules signs votes, timeouts and proposals for one replica.
type Rules struct {
	chain  model.ChainID
	self   model.NodeID
	key    crypto.PrivateKey
	data   Data
	faults Faults
}

// New returns rules for replica self on chain, starting from the data
// persisted for that chain. They sign only for chain: the chain is in every
// signed byte string, and blocks of another chain are refused.
func New(chain model.ChainID, self model.NodeID, key crypto.PrivateKey, data Data, faults Faults) *Rules {
	if faults.ForgetLockOnRestart {
		data.LockedView = 0
	}
	return &Rules{chain: chain, self: self, key: key, data: data, faults: faults}
}

// Data returns the current safety data (to persist).
func (r *Rules) Data() Data { return r.data }

// ProduceVote signs a vote for block b while the replica is in curView.
// The Jolteon voting rule: b is for the current view, the replica has neither
// voted nor timed out in it, and b extends a QC for the previous view, or
// carries the TC for the previous view and a QC at least as new as every QC
// in that TC.
func (r *Rules) ProduceVote(b *model.Block, curView model.View) (*model.Vote, error) {
	if b.ChainID != r.chain {
		return nil, fmt.Errorf("%w: block of chain %v, rules sign for %v", ErrRefused, b.ChainID, r.chain)
	}
	if b.View != curView && !(r.faults.VotePastView && b.View < curView) {
		return nil, fmt.Errorf("%w: block for view %d, current view %d", ErrRefused, b.View, curView)
	}
	if !r.faults.SkipVotingRule {
		if b.View <= r.data.HighestAcknowledgedView {
			return nil, fmt.Errorf("%w: already voted or timed out in view %d", ErrRefused, r.data.HighestAcknowledgedView)
		}
		if err := SafeToExtend(b.View, b.QC, b.TC); err != nil && !r.faults.SkipExtendRule {
			return nil, err
		}
	}
	sig, err := r.key.Sign(crypto.DomainVote, model.VoteMessage(r.chain, b.View, b.ID()))
	if err != nil {
		return nil, fmt.Errorf("sign vote for view %d: %w", b.View, err)
	}
	vote, err := model.NewVote(b.View, b.ID(), r.self, sig)
	if err != nil {
		return nil, err
	}
	if b.View > r.data.HighestAcknowledgedView {
		r.data.HighestAcknowledgedView = b.View
	}
	if b.QC.View > r.data.LockedView {
		r.data.LockedView = b.QC.View
	}
	return vote, nil
}

// SafeToExtend is the QC/TC half of the voting rule: entering view v on qc is
// justified by qc being for v-1, or by tc being the TC for v-1 with qc at
// least as new as the TC's newest QC.
func SafeToExtend(v model.View, qc *model.QC, tc *model.TC) error {
	if qc.View+1 == v {
		return nil
	}
	if tc == nil || tc.View+1 != v {
		return fmt.Errorf("%w: view %d follows QC %d without the TC for view %d", ErrRefused, v, qc.View, v-1)
	}
	if qc.View < tc.NewestQC.View {
		return fmt.Errorf("%w: view %d extends QC %d, older than the TC's newest QC %d", ErrRefused, v, qc.View, tc.NewestQC.View)
	}
	return nil
}

// ProduceTimeout signs a timeout for curView. A second call in the same view
// returns the timeout signed before (a re-broadcast), never a new one.
func (r *Rules) ProduceTimeout(curView model.View, newestQC *model.QC, lastViewTC *model.TC) (*model.TimeoutObject, error) {
	if last := r.data.LastTimeout; last != nil && last.View == curView {
		return last, nil
	}
	if curView < r.data.HighestAcknowledgedView {
		return nil, fmt.Errorf("%w: timeout for view %d after acting in view %d", ErrRefused, curView, r.data.HighestAcknowledgedView)
	}
	if newestQC.View < r.data.LockedView {
		return nil, fmt.Errorf("%w: timeout with newest QC %d below locked view %d", ErrRefused, newestQC.View, r.data.LockedView)
	}
	if newestQC.View+1 == curView {
		lastViewTC = nil
	}
	sig, err := r.key.Sign(crypto.DomainTimeout, model.TimeoutMessage(r.chain, curView, newestQC.View))
	if err != nil {
		return nil, fmt.Errorf("sign timeout for view %d: %w", curView, err)
	}
	t, err := model.NewTimeoutObject(curView, newestQC, lastViewTC, r.self, sig)
	if err != nil {
		return nil, err
	}
	r.data.HighestAcknowledgedView = curView
	r.data.LastTimeout = t
	return t, nil
}

// SignProposal signs b as its proposer. It refuses a second proposal for a
// view, even after a restart.
func (r *Rules) SignProposal(b *model.Block) (*model.Proposal, error) {
	if b.ProposerID != r.self {
		return nil, fmt.Errorf("%w: block for view %d names proposer %v", ErrRefused, b.View, b.ProposerID)
	}
	if b.ChainID != r.chain {
		return nil, fmt.Errorf("%w: block of chain %v, rules sign for %v", ErrRefused, b.ChainID, r.chain)
	}
	if b.View <= r.data.HighestProposedView {
		return nil, fmt.Errorf("%w: already proposed in view %d", ErrRefused, r.data.HighestProposedView)
	}
	if b.View <= r.data.HighestAcknowledgedView {
		return nil, fmt.Errorf("%w: proposal for view %d after acting in view %d", ErrRefused, b.View, r.data.HighestAcknowledgedView)
	}
	if err := SafeToExtend(b.View, b.QC, b.TC); err != nil {
		return nil, err
	}
	sig, err := r.key.Sign(crypto.DomainProposal, model.ProposalMessage(r.chain, b.ID()))
	if err != nil {
		return nil, fmt.Errorf("sign proposal for view %d: %w", b.View, err)
	}
	p, err := model.NewProposal(b, sig)
	if err != nil {
		return nil, err
	}
	r.data.HighestProposedView = b.View
	return p, nil
}
