package consensus

import (
	"sync"

	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
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
		err, ev = n.verifier().Proposal(m.proposal), core.ProposalEvent{Proposal: m.proposal}
	case kindTimeout:
		err, ev = n.verifier().Timeout(m.timeout), core.TimeoutEvent{Timeout: m.timeout}
	case kindSyncInfo:
		err = n.verifier().QC(m.qc)
		if err == nil && m.tc != nil {
			err = n.verifier().TC(m.tc)
		}
		ev = core.CertificateEvent{QC: m.qc, TC: m.tc}
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

// voteBatcher holds unverified votes per (view, block) until they could
// form a QC, then releases them as one batch for a single aggregate check.
// Later votes for a block whose batch was released go one by one. It keeps
// at most one vote per signer per view, for a bounded window of views.
type voteBatcher struct {
	mu          sync.Mutex
	committeeAt func(model.View) (*committee.Committee, error)
	views       map[model.View]*viewBatch
}

type viewBatch struct {
	committee *committee.Committee
	signers   map[model.NodeID]bool
	blocks    map[model.Identifier]*blockBatch
}

type blockBatch struct {
	votes    []*model.Vote
	weight   uint64
	released bool
}

// batchWindow is how many views ahead of the current one votes are held.
const batchWindow = 32

func newVoteBatcher(committeeAt func(model.View) (*committee.Committee, error)) *voteBatcher {
	return &voteBatcher{committeeAt: committeeAt, views: make(map[model.View]*viewBatch)}
}

// add takes an unverified vote and returns a batch to verify now, or nil
// while the block has not gathered a supermajority of (claimed) weight.
func (b *voteBatcher) add(v *model.Vote, current model.View) []*model.Vote {
	if v.View+1 < current || v.View > current+batchWindow {
		return nil
	}
	com, err := b.committeeAt(v.View)
	if err != nil {
		return nil // unknown epoch: dropped, not held
	}
	w := com.WeightOf(v.SignerID)
	if w == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	vb := b.views[v.View]
	if vb == nil {
		vb = &viewBatch{committee: com, signers: make(map[model.NodeID]bool), blocks: make(map[model.Identifier]*blockBatch)}
		b.views[v.View] = vb
	}
	if vb.signers[v.SignerID] {
		// A second vote by the signer in this view: verify it alone, so a
		// real double vote still reaches the core as evidence.
		return []*model.Vote{v}
	}
	vb.signers[v.SignerID] = true
	bb := vb.blocks[v.BlockID]
	if bb == nil {
		bb = &blockBatch{}
		vb.blocks[v.BlockID] = bb
	}
	if bb.released {
		return []*model.Vote{v}
	}
	bb.votes = append(bb.votes, v)
	bb.weight += w
	if bb.weight < vb.committee.SupermajorityThreshold() {
		return nil
	}
	bb.released = true
	out := bb.votes
	bb.votes = nil
	return out
}

// prune forgets views that can no longer matter.
func (b *voteBatcher) prune(current model.View) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for v := range b.views {
		if v+1 < current {
			delete(b.views, v)
		}
	}
}
