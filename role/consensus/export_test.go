package consensus

import (
	"github.com/floe-bft/floe/chainrun"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/mempool"
)

// EncodeVoteForTest exposes the wire encoding of a vote to external tests
// that play a misbehaving peer.
func EncodeVoteForTest(v *model.Vote) []byte { return chainrun.EncodeVote(v) }

// EncodeProposalForTest exposes the wire encoding of a proposal.
func EncodeProposalForTest(p *model.Proposal) []byte { return chainrun.EncodeProposal(p) }

// ValidatePayloadForTest runs the consensus role's payload rules on b as
// the core would, with parent as the block it extends.
func (n *Node) ValidatePayloadForTest(b, parent *model.Block) error {
	return (&payloads{n: n, maxBytes: model.MaxPayloadSize, maxTxs: n.cfg.Genesis.Params.MaxBlockTxs}).Validate(b, parent)
}

// ForgetRecentTxsForTest replaces the mempool with an empty one, as if the
// finalized transactions had left its recent window.
func (n *Node) ForgetRecentTxsForTest() {
	n.mempool = mempool.New(mempool.Config{MaxTxs: n.cfg.MempoolMaxTxs, MaxBytes: n.cfg.MempoolMaxBytes, MaxTxBytes: maxTxBytes}, n.led.CheckTx)
}
