package collection

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
)

// MainView is what a cluster replica knows of the main chain: its
// finalized blocks (for reference blocks and expiry) and the newest of
// them.
type MainView interface {
	RefLookup
	// Latest is the newest finalized main-chain block this node holds.
	Latest() (id model.Identifier, height uint64)
}

// Chain is the deterministic part of one replica of a cluster chain: the
// Rules applied to the blocks the replica builds and checks, and the
// no-repeat Index kept in step with its block tree (Add each block the
// replica stores, Finalize each block it finalizes, Rebuild after a
// restart). The collection role and the simulator drive the same Chain, so
// the simulator's no-transaction-twice invariant checks this code.
//
// A Chain is not safe for concurrent use: it belongs to the replica's
// consensus loop.
type Chain struct {
	rules Rules
	main  MainView
	idx   *Index
}

// NewChain returns the chain state of a cluster replica whose index starts
// at the cluster chain's root; call Rebuild before use after a restart.
func NewChain(rules Rules, main MainView, root *model.Block, indexCap int) (*Chain, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if main == nil {
		return nil, errors.New("collection chain: no main-chain view")
	}
	return &Chain{rules: rules, main: main, idx: NewIndex(root.ID(), root.Height, 0, rules.Expiry, indexCap)}, nil
}

// Rules are the rules the chain applies.
func (c *Chain) Rules() Rules { return c.rules }

// PayloadOf decodes a cluster block's payload (the root carries none).
func (c *Chain) PayloadOf(b *model.Block) (*Payload, error) {
	if len(b.Payload) == 0 {
		return &Payload{}, nil
	}
	return DecodePayload(b.Payload, c.rules.Limits)
}

func (c *Chain) latest() Main {
	_, h := c.main.Latest()
	return Main{Refs: c.main, Finalized: h}
}

func (c *Chain) parentRef(parent *model.Block) (model.Identifier, error) {
	p, err := c.PayloadOf(parent)
	if err != nil {
		return model.ZeroID, err
	}
	return p.Ref, nil
}

// Build returns the payload of a block extending parent: the candidates
// (in order) that pass every rule on parent's fork, referencing the newest
// finalized main-chain block. With collect false (backpressure) the
// collection is empty. dead are candidates that broke a rule that never
// heals, or that a finalized collection holds: the pool may drop them (an
// expired one is refused, not lost). A non-nil err explains why the
// payload fell back to an empty collection; the payload is valid anyway
// whenever a valid one exists.
func (c *Chain) Build(parent *model.Block, cands []Tx, collect bool) (payload []byte, dead []model.Identifier, err error) {
	parentRef, err := c.parentRef(parent)
	if err != nil {
		return (&Payload{}).Encode(), nil, fmt.Errorf("parent payload undecodable: %w", err)
	}
	ref, _ := c.main.Latest()
	empty := (&Payload{Ref: ref}).Encode()
	fork, err := c.idx.Fork(parent.ID())
	if err != nil {
		return empty, nil, err
	}
	if !collect {
		return empty, nil, nil
	}
	sel, err := c.rules.Select(c.latest(), parentRef, ref, cands, fork, c.idx.Room())
	if err != nil {
		if parentRef != model.ZeroID {
			return (&Payload{Ref: parentRef}).Encode(), nil, fmt.Errorf("reference block unusable: %w", err)
		}
		return empty, nil, fmt.Errorf("reference block unusable: %w", err)
	}
	for _, s := range sel.Skipped {
		id := cands[s.Index].ID()
		switch {
		case errors.Is(s.Err, ErrSeen):
			if c.idx.Final(id) { // collected for good: resubmitted or sent to several members
				dead = append(dead, id)
			}
		case !errors.Is(s.Err, ErrUnknownRef) && !errors.Is(s.Err, ErrRefAhead):
			dead = append(dead, id)
		}
	}
	return sel.Payload.Encode(), dead, nil
}

// Validate checks a proposed block's payload against the rules on the
// fork it extends. Every error wraps model.ErrInvalid. A block that passes
// is indexed at once: the replica adds it to its tree right after, and
// may check its child in the same step (a synced batch holds both), before
// Add runs for the step's output.
func (c *Chain) Validate(b, parent *model.Block) error {
	p, err := c.PayloadOf(b)
	if err != nil {
		return fmt.Errorf("%w: cluster payload: %w", model.ErrInvalid, err)
	}
	parentRef, err := c.parentRef(parent)
	if err != nil {
		return fmt.Errorf("%w: parent payload: %w", model.ErrInvalid, err)
	}
	fork, err := c.idx.Fork(parent.ID())
	if err != nil {
		return fmt.Errorf("%w: parent not indexed: %w", model.ErrInvalid, err)
	}
	entries, err := c.rules.Check(c.latest(), parentRef, p, fork)
	if err != nil {
		return err
	}
	refHeight, _, _ := c.main.RefHeight(p.Ref) // Check found it
	// A block the index cannot hold (ErrFull) is still valid: Add reports
	// it again when the step's output is applied.
	_ = c.idx.Add(b.ID(), b.ParentID, refHeight, entries)
	return nil
}

// Ready reports whether b's reference block is finalized in this replica's
// view of the main chain: a proposal that is not ready waits (checking it
// now would refuse a valid block). Undecodable payloads are ready:
// Validate refuses them.
func (c *Chain) Ready(b *model.Block) bool {
	p, err := c.PayloadOf(b)
	if err != nil || p.Ref == model.ZeroID {
		return true
	}
	h, _, ok := c.main.RefHeight(p.Ref)
	_, latest := c.main.Latest()
	return ok && h <= latest
}

// Candidates is how many of the oldest pooled transactions a leader
// extending parent should offer Build: four collections' worth beyond
// what parent's unfinalized blocks carry. Those stay pooled until
// finality and Build skips them, so a fixed window would fill with them
// while finality lags (failed views make the unfinalized chain long) and
// the leader would propose empty collections with a full pool.
func (c *Chain) Candidates(parent *model.Block) int {
	return 4*c.rules.Limits.MaxTxs + c.idx.Unfinalized(parent.ID())
}

// Full reports whether pooled transactions, less what the unfinalized
// blocks of parent's fork carry (they stay pooled until finality), fill a
// collection.
func (c *Chain) Full(parent *model.Block, pooled int) bool {
	return pooled-c.idx.Unfinalized(parent.ID()) >= c.rules.Limits.MaxTxs
}

// Pending reports whether a collection awaits finality on parent's fork.
func (c *Chain) Pending(parent *model.Block) bool { return c.idx.Pending(parent.ID()) }

// Add indexes a block the replica stored (its parent first).
func (c *Chain) Add(b *model.Block) error {
	p, err := c.PayloadOf(b)
	if err != nil {
		return err
	}
	entries, refHeight, err := c.entries(p)
	if err != nil {
		return err
	}
	return c.idx.Add(b.ID(), b.ParentID, refHeight, entries)
}

// Finalize records a block the replica finalized and returns its payload.
func (c *Chain) Finalize(b *model.Block) (*Payload, error) {
	if err := c.idx.Finalize(b.ID()); err != nil {
		return nil, err
	}
	return c.PayloadOf(b)
}

// entries are a payload's transactions with their reference heights for
// the index, and the payload's own reference height.
func (c *Chain) entries(p *Payload) ([]Entry, uint64, error) {
	if p.Ref == model.ZeroID {
		return nil, 0, nil
	}
	refHeight, _, ok := c.main.RefHeight(p.Ref)
	if !ok {
		return nil, 0, fmt.Errorf("%w: payload reference %v", ErrUnknownRef, p.Ref)
	}
	txs := p.Collection.Txs()
	out := make([]Entry, 0, len(txs))
	for _, tx := range txs {
		h, _, ok := c.main.RefHeight(tx.Ref)
		if !ok {
			return nil, 0, fmt.Errorf("%w: transaction reference %v", ErrUnknownRef, tx.Ref)
		}
		out = append(out, Entry{ID: tx.ID(), RefHeight: h})
	}
	return out, refHeight, nil
}

// Rebuild restarts the index at the finalized block root: from the oldest
// finalized block whose collection can still matter (its reference height
// within Expiry of root's), through root. parent returns a finalized
// block's parent. onFinal, when set, is given each non-empty collection of
// that window, oldest first (guarantors serve them again). The caller then
// Adds the unfinalized blocks above root, parents first. Forgetting the
// older blocks is safe for the same reason pruning is (Index.Finalize).
func (c *Chain) Rebuild(root *model.Block, parent func(*model.Block) (*model.Block, error), indexCap int, onFinal func(*Collection)) error {
	expiry := c.rules.Expiry
	rootP, err := c.PayloadOf(root)
	if err != nil {
		return fmt.Errorf("collection chain: root payload: %w", err)
	}
	_, rootRef, err := c.entries(rootP)
	if err != nil {
		return fmt.Errorf("collection chain: rebuild index: the main chain must be followed past the cluster root's reference first: %w", err)
	}
	var window []*model.Block // finalized, newest first, root included
	start := root
	for start.Height > 0 {
		p, err := c.PayloadOf(start)
		if err != nil {
			return fmt.Errorf("collection chain: finalized block %d: %w", start.Height, err)
		}
		_, ref, err := c.entries(p)
		if err != nil {
			return fmt.Errorf("collection chain: rebuild index at height %d: %w", start.Height, err)
		}
		if ref+expiry < rootRef {
			break
		}
		window = append(window, start)
		prev, err := parent(start)
		if err != nil {
			return fmt.Errorf("collection chain: rebuild index: finalized height %d: %w", start.Height-1, err)
		}
		start = prev
	}
	startP, err := c.PayloadOf(start)
	if err != nil {
		return err
	}
	_, startRef, err := c.entries(startP)
	if err != nil {
		return err
	}
	c.idx = NewIndex(start.ID(), start.Height, startRef, expiry, indexCap)
	for i := len(window) - 1; i >= 0; i-- {
		if err := c.Add(window[i]); err != nil {
			return fmt.Errorf("collection chain: rebuild index: %w", err)
		}
		p, err := c.Finalize(window[i])
		if err != nil {
			return fmt.Errorf("collection chain: rebuild index: %w", err)
		}
		if onFinal != nil && p.NeedsGuarantee() {
			onFinal(p.Collection)
		}
	}
	return nil
}
