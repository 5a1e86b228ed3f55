package collector

import (
	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
)

// payloads connects the cluster replica's block building and checking to
// the pool, the index and the collection rules. Every method runs on the
// consensus loop.
type payloads Cluster

var (
	_ core.Payloads     = (*payloads)(nil)
	_ core.WorkReporter = (*payloads)(nil)
	_ core.BlockFiller  = (*payloads)(nil)
)

// Build collects pending transactions that pass every rule on the fork
// being extended, referencing the newest finalized main-chain block. With
// the guarantee queue full it proposes an empty collection. Candidates
// that can never be collected leave the pool.
func (p *payloads) Build(_ model.View, parent *model.Block) []byte {
	c := (*Cluster)(p)
	cands := c.pool.candidates(c.chain.Candidates(parent))
	payload, dead, err := c.chain.Build(parent, cands, !c.backlogged())
	if err != nil {
		c.log.Debug("empty collection", "err", err)
	}
	c.pool.remove(dead...)
	return payload
}

// Validate checks a proposed payload against the rules on the fork it
// extends.
func (p *payloads) Validate(b, parent *model.Block) error {
	return p.chain.Validate(b, parent)
}

// Full tells a leader waiting out the block interval that a collection
// extending parent would already be full: the pool, less what the
// unfinalized blocks of parent's fork carry (they stay pooled until
// finality), holds a collection's worth of transactions. At capacity
// the cluster then proposes back to back instead of once per interval.
func (p *payloads) Full(parent *model.Block) bool {
	if (*Cluster)(p).backlogged() {
		return false // it would propose empty collections back to back
	}
	n, _ := p.pool.size()
	return p.chain.Full(parent, n)
}

// HasWork: transactions wait, or a collection awaits finality above the
// finalized block.
func (p *payloads) HasWork(parent *model.Block) bool {
	n, _ := p.pool.size()
	return n > 0 || p.chain.Pending(parent)
}
