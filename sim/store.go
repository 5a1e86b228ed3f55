package sim

import (
	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/safety"
)

// memStore is what an instance persisted: the only thing that survives a
// crash. It stands in for the node's Pebble store.
type memStore struct {
	safety   safety.Data
	liveness pacemaker.Data
	blocks   map[model.Identifier]*model.Block // every stored block, finalized or not
	root     *model.Block                      // last finalized
	// finalTxs are the transactions of the finalized chain and executed the
	// height executed (under load).
	finalTxs map[uint64]bool
	executed uint64
}

func newMemStore(st consensus.State) *memStore {
	s := &memStore{safety: st.Safety, liveness: st.Liveness, blocks: make(map[model.Identifier]*model.Block), root: st.Root,
		finalTxs: make(map[uint64]bool)}
	s.blocks[st.Root.ID()] = st.Root
	return s
}

// persist applies the persistence half of an output.
func (s *memStore) persist(out *consensus.Output) {
	if out.Safety != nil {
		s.safety = *out.Safety
	}
	if out.Liveness != nil {
		s.liveness = *out.Liveness
	}
	for _, b := range out.Blocks {
		s.blocks[b.ID()] = b
	}
	if n := len(out.Finalized); n > 0 {
		s.root = out.Finalized[n-1]
	}
}

// state is what a restarting core is given: the finalized block, the
// blocks above it, and the finalized ancestors leader reputation reads.
func (s *memStore) state(span uint64) consensus.State {
	st := consensus.State{Root: s.root, Safety: s.safety, Liveness: s.liveness}
	for b := s.blocks[s.root.ParentID]; b != nil && !s.root.IsRoot() && b.View+model.View(span) >= s.root.View; b = s.blocks[b.ParentID] {
		st.Recent = append(st.Recent, b)
		if b.IsRoot() {
			break
		}
	}
	for _, b := range s.blocks {
		if b.View > s.root.View {
			st.Blocks = append(st.Blocks, b)
		}
	}
	return st
}
