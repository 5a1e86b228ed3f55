package consensus

import (
	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/replica"
)

// verifyJob is one message (or one batch of votes) for the verification
// pool.
type verifyJob struct {
	from  model.NodeID
	msg   *message
	votes []*model.Vote
}

// verifyWorker checks signatures off the consensus loop; only messages
// that pass reach the core.
func (n *Node) verifyWorker() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case j := <-n.verify:
			n.metrics.verifyQueue.Set(float64(len(n.verify)))
			n.check(j)
		}
	}
}

func (n *Node) check(j verifyJob) {
	if j.votes != nil {
		for _, v := range n.verifyVotes(j.votes) {
			n.deliver(loopEvent{ev: core.VoteEvent{Vote: v}, from: j.from})
		}
		return
	}
	m := j.msg
	var (
		ev  core.Event
		err error
	)
	switch m.kind {
	case kindProposal:
		ev, err = replica.Check(n.verifier(), core.Message{Proposal: m.proposal})
	case kindTimeout:
		ev, err = replica.Check(n.verifier(), core.Message{Timeout: m.timeout})
	case kindSyncInfo:
		ev, err = replica.Check(n.verifier(), core.Message{QC: m.qc, TC: m.tc})
	case kindBlocks:
		blocks, verr := n.sync.validate(j.from, m.blocks)
		if verr != nil {
			err = verr
			break
		}
		if len(blocks) == 0 {
			return
		}
		n.metrics.syncedBlocks.Add(float64(len(blocks)))
		ev = core.BlocksEvent{Blocks: blocks}
		defer n.sync.received(j.from, blocks)
	default:
		return
	}
	if err != nil {
		n.metrics.dropped.WithLabelValues("invalid").Inc()
		n.log.Warn("rejected message", "from", n.nameOf(j.from), "err", err)
		return
	}
	n.deliver(loopEvent{ev: ev, from: j.from})
}

// verifyVotes checks a batch of votes for one block optimistically: one
// aggregate verification for all of them, and individual checks only when
// that fails, so a byzantine voter costs its own verification, not
// everyone's.
func (n *Node) verifyVotes(votes []*model.Vote) []*model.Vote {
	if len(votes) == 1 {
		if err := n.verifier().Vote(votes[0]); err != nil {
			n.rejectVote(votes[0], err)
			return nil
		}
		return votes
	}
	if n.aggregateVerifies(votes) {
		return votes
	}
	var ok []*model.Vote
	for _, v := range votes {
		if err := n.verifier().Vote(v); err != nil {
			n.rejectVote(v, err)
			continue
		}
		ok = append(ok, v)
	}
	return ok
}

func (n *Node) aggregateVerifies(votes []*model.Vote) bool {
	sigs := make([][]byte, 0, len(votes))
	keys := make([]crypto.PublicKey, 0, len(votes))
	com, err := n.committeeAt(votes[0].View)
	if err != nil {
		return false
	}
	for _, v := range votes {
		i, err := com.Index(v.SignerID)
		if err != nil {
			return false
		}
		sigs = append(sigs, v.Signature)
		keys = append(keys, com.Member(i).StakingKey)
	}
	agg, err := n.scheme.AggregateSignatures(sigs)
	if err != nil {
		return false
	}
	key, err := n.scheme.AggregatePublicKeys(keys)
	if err != nil {
		return false
	}
	return key.Verify(crypto.DomainVote, model.VoteMessage(n.epochParams.ChainID, votes[0].View, votes[0].BlockID), agg) == nil
}

func (n *Node) rejectVote(v *model.Vote, err error) {
	n.metrics.dropped.WithLabelValues("invalid").Inc()
	n.log.Warn("rejected vote", "from", n.nameOf(v.SignerID), "view", v.View, "err", err)
}
