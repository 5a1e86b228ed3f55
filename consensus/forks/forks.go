// Package forks keeps the tree of blocks above the last finalized block and
// applies Jolteon's 2-chain finality rule: when a block C is certified and its
// parent P has view C.view-1, P and all its ancestors are final.
//
// The tree holds only blocks that descend from the finalized block; anything
// else is pruned when a block is finalized.
package forks

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
)

// Expected conditions when adding a block.
var (
	// ErrMissingParent: the parent is not in the tree yet (fetch it).
	ErrMissingParent = errors.New("parent block unknown")
	// ErrOutdated: the block is at or below the finalized view, or forks off
	// below it; it can never be part of the chain.
	ErrOutdated = errors.New("block below finalized view")
)

// ErrConflictingFinality is an exception, not an expected condition: two
// conflicting blocks are both final, which needs more than a third of the
// weight to be byzantine. The node must stop.
var ErrConflictingFinality = errors.New("conflicting blocks finalized: more than f byzantine weight")

// finalizedWindow bounds how many recent finalized blocks are remembered for
// detecting a certified fork below the finalized block.
const finalizedWindow = 1024

// maxForeignCertified bounds the remembered certified blocks that fork off
// below the finalized view.
const maxForeignCertified = 1024

// Faults switches off parts of the finality rule. It exists only so that
// tests can prove the simulator catches a broken replica.
type Faults struct {
	// FinalizeNonConsecutive finalizes a certified block's parent whatever
	// its view (a broken "2-chain" that ignores consecutive views).
	FinalizeNonConsecutive bool
}

type node struct {
	block     *model.Block
	certified bool
}

// Forks is the block tree. It is not safe for concurrent use.
type Forks struct {
	root     *model.Block // last finalized block
	blocks   map[model.Identifier]*node
	children map[model.Identifier][]model.Identifier
	// qcs holds certificates for blocks not (yet) in the tree, by block ID,
	// so a block that arrives after its QC is recognized as certified.
	qcs map[model.Identifier]*model.QC
	// finalizedByView remembers recent finalized blocks by view.
	finalizedByView map[model.View]model.Identifier
	finalizedViews  []model.View
	// foreign holds certified blocks that fork off below the root: if one of
	// them forms a 2-chain, finality has conflicted.
	foreign map[model.Identifier]*model.Block
	faults  Faults
}

// New returns a tree rooted at the finalized block root.
func New(root *model.Block, faults Faults) *Forks {
	f := &Forks{
		root:            root,
		blocks:          map[model.Identifier]*node{root.ID(): {block: root, certified: true}},
		children:        make(map[model.Identifier][]model.Identifier),
		qcs:             make(map[model.Identifier]*model.QC),
		finalizedByView: make(map[model.View]model.Identifier),
		foreign:         make(map[model.Identifier]*model.Block),
		faults:          faults,
	}
	f.rememberFinalized(root)
	return f
}

// Root is the last finalized block.
func (f *Forks) Root() *model.Block { return f.root }

// Block returns a block in the tree, or nil.
func (f *Forks) Block(id model.Identifier) *model.Block {
	if n := f.blocks[id]; n != nil {
		return n.block
	}
	return nil
}

// Len is the number of blocks in the tree, root included.
func (f *Forks) Len() int { return len(f.blocks) }

// Check reports whether b could be added now: ErrOutdated if it can never be
// part of the chain, ErrMissingParent if its parent is unknown, or an
// ErrInvalid-wrapped error if it is inconsistent with its parent.
func (f *Forks) Check(b *model.Block) error {
	if b.View <= f.root.View {
		return fmt.Errorf("%w: block for view %d, finalized view %d", ErrOutdated, b.View, f.root.View)
	}
	parent := f.blocks[b.ParentID]
	if parent == nil {
		if b.QC.View <= f.root.View {
			return fmt.Errorf("%w: block for view %d forks off at view %d below finalized view %d",
				ErrOutdated, b.View, b.QC.View, f.root.View)
		}
		return fmt.Errorf("%w: %v for block view %d", ErrMissingParent, b.ParentID, b.View)
	}
	p := parent.block
	switch {
	case b.ChainID != p.ChainID:
		return fmt.Errorf("%w: block for view %d: chain %v, parent's chain %v", model.ErrInvalid, b.View, b.ChainID, p.ChainID)
	case b.QC.View != p.View:
		return fmt.Errorf("%w: block for view %d: QC view %d but parent view %d", model.ErrInvalid, b.View, b.QC.View, p.View)
	case b.Height != p.Height+1:
		return fmt.Errorf("%w: block for view %d: height %d, parent height %d", model.ErrInvalid, b.View, b.Height, p.Height)
	case b.Timestamp < p.Timestamp:
		return fmt.Errorf("%w: block for view %d: timestamp before its parent's", model.ErrInvalid, b.View)
	}
	return nil
}

// AddBlock inserts b (whose signatures were verified) and processes the QC it
// carries for its parent. It returns the blocks that became final, oldest
// first. Adding a known block is a no-op.
func (f *Forks) AddBlock(b *model.Block) ([]*model.Block, error) {
	if f.blocks[b.ID()] != nil {
		return nil, nil
	}
	if err := f.Check(b); err != nil {
		if errors.Is(err, ErrOutdated) {
			if cerr := f.checkForeign(b); cerr != nil {
				return nil, cerr
			}
		}
		return nil, err
	}
	n := &node{block: b}
	if qc, ok := f.qcs[b.ID()]; ok {
		n.certified = true
		delete(f.qcs, b.ID())
		_ = qc
	}
	f.blocks[b.ID()] = n
	f.children[b.ParentID] = append(f.children[b.ParentID], b.ID())
	final, err := f.AddQC(b.QC)
	if err != nil {
		return nil, err
	}
	if n.certified {
		more, err := f.finalizeBy(b)
		if err != nil {
			return nil, err
		}
		final = append(final, more...)
	}
	return final, nil
}

// AddQC records a verified QC and applies the finality rule. It returns the
// blocks that became final, oldest first.
func (f *Forks) AddQC(qc *model.QC) ([]*model.Block, error) {
	n := f.blocks[qc.BlockID]
	if n == nil {
		if qc.View > f.root.View {
			if len(f.qcs) >= 4*finalizedWindow {
				f.pruneQCs()
			}
			f.qcs[qc.BlockID] = qc
		} else if fb := f.foreign[qc.BlockID]; fb != nil {
			return nil, f.foreignTwoChain(fb)
		}
		return nil, nil
	}
	if n.certified {
		return nil, nil
	}
	n.certified = true
	return f.finalizeBy(n.block)
}

// IsCertified reports whether a QC for the block is known.
func (f *Forks) IsCertified(id model.Identifier) bool {
	n := f.blocks[id]
	return n != nil && n.certified
}

// finalizeBy applies the 2-chain rule to the newly certified block c.
func (f *Forks) finalizeBy(c *model.Block) ([]*model.Block, error) {
	if c.IsRoot() {
		return nil, nil
	}
	pn := f.blocks[c.ParentID]
	if pn == nil {
		return nil, nil // parent is the pruned side of the root
	}
	p := pn.block
	if p.View+1 != c.View && !f.faults.FinalizeNonConsecutive {
		return nil, nil
	}
	if p.View <= f.root.View {
		return nil, nil
	}
	return f.finalize(p)
}

// finalize makes p and its ancestors final and prunes everything that does
// not descend from p.
func (f *Forks) finalize(p *model.Block) ([]*model.Block, error) {
	var chain []*model.Block
	for b := p; b.ID() != f.root.ID(); {
		chain = append(chain, b)
		pn := f.blocks[b.ParentID]
		if pn == nil {
			return nil, fmt.Errorf("%w: block %v (view %d) does not descend from finalized %v",
				ErrConflictingFinality, p.ID(), p.View, f.root.ID())
		}
		b = pn.block
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	keep := make(map[model.Identifier]*node)
	var walk func(id model.Identifier)
	walk = func(id model.Identifier) {
		keep[id] = f.blocks[id]
		for _, c := range f.children[id] {
			walk(c)
		}
	}
	walk(p.ID())
	for id := range f.blocks {
		if _, ok := keep[id]; !ok {
			delete(f.children, id)
		}
	}
	f.blocks = keep
	f.root = p
	for _, b := range chain {
		f.rememberFinalized(b)
	}
	f.pruneQCs()
	return chain, nil
}

func (f *Forks) rememberFinalized(b *model.Block) {
	f.finalizedByView[b.View] = b.ID()
	f.finalizedViews = append(f.finalizedViews, b.View)
	if len(f.finalizedViews) > finalizedWindow {
		delete(f.finalizedByView, f.finalizedViews[0])
		f.finalizedViews = f.finalizedViews[1:]
	}
}

func (f *Forks) pruneQCs() {
	for id, qc := range f.qcs {
		if qc.View <= f.root.View {
			delete(f.qcs, id)
		}
	}
	for id, b := range f.foreign {
		if b.View+finalizedWindow < f.root.View {
			delete(f.foreign, id)
		}
	}
}

// checkForeign looks at a block that cannot join the tree because it forks
// off below the finalized block. If its parent lies inside the remembered
// finalized window but is not the finalized block of that view, and the
// block is certified with a parent one view below it, two conflicting blocks
// are final.
func (f *Forks) checkForeign(b *model.Block) error {
	if len(f.finalizedViews) == 0 || b.QC.View < f.finalizedViews[0] {
		return nil
	}
	if id, ok := f.finalizedByView[b.QC.View]; ok && id == b.ParentID {
		return nil // extends a finalized block that is no longer the root: stale, not conflicting
	}
	if qc, ok := f.qcs[b.ID()]; ok && qc != nil {
		return f.foreignTwoChain(b)
	}
	if len(f.foreign) < maxForeignCertified {
		f.foreign[b.ID()] = b
	}
	return nil
}

func (f *Forks) foreignTwoChain(b *model.Block) error {
	if b.QC.View+1 != b.View {
		return nil
	}
	return fmt.Errorf("%w: certified block %v (view %d) finalizes %v at view %d, which is not on the finalized chain",
		ErrConflictingFinality, b.ID(), b.View, b.ParentID, b.QC.View)
}
