package follower

import (
	"errors"
	"fmt"
	"slices"

	"github.com/floe-bft/floe/consensus/forks"
	"github.com/floe-bft/floe/consensus/model"
)

// core is the follower's bookkeeping: which blocks are known, which are
// certified, which are final. It does no cryptography and no I/O and is not
// safe for concurrent use; the Engine verifies inputs before they get here
// and serializes access.
//
// Blocks live in exactly one of three places:
//
//   - uncertified: verified proposals nobody has certified yet. Bounded in
//     count and bytes, and per view; never stored. A leader spraying
//     proposals for one view costs at most maxPerView entries.
//   - detached: certified blocks whose parent is not connected yet (ranges
//     that arrived out of order, a block certified before its parent came).
//     Bounded; never stored until they connect.
//   - tree (forks.Forks): certified blocks connected to the finalized block.
//     Only these are stored, and the 2-chain rule finalizes them.
type core struct {
	lim   limits
	tree  *forks.Forks
	tipQC *model.QC // certifies the highest-view block in the tree

	uncertified      map[model.Identifier]*uncertifiedBlock
	uncertifiedViews map[model.View][]model.Identifier
	uncertifiedBytes int

	detached         map[model.Identifier]*certifiedBlock
	detachedChildren map[model.Identifier][]model.Identifier // by parent ID

	// certifiedViews maps the views of certified blocks above the finalized
	// view (tree, detached, or known by a pending QC) to their block: at
	// most one block per view can be certified, so every other proposal of
	// the view is dead.
	certifiedViews map[model.View]model.Identifier
	// qcs are verified certificates of blocks not seen yet.
	qcs map[model.Identifier]*model.QC
	// evidenced remembers the (view, proposer) pairs already reported, so
	// a member equivocating a thousand times yields one record. With leader
	// reputation a view can have several proposers (one per parent), so
	// the proposer is part of the key.
	evidenced map[proposerView]struct{}
}

type limits struct {
	maxUncertified, maxUncertifiedBytes, maxPerView, maxDetached, maxQCs int
}

type uncertifiedBlock struct {
	proposal *model.Proposal
	from     string
}

type certifiedBlock struct {
	block *model.Block
	qc    *model.QC
	from  string
}

// outcome is what one input changed.
type outcome struct {
	// Certified are blocks newly connected to the tree, parents first: the
	// ones to store.
	Certified []*model.Block
	// Finalized are newly final blocks, oldest first.
	Finalized []*model.Block
	Evidence  []evidence
	// Evicted counts uncertified blocks dropped to stay within bounds.
	Evicted int
	// Conflicts are certified blocks that contradict their certified
	// parent (only a byzantine supermajority makes those), by sender.
	Conflicts []conflict
	// Fatal is set when two conflicting blocks became final.
	Fatal error
}

type evidence struct {
	ev   model.Evidence
	from string // who sent the second proposal
}

type conflict struct {
	from string
	err  error
}

func newCore(root *model.Block, rootQC *model.QC, lim limits) *core {
	return &core{
		lim:              lim,
		tree:             forks.New(root, forks.Faults{}),
		tipQC:            rootQC,
		uncertified:      make(map[model.Identifier]*uncertifiedBlock),
		uncertifiedViews: make(map[model.View][]model.Identifier),
		detached:         make(map[model.Identifier]*certifiedBlock),
		detachedChildren: make(map[model.Identifier][]model.Identifier),
		certifiedViews:   make(map[model.View]model.Identifier),
		qcs:              make(map[model.Identifier]*model.QC),
		evidenced:        make(map[proposerView]struct{}),
	}
}

// finalized is the last finalized block.
func (c *core) finalized() *model.Block { return c.tree.Root() }

// known reports whether a block is cached, detached or in the tree.
func (c *core) known(id model.Identifier) bool {
	return c.uncertified[id] != nil || c.detached[id] != nil || c.tree.Block(id) != nil
}

// certified reports whether the block is in the tree or detached.
func (c *core) certified(id model.Identifier) bool {
	return c.detached[id] != nil || c.tree.Block(id) != nil
}

// admitProposal is the cheap check before a proposal's signatures are
// verified: stale, known, or a view that cannot take another proposal.
// Rejecting here is what makes a thousand equivocations cost nothing.
func (c *core) admitProposal(b *model.Block) error {
	if b.View <= c.finalized().View {
		return fmt.Errorf("%w: proposal for view %d, finalized view %d", ErrStale, b.View, c.finalized().View)
	}
	if c.known(b.ID()) {
		return fmt.Errorf("%w: proposal %v for view %d", ErrKnown, b.ID(), b.View)
	}
	if id, ok := c.certifiedViews[b.View]; ok && id != b.ID() {
		return fmt.Errorf("%w: proposal %v for view %d, certified %v", ErrViewCertified, b.ID(), b.View, id)
	}
	if n := len(c.uncertifiedViews[b.View]); n >= c.lim.maxPerView {
		return fmt.Errorf("%w: view %d holds %d proposals", ErrViewFull, b.View, n)
	}
	return nil
}

// admitRange is the cheap check before a range's tip QC is verified.
func (c *core) admitRange(blocks []*model.Block) error {
	last := blocks[len(blocks)-1]
	if last.View <= c.finalized().View {
		return fmt.Errorf("%w: range up to view %d, finalized view %d", ErrStale, last.View, c.finalized().View)
	}
	// Only a tip already in the tree makes the range redundant: a detached
	// tip is exactly what the range's lower blocks are needed to connect.
	if c.tree.Block(last.ID()) != nil {
		return fmt.Errorf("%w: range tip %v (view %d) is connected", ErrKnown, last.ID(), last.View)
	}
	return nil
}

// addProposal takes a verified proposal (leader, signature and parent QC
// checked).
func (c *core) addProposal(from string, p *model.Proposal) (outcome, error) {
	var out outcome
	b := p.Block
	if err := c.admitProposal(b); err != nil {
		return out, err // the state moved while the signature was checked
	}
	// Another verified proposal by the same member for the same view is
	// equivocation. Both are signed, so the record proves itself.
	k := proposerView{b.View, b.ProposerID}
	for _, id := range c.uncertifiedViews[b.View] {
		prev := c.uncertified[id].proposal
		if prev.Block.ProposerID != b.ProposerID {
			continue
		}
		if _, done := c.evidenced[k]; !done {
			c.evidenced[k] = struct{}{}
			out.Evidence = append(out.Evidence, evidence{from: from, ev: model.Evidence{
				Kind: model.DoubleProposal, Offender: b.ProposerID, View: b.View,
				Proposals: [2]*model.Proposal{prev, p},
			}})
		}
		break
	}
	// The proposal's QC certifies its parent: that may connect blocks.
	c.addQC(&out, b.QC, from)
	if qc, ok := c.qcs[b.ID()]; ok {
		delete(c.qcs, b.ID())
		c.addCertified(&out, b, qc, from)
	} else {
		c.uncertified[b.ID()] = &uncertifiedBlock{proposal: p, from: from}
		c.uncertifiedViews[b.View] = append(c.uncertifiedViews[b.View], b.ID())
		c.uncertifiedBytes += len(b.Payload)
		out.Evicted += c.evictUncertified()
	}
	c.prune()
	return out, nil
}

// addRange takes a range whose hash links and tip QC were verified: every
// block in it is certified (a certified block's ancestors all are).
func (c *core) addRange(from string, blocks []*model.Block, tipQC *model.QC) outcome {
	var out outcome
	for i, b := range blocks {
		qc := tipQC
		if i+1 < len(blocks) {
			qc = blocks[i+1].QC
		}
		c.addCertified(&out, b, qc, from)
	}
	c.prune()
	return out
}

// addQC records a verified QC for a block.
func (c *core) addQC(out *outcome, qc *model.QC, from string) {
	if qc.View <= c.finalized().View || c.certified(qc.BlockID) {
		return
	}
	if u := c.uncertified[qc.BlockID]; u != nil {
		c.addCertified(out, u.proposal.Block, qc, u.from)
		return
	}
	if _, ok := c.qcs[qc.BlockID]; ok {
		return
	}
	if len(c.qcs) >= c.lim.maxQCs {
		// Keep the newest: old certificates belong to blocks sync fetches
		// (with their QCs) anyway.
		var oldest model.Identifier
		first := true
		for id, q := range c.qcs {
			if first || q.View < c.qcs[oldest].View {
				oldest, first = id, false
			}
		}
		if c.qcs[oldest].View > qc.View {
			return
		}
		if c.certifiedViews[c.qcs[oldest].View] == oldest {
			delete(c.certifiedViews, c.qcs[oldest].View)
		}
		delete(c.qcs, oldest)
	}
	c.qcs[qc.BlockID] = qc
	// The view's certified block is known by its ID now: every other
	// proposal of the view is dead, cached or yet to come.
	c.dropUncertifiedView(qc.View)
	c.certifiedViews[qc.View] = qc.BlockID
}

// addCertified places a certified block: in the tree if its parent is
// there, else detached until the parent connects.
func (c *core) addCertified(out *outcome, b *model.Block, qc *model.QC, from string) {
	if b.View <= c.finalized().View || c.certified(b.ID()) {
		return
	}
	// b's own QC certifies its parent, which may be waiting in the cache
	// (and connecting it may make b connectable).
	c.addQC(out, b.QC, from)
	connected := c.tree.Block(b.ParentID) != nil
	if !connected && len(c.detached) >= c.lim.maxDetached && !c.evictDetachedAbove(b.View) {
		return // no room: sync brings it again when its parent is in
	}
	c.dropUncertifiedView(b.View)
	delete(c.qcs, b.ID())
	c.certifiedViews[b.View] = b.ID()
	if !connected {
		c.detached[b.ID()] = &certifiedBlock{block: b, qc: qc, from: from}
		c.detachedChildren[b.ParentID] = append(c.detachedChildren[b.ParentID], b.ID())
		return
	}
	// Connect b, then every detached descendant that waited for it.
	queue := []*certifiedBlock{{block: b, qc: qc, from: from}}
	for len(queue) > 0 {
		cb := queue[0]
		queue = queue[1:]
		if err := c.connect(out, cb); err != nil {
			continue
		}
		for _, id := range c.detachedChildren[cb.block.ID()] {
			if d := c.detached[id]; d != nil {
				delete(c.detached, id)
				queue = append(queue, d)
			}
		}
		delete(c.detachedChildren, cb.block.ID())
	}
}

// connect adds a certified block whose parent is in the tree.
func (c *core) connect(out *outcome, cb *certifiedBlock) error {
	b := cb.block
	if err := c.tree.Check(b); err != nil {
		delete(c.certifiedViews, b.View)
		if !errors.Is(err, forks.ErrOutdated) {
			// A certified block that contradicts its certified parent
			// (height, QC view, timestamp): only a byzantine supermajority
			// certifies that.
			out.Conflicts = append(out.Conflicts, conflict{from: cb.from, err: err})
		}
		return err
	}
	final, err := c.tree.AddBlock(b)
	if err == nil {
		out.Finalized = append(out.Finalized, final...)
		final, err = c.tree.AddQC(cb.qc)
		out.Finalized = append(out.Finalized, final...)
	}
	if err != nil {
		// Conflicting finality: more than a third of the weight is
		// byzantine. The engine stops on it.
		out.Fatal = err
		return err
	}
	out.Certified = append(out.Certified, b)
	if cb.qc.View > c.tipQC.View {
		c.tipQC = cb.qc
	}
	return nil
}

// dropUncertifiedView forgets every uncertified proposal of a view: once a
// block of the view is certified, none of the others can be.
func (c *core) dropUncertifiedView(v model.View) {
	for _, id := range c.uncertifiedViews[v] {
		if u := c.uncertified[id]; u != nil {
			c.uncertifiedBytes -= len(u.proposal.Block.Payload)
			delete(c.uncertified, id)
		}
	}
	delete(c.uncertifiedViews, v)
}

// evictUncertified drops the lowest views until the cache is within its
// bounds. Recent views matter most to a live follower; anything older that
// turns out to be certified comes back through sync.
func (c *core) evictUncertified() int {
	n := 0
	for len(c.uncertified) > c.lim.maxUncertified || c.uncertifiedBytes > c.lim.maxUncertifiedBytes {
		lowest := model.View(0)
		first := true
		for v := range c.uncertifiedViews {
			if first || v < lowest {
				lowest, first = v, false
			}
		}
		n += len(c.uncertifiedViews[lowest])
		c.dropUncertifiedView(lowest)
	}
	return n
}

// evictDetachedAbove makes room for a detached block of view v by dropping
// the highest-view detached block, if it is above v: the lowest blocks are
// the ones closest to connecting. It reports whether there is room.
func (c *core) evictDetachedAbove(v model.View) bool {
	var highest *certifiedBlock
	for _, d := range c.detached {
		if highest == nil || d.block.View > highest.block.View {
			highest = d
		}
	}
	if highest == nil || highest.block.View <= v {
		return false
	}
	c.removeDetached(highest.block)
	return true
}

func (c *core) removeDetached(b *model.Block) {
	delete(c.detached, b.ID())
	delete(c.certifiedViews, b.View)
	siblings := c.detachedChildren[b.ParentID]
	if i := slices.Index(siblings, b.ID()); i >= 0 {
		siblings = slices.Delete(siblings, i, i+1)
	}
	if len(siblings) == 0 {
		delete(c.detachedChildren, b.ParentID)
	} else {
		c.detachedChildren[b.ParentID] = siblings
	}
}

// prune forgets everything at or below the finalized view. It runs once per
// input, not per finalized block, so a range of 512 blocks prunes once.
func (c *core) prune() {
	fv := c.finalized().View
	for v := range c.uncertifiedViews {
		if v <= fv {
			c.dropUncertifiedView(v)
		}
	}
	for _, d := range c.detached {
		if d.block.View <= fv {
			c.removeDetached(d.block)
		}
	}
	for v := range c.certifiedViews {
		if v <= fv {
			delete(c.certifiedViews, v)
		}
	}
	for id, q := range c.qcs {
		if q.View <= fv {
			delete(c.qcs, id)
		}
	}
	for k := range c.evidenced {
		if k.view <= fv {
			delete(c.evidenced, k)
		}
	}
}

// sizes reports the cache sizes (metrics and tests).
func (c *core) sizes() Sizes {
	return Sizes{
		Uncertified: len(c.uncertified), UncertifiedBytes: c.uncertifiedBytes,
		Detached: len(c.detached), PendingQCs: len(c.qcs), Tree: c.tree.Len(),
		Evidenced: len(c.evidenced),
	}
}

// Sizes are the engine's cache sizes.
type Sizes struct {
	Uncertified      int // verified, uncertified proposals
	UncertifiedBytes int // their payload bytes
	Detached         int // certified blocks waiting for their parent
	PendingQCs       int // certificates of blocks not seen yet
	Tree             int // certified blocks above the finalized one, plus it
	Evidenced        int // views with recorded equivocation above finality
}

// proposerView keys equivocation records.
type proposerView struct {
	view     model.View
	proposer model.NodeID
}
