package sim

import (
	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
)

// signedRecord is everything one honest identity ever signed, across all
// restarts of its instance.
type signedRecord struct {
	votes     map[model.View]model.Identifier
	timeouts  map[model.View]model.View // view → newest QC view signed
	proposals map[model.View]model.Identifier
}

// invariants checks safety after every step.
type invariants struct {
	s *sim
	// finalizedAt is the block every honest replica finalized at each height.
	finalizedAt map[uint64]model.Identifier
	records     map[model.NodeID]*signedRecord
}

func newInvariants(s *sim) *invariants {
	return &invariants{s: s, finalizedAt: make(map[uint64]model.Identifier), records: make(map[model.NodeID]*signedRecord)}
}

// finalized checks that b extends the instance's finalized chain by exactly
// one block, and that no other honest replica finalized a different block at
// that height.
func (v *invariants) finalized(in *instance, b *model.Block) {
	if v.s.ids[in.member].byzantine() {
		return
	}
	v.s.res.FinalizedBlocks++
	last := in.lastFinal
	if b.Height != last.Height+1 || b.ParentID != last.ID() {
		v.s.violation(in, "finalized chain did not grow by one: h%d %v after h%d %v", b.Height, b.ID(), last.Height, last.ID())
	}
	if prev, ok := v.finalizedAt[b.Height]; ok && prev != b.ID() {
		v.s.violation(in, "conflicting finalized blocks at height %d: %v and %v", b.Height, prev, b.ID())
		return
	}
	v.finalizedAt[b.Height] = b.ID()
}

// signed checks that an honest identity never signs two conflicting
// messages in a view, and never votes in a view after timing out in it.
func (v *invariants) signed(in *instance, m consensus.Message) {
	id := v.s.ids[in.member].id
	r := v.records[id]
	if r == nil {
		r = &signedRecord{votes: map[model.View]model.Identifier{}, timeouts: map[model.View]model.View{}, proposals: map[model.View]model.Identifier{}}
		v.records[id] = r
	}
	switch {
	case m.Vote != nil:
		if prev, ok := r.votes[m.Vote.View]; ok && prev != m.Vote.BlockID {
			v.s.violation(in, "signed two votes in view %d: %v and %v", m.Vote.View, prev, m.Vote.BlockID)
		}
		if _, ok := r.timeouts[m.Vote.View]; ok {
			v.s.violation(in, "voted in view %d after timing out in it", m.Vote.View)
		}
		r.votes[m.Vote.View] = m.Vote.BlockID
	case m.Timeout != nil:
		t := m.Timeout
		if prev, ok := r.timeouts[t.View]; ok && prev != t.NewestQC.View {
			v.s.violation(in, "signed two timeouts in view %d: QC views %d and %d", t.View, prev, t.NewestQC.View)
		}
		r.timeouts[t.View] = t.NewestQC.View
	case m.Proposal != nil:
		b := m.Proposal.Block
		if prev, ok := r.proposals[b.View]; ok && prev != b.ID() {
			v.s.violation(in, "proposed two blocks in view %d: %v and %v", b.View, prev, b.ID())
		}
		r.proposals[b.View] = b.ID()
	}
}
