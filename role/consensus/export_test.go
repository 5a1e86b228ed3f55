package consensus

import "github.com/floe-bft/floe/consensus/model"

// EncodeVoteForTest exposes the wire encoding of a vote to external tests
// that play a misbehaving peer.
func EncodeVoteForTest(v *model.Vote) []byte { return encodeVote(v) }

// EncodeProposalForTest exposes the wire encoding of a proposal.
func EncodeProposalForTest(p *model.Proposal) []byte { return encodeProposal(p) }
