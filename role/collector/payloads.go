package collector

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/collection"
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

func (p *payloads) main() collection.Main {
	_, h := p.cfg.Main.Latest()
	return collection.Main{Refs: p.cfg.Main, Finalized: h}
}

// parentRef is the reference block of parent's payload (zero for the
// root).
func (p *payloads) parentRef(parent *model.Block) (model.Identifier, error) {
	pp, err := (*Cluster)(p).payloadOf(parent)
	if err != nil {
		return model.ZeroID, err
	}
	return pp.Ref, nil
}

// Build collects pending transactions that pass every rule on the fork
// being extended, referencing the newest finalized main-chain block. With
// the guarantee queue full it proposes an empty collection.
func (p *payloads) Build(_ model.View, parent *model.Block) []byte {
	c := (*Cluster)(p)
	parentRef, err := p.parentRef(parent)
	if err != nil {
		c.log.Error("parent payload undecodable", "err", err)
		return (&collection.Payload{}).Encode()
	}
	ref, _ := p.cfg.Main.Latest()
	empty := (&collection.Payload{Ref: ref}).Encode()
	fork, err := c.idx.Fork(parent.ID())
	if err != nil || c.backlogged() {
		return empty
	}
	rules := p.cfg.Rules
	cands := c.pool.candidates(4 * rules.Limits.MaxTxs)
	sel, err := rules.Select(p.main(), parentRef, ref, cands, fork, c.idx.Room())
	if err != nil {
		c.log.Debug("no collection: reference block unusable", "err", err)
		if parentRef != model.ZeroID {
			return (&collection.Payload{Ref: parentRef}).Encode()
		}
		return empty
	}
	// Candidates that broke a rule that never heals leave the pool (an
	// expired one counts as refused, not lost), and so do transactions a
	// finalized collection holds; unknown or later references and
	// transactions only an unfinalized block holds may heal.
	var dead []model.Identifier
	for _, s := range sel.Skipped {
		id := cands[s.Index].ID()
		switch {
		case errors.Is(s.Err, collection.ErrSeen):
			if c.idx.Final(id) { // collected for good: resubmitted or sent to several members
				dead = append(dead, id)
			}
		case !errors.Is(s.Err, collection.ErrUnknownRef) && !errors.Is(s.Err, collection.ErrRefAhead):
			dead = append(dead, id)
		}
	}
	c.pool.remove(dead...)
	return sel.Payload.Encode()
}

// Validate checks a proposed payload against the rules on the fork it
// extends.
func (p *payloads) Validate(b, parent *model.Block) error {
	c := (*Cluster)(p)
	pl, err := c.payloadOf(b)
	if err != nil {
		return fmt.Errorf("%w: cluster payload: %v", model.ErrInvalid, err)
	}
	parentRef, err := p.parentRef(parent)
	if err != nil {
		return fmt.Errorf("%w: parent payload: %v", model.ErrInvalid, err)
	}
	fork, err := c.idx.Fork(parent.ID())
	if err != nil {
		return fmt.Errorf("%w: parent not indexed: %v", model.ErrInvalid, err)
	}
	_, err = p.cfg.Rules.Check(p.main(), parentRef, pl, fork)
	return err
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
	return n-p.idx.Unfinalized(parent.ID()) >= p.cfg.Rules.Limits.MaxTxs
}

// HasWork: transactions wait, or a collection awaits finality above the
// finalized block.
func (p *payloads) HasWork(parent *model.Block) bool {
	n, _ := p.pool.size()
	return n > 0 || p.idx.Pending(parent.ID())
}
