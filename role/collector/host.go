package collector

import (
	"github.com/floe-bft/floe/chainrun"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
)

// chainHost is a cluster chain as its runner sees it: one committee (the
// cluster) for the whole chain, which lives one epoch.
type chainHost struct{ c *Cluster }

var _ chainrun.Host = chainHost{}

func (h chainHost) Verifier() *verify.Verifier { return h.c.verifier }
func (h chainHost) CommitteeAt(model.View) (*committee.Committee, error) {
	return h.c.cfg.Committee, nil
}
func (h chainHost) IsMember(id model.NodeID) bool {
	_, err := h.c.cfg.Committee.Index(id)
	return err == nil
}
func (h chainHost) NameOf(id model.NodeID) string { return h.c.nameOf(id) }
func (h chainHost) FinalizedHeight() uint64 {
	height, err := h.c.cfg.Store.FinalizedHeight()
	if err != nil {
		// The runner only announces and compares this height; a store
		// that cannot read it will fail the next commit loudly.
		h.c.log.Error("read the cluster chain's finalized height", "err", err)
		return 0
	}
	return height
}
func (h chainHost) Block(id model.Identifier) (*model.Block, error) { return h.c.cfg.Store.Block(id) }
func (h chainHost) FinalizedRange(from, to uint64, max int) ([]*model.Block, error) {
	return h.c.cfg.Store.FinalizedRange(from, to, max)
}

// Peers lists the other members of the cluster in canonical order.
func (h chainHost) Peers() []model.NodeID {
	var out []model.NodeID
	for _, m := range h.c.cfg.Committee.Members() {
		if m.ID != h.c.cfg.Self {
			out = append(out, m.ID)
		}
	}
	return out
}
