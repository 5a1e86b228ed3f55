package replica

import (
	"sync"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
)

// VoteBatcher holds unverified votes per (view, block) until they could
// form a QC, then releases them as one batch for a single aggregate check.
// Later votes for a block whose batch was released go one by one. It keeps
// at most one vote per signer per view, for a bounded window of views.
type VoteBatcher struct {
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

// NewVoteBatcher batches votes against the committees committeeAt returns.
func NewVoteBatcher(committeeAt func(model.View) (*committee.Committee, error)) *VoteBatcher {
	return &VoteBatcher{committeeAt: committeeAt, views: make(map[model.View]*viewBatch)}
}

// Add takes an unverified vote and returns a batch to verify now, or nil
// while the block has not gathered a supermajority of (claimed) weight.
func (b *VoteBatcher) Add(v *model.Vote, current model.View) []*model.Vote {
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

// Prune forgets views that can no longer matter.
func (b *VoteBatcher) Prune(current model.View) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for v := range b.views {
		if v+1 < current {
			delete(b.views, v)
		}
	}
}
