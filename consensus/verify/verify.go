// Package verify checks the signatures and weights of consensus messages
// against a committee. It is the expensive half of message validation and
// runs outside the consensus core (in the node's worker pools, or inline in
// the simulator); the core only ever sees messages that passed it.
//
// Every function returns nil or an error wrapping model.ErrInvalid (shape,
// weight, membership) or crypto.ErrInvalidSignature.
package verify

import (
	"fmt"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// Verifier checks messages against the committee that owns their view. It
// is immutable and safe for concurrent use; when the schedule changes
// (a new epoch), the owner builds a new Verifier.
type Verifier struct {
	chain    model.ChainID
	schedule committee.Schedule
	scheme   crypto.Scheme
	root     *model.QC
	faults   Faults
	// ancestryLeaders skips the proposer check (LeadersFromAncestry).
	ancestryLeaders bool
}

// Faults switches off individual checks. Only the simulator's tests set it,
// to prove that a replica trusting such a verifier is caught; a node never
// does.
type Faults struct {
	// SkipLeaderCheck accepts proposals from any committee member.
	SkipLeaderCheck bool
	// SkipWeightCheck accepts QCs and TCs whatever their signers' weight.
	SkipWeightCheck bool
	// WeakQuorum accepts QCs and TCs one weight unit below a supermajority.
	WeakQuorum bool
}

// WithFaults returns a copy of v with checks switched off (test-only).
func (v *Verifier) WithFaults(f Faults) *Verifier {
	c := *v
	c.faults = f
	return &c
}

// LeadersFromAncestry returns a copy of v that does not check who proposed
// a block. With leader reputation (package reputation) the leader of a
// view depends on the proposal's parent, which a verifier does not see; the
// replica's core checks the proposer once the parent is known, and a
// follower relies on the QC that certifies the block.
func (v *Verifier) LeadersFromAncestry() *Verifier {
	c := *v
	c.ancestryLeaders = true
	return &c
}

// threshold is the weight a certificate must reach.
func (v *Verifier) threshold(com *committee.Committee) uint64 {
	switch t := com.SupermajorityThreshold(); {
	case v.faults.SkipWeightCheck:
		return 0
	case v.faults.WeakQuorum && t > 1:
		return t - 1
	default:
		return t
	}
}

// New returns a verifier for chain. rootQC is the trusted certificate of
// the root block; it is accepted by equality, never by signature. Every
// signature is checked over bytes that name chain, and blocks of another
// chain are rejected, so nothing from another chain verifies here.
func New(chain model.ChainID, s committee.Schedule, scheme crypto.Scheme, rootQC *model.QC) *Verifier {
	return &Verifier{chain: chain, schedule: s, scheme: scheme, root: rootQC}
}

// Chain returns the chain messages are checked for.
func (v *Verifier) Chain() model.ChainID { return v.chain }

// Schedule returns the schedule messages are checked against.
func (v *Verifier) Schedule() committee.Schedule { return v.schedule }

// committeeAt returns the committee of view view; an unknown epoch keeps
// its own sentinel so callers can tell "not yet" from "invalid".
func (v *Verifier) committeeAt(view model.View) (*committee.Committee, error) {
	return v.schedule.CommitteeAt(view)
}

func memberKey(c *committee.Committee, id model.NodeID) (crypto.PublicKey, error) {
	i, err := c.Index(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", model.ErrInvalid, err)
	}
	return c.Member(i).StakingKey, nil
}

// QC checks that a supermajority signed (qc.View, qc.BlockID).
func (v *Verifier) QC(qc *model.QC) error {
	if qc == nil {
		return fmt.Errorf("%w: missing QC", model.ErrInvalid)
	}
	if qc.IsRoot() {
		if v.root != nil && qc.Equal(v.root) {
			return nil
		}
		return fmt.Errorf("%w: unsigned QC for view %d is not the root QC", model.ErrInvalid, qc.View)
	}
	com, err := v.committeeAt(qc.View)
	if err != nil {
		return fmt.Errorf("QC for view %d: %w", qc.View, err)
	}
	weight, err := com.SignersWeight(qc.Signers)
	if err != nil {
		return fmt.Errorf("QC for view %d: %w", qc.View, err)
	}
	if weight < v.threshold(com) {
		return fmt.Errorf("%w: QC for view %d has weight %d below supermajority %d",
			model.ErrInvalid, qc.View, weight, com.SupermajorityThreshold())
	}
	keys := make([]crypto.PublicKey, 0, qc.Signers.Count())
	for _, i := range qc.Signers.Indices() {
		keys = append(keys, com.Member(i).StakingKey)
	}
	agg, err := v.scheme.AggregatePublicKeys(keys)
	if err != nil {
		return fmt.Errorf("QC for view %d: %w", qc.View, err)
	}
	if err := agg.Verify(crypto.DomainVote, model.VoteMessage(v.chain, qc.View, qc.BlockID), qc.Signature); err != nil {
		return fmt.Errorf("QC for view %d: %w", qc.View, err)
	}
	return nil
}

// TC checks a timeout certificate: supermajority weight, its newest QC, and
// the aggregate signature over the distinct (view, newest QC view) messages.
// Signers are grouped by newest QC view, so verification costs one
// multi-pairing with one aggregated key per distinct view, not one pairing
// per signer.
func (v *Verifier) TC(tc *model.TC) error {
	if tc == nil {
		return fmt.Errorf("%w: missing TC", model.ErrInvalid)
	}
	com, err := v.committeeAt(tc.View)
	if err != nil {
		return fmt.Errorf("TC for view %d: %w", tc.View, err)
	}
	weight, err := com.SignersWeight(tc.Signers)
	if err != nil {
		return fmt.Errorf("TC for view %d: %w", tc.View, err)
	}
	if weight < v.threshold(com) {
		return fmt.Errorf("%w: TC for view %d has weight %d below supermajority %d",
			model.ErrInvalid, tc.View, weight, com.SupermajorityThreshold())
	}
	if err := v.QC(tc.NewestQC); err != nil {
		return fmt.Errorf("TC for view %d: newest %w", tc.View, err)
	}
	groups := make(map[model.View][]crypto.PublicKey)
	var order []model.View
	for n, i := range tc.Signers.Indices() {
		qv := tc.NewestQCViews[n]
		if _, ok := groups[qv]; !ok {
			order = append(order, qv)
		}
		groups[qv] = append(groups[qv], com.Member(i).StakingKey)
	}
	keys := make([]crypto.PublicKey, 0, len(order))
	msgs := make([][]byte, 0, len(order))
	for _, qv := range order {
		agg, err := v.scheme.AggregatePublicKeys(groups[qv])
		if err != nil {
			return fmt.Errorf("TC for view %d: %w", tc.View, err)
		}
		keys = append(keys, agg)
		msgs = append(msgs, model.TimeoutMessage(v.chain, tc.View, qv))
	}
	if err := v.scheme.VerifyAggregate(crypto.DomainTimeout, keys, msgs, tc.Signature); err != nil {
		return fmt.Errorf("TC for view %d: %w", tc.View, err)
	}
	return nil
}

// Vote checks the voter's membership and signature.
func (v *Verifier) Vote(vote *model.Vote) error {
	com, err := v.committeeAt(vote.View)
	if err != nil {
		return fmt.Errorf("vote for view %d: %w", vote.View, err)
	}
	key, err := memberKey(com, vote.SignerID)
	if err != nil {
		return fmt.Errorf("vote for view %d: %w", vote.View, err)
	}
	if err := key.Verify(crypto.DomainVote, model.VoteMessage(v.chain, vote.View, vote.BlockID), vote.Signature); err != nil {
		return fmt.Errorf("vote for view %d by %v: %w", vote.View, vote.SignerID, err)
	}
	return nil
}

// Votes checks votes for one block (one view, one block ID) optimistically:
// one aggregate verification for all of them, and individual checks only
// when that fails, so a byzantine voter costs its own verification, not
// everyone's. It returns the votes that verify and, for each rejected one,
// its error (same order as votes).
func (v *Verifier) Votes(votes []*model.Vote) (ok []*model.Vote, rejected []error) {
	if len(votes) > 1 && v.aggregateVerifies(votes) {
		return votes, nil
	}
	for _, vote := range votes {
		if err := v.Vote(vote); err != nil {
			rejected = append(rejected, err)
			continue
		}
		ok = append(ok, vote)
	}
	return ok, rejected
}

// aggregateVerifies reports whether votes for one block all verify, as
// one aggregate signature under the aggregate of their signers' keys.
func (v *Verifier) aggregateVerifies(votes []*model.Vote) bool {
	com, err := v.committeeAt(votes[0].View)
	if err != nil {
		return false
	}
	sigs := make([][]byte, 0, len(votes))
	keys := make([]crypto.PublicKey, 0, len(votes))
	for _, vote := range votes {
		if vote.View != votes[0].View || vote.BlockID != votes[0].BlockID {
			return false
		}
		key, err := memberKey(com, vote.SignerID)
		if err != nil {
			return false
		}
		sigs = append(sigs, vote.Signature)
		keys = append(keys, key)
	}
	agg, err := v.scheme.AggregateSignatures(sigs)
	if err != nil {
		return false
	}
	key, err := v.scheme.AggregatePublicKeys(keys)
	if err != nil {
		return false
	}
	return key.Verify(crypto.DomainVote, model.VoteMessage(v.chain, votes[0].View, votes[0].BlockID), agg) == nil
}

// Timeout checks the signer, the signature and the certificates it carries.
func (v *Verifier) Timeout(t *model.TimeoutObject) error {
	com, err := v.committeeAt(t.View)
	if err != nil {
		return fmt.Errorf("timeout for view %d: %w", t.View, err)
	}
	key, err := memberKey(com, t.SignerID)
	if err != nil {
		return fmt.Errorf("timeout for view %d: %w", t.View, err)
	}
	if err := key.Verify(crypto.DomainTimeout, model.TimeoutMessage(v.chain, t.View, t.NewestQC.View), t.Signature); err != nil {
		return fmt.Errorf("timeout for view %d by %v: %w", t.View, t.SignerID, err)
	}
	if err := v.QC(t.NewestQC); err != nil {
		return fmt.Errorf("timeout for view %d: newest %w", t.View, err)
	}
	if t.LastViewTC != nil {
		if err := v.TC(t.LastViewTC); err != nil {
			return fmt.Errorf("timeout for view %d: last view %w", t.View, err)
		}
	}
	return nil
}

// Block checks the certificates a block header carries.
func (v *Verifier) Block(b *model.Block) error {
	if b.IsRoot() {
		return fmt.Errorf("%w: root block %v cannot be verified by certificates", model.ErrInvalid, b.ID())
	}
	return v.Header(&b.Header)
}

// Header checks the certificates a (non-root) header carries: the QC for
// its parent and the TC that lets it skip views.
func (v *Verifier) Header(h *model.Header) error {
	if h.ChainID != v.chain {
		return fmt.Errorf("%w: block for view %d is of chain %v, not %v", model.ErrInvalid, h.View, h.ChainID, v.chain)
	}
	if h.QC == nil {
		return fmt.Errorf("%w: header for view %d has no parent QC", model.ErrInvalid, h.View)
	}
	if err := v.QC(h.QC); err != nil {
		return fmt.Errorf("block for view %d: parent %w", h.View, err)
	}
	if h.TC != nil {
		if err := v.TC(h.TC); err != nil {
			return fmt.Errorf("block for view %d: %w", h.View, err)
		}
	}
	return nil
}

// Proposal checks that the block's proposer is the view's leader (unless
// leaders come from ancestry), its signature over the block ID, and the
// block's certificates.
func (v *Verifier) Proposal(p *model.Proposal) error {
	b := p.Block
	com, err := v.committeeAt(b.View)
	if err != nil {
		return fmt.Errorf("proposal for view %d: %w", b.View, err)
	}
	if leader := com.Leader(b.View); b.ProposerID != leader && !v.faults.SkipLeaderCheck && !v.ancestryLeaders {
		return fmt.Errorf("%w: proposal for view %d by %v, leader is %v", model.ErrInvalid, b.View, b.ProposerID, leader)
	}
	key, err := memberKey(com, b.ProposerID)
	if err != nil {
		return fmt.Errorf("proposal for view %d: %w", b.View, err)
	}
	if err := key.Verify(crypto.DomainProposal, model.ProposalMessage(v.chain, b.ID()), p.Signature); err != nil {
		return fmt.Errorf("proposal for view %d: %w", b.View, err)
	}
	return v.Block(b)
}
