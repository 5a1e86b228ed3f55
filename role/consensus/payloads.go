package consensus

import (
	"cmp"
	"fmt"
	"slices"

	core "github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/ledger"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/payload"
)

// payloads connects the core's block building to the mempool. Both methods
// run inside the consensus loop, so they only touch in-memory state.
type payloads struct {
	n        *Node
	maxBytes int
	maxTxs   int
}

// Build fills a block from the mempool, oldest transactions first, and
// commits to the newest state this node executed (or the parent's, if
// newer: a result never goes back). Pending service events take a block of
// their own: a block carries transactions or service events, never both,
// so that the blocks light clients download whole stay small.
func (p *payloads) Build(view model.View, parent *model.Block) []byte {
	if p.n.pipe != nil {
		return p.n.pipe.build(view, parent)
	}
	res := payload.Newest(p.n.latestResult(), p.n.resultOf(parent))
	if events := p.n.governance.Ready(view, epoch.MaxEventsPerBlock); len(events) > 0 {
		return (&payload.Payload{Result: &res, ServiceEvents: events}).Encode()
	}
	// Leave out what the chain being extended already carries; what only
	// a failed or losing block carried is proposed again.
	ancestors, _, ok := p.n.chain.ancestry(parent.ID(), parent.Height)
	if !ok {
		return (&payload.Payload{Result: &res}).Encode()
	}
	height := parent.Height + 1
	skip := func(id mempool.ID) bool { return p.n.chain.onChain(ancestors, height, id) }
	// The mempool counts each transaction with its 4-byte length, as the
	// payload frames it; the payload's own framing comes off the budget
	// first.
	txs := p.n.mempool.ReapMax(p.maxBytes-payload.TxOverhead-payload.ResultSize, p.maxTxs, skip)
	return (&payload.Payload{Result: &res, Transactions: txs}).Encode()
}

// HasWork tells an idle leader whether to propose now: transactions or
// service events wait, or a block between the finalized one and parent
// carries transactions whose 2-chain must not wait for the idle interval.
func (p *payloads) HasWork(parent *model.Block) bool {
	if pp := p.n.pipe; pp != nil {
		return p.n.governance.Pending() || pp.hasWork(parent)
	}
	if n, _ := p.n.mempool.Size(); n > 0 || p.n.governance.Pending() {
		return true
	}
	_, txs, ok := p.n.chain.ancestry(parent.ID(), parent.Height)
	return !ok || txs
}

// Full tells a leader waiting out the block interval whether a block
// extending parent would already be full: the mempool, less what the
// unfinalized chain below the block carries, holds a block's worth.
func (p *payloads) Full(parent *model.Block) bool {
	if p.n.pipe != nil {
		return p.n.pipe.full()
	}
	count, bytes := p.n.mempool.Size()
	if count < p.maxTxs && bytes < p.maxBytes {
		return false
	}
	onChain, ok := p.n.chain.unfinalizedTxs(parent.ID(), parent.Height)
	if !ok || onChain >= count {
		return false
	}
	free := count - onChain
	return free >= p.maxTxs || bytes/count*free >= p.maxBytes
}

// Validate checks a proposed payload (size, encoding and every
// transaction's well-formedness, without executing anything) and the
// block's execution result: the chain's rule against the parent's, and the
// root against this node's own execution.
func (p *payloads) Validate(b, parent *model.Block) error {
	if len(b.Payload) > p.maxBytes {
		return fmt.Errorf("%w: payload of %d bytes exceeds %d", model.ErrInvalid, len(b.Payload), p.maxBytes)
	}
	pl, err := p.n.led.Decoded(b)
	if err != nil {
		return err
	}
	if err := payload.CheckResult(b.Height, b.View, pl.Result, p.n.resultOf(parent)); err != nil {
		return err
	}
	if p.n.pipe == nil {
		// In a pipeline network the result comes from a receipt instead
		// (pipeline.validate): consensus nodes execute nothing.
		if err := p.n.checkResult(b.View, pl.Result); err != nil {
			return err
		}
	}
	if events := pl.ServiceEvents; len(events) > 0 {
		// Light clients download blocks with service events whole: those
		// stay small, with no transactions beside the events.
		if len(pl.Transactions) > 0 {
			return fmt.Errorf("%w: block for view %d carries transactions and service events", model.ErrInvalid, b.View)
		}
		for i, e := range events {
			// Whether the event takes effect is decided at finalization;
			// a block may only carry events governance really signed.
			if err := e.Verify(p.n.epochParams.Chain, p.n.epochParams.Authorities); err != nil {
				return fmt.Errorf("%w: service event %d: %v", model.ErrInvalid, i, err)
			}
		}
		if p.n.pipe != nil {
			return p.n.pipe.validate(b, parent, pl)
		}
		p.n.chain.add(b.ID(), b.ParentID, b.Height, nil)
		return nil
	}
	if p.n.pipe != nil {
		return p.n.pipe.validate(b, parent, pl)
	}
	txs := pl.Transactions
	for i, tx := range txs {
		if err := p.n.led.CheckTx(tx); err != nil {
			return fmt.Errorf("%w: transaction %d: %v", model.ErrInvalid, i, err)
		}
	}
	ids, err := p.n.led.BlockTxIDs(b)
	if err != nil {
		return err
	}
	if err := p.n.chain.check(b, ids); err != nil {
		return err
	}
	// Validated blocks are about to join the tree: a synced child validated
	// in the same step must find this one as its parent.
	p.n.chain.add(b.ID(), b.ParentID, b.Height, ids)
	return nil
}

// trackBlock records a block that joined the tree: its transactions are
// on the chains that extend it. Service events are kept out of our own
// proposals while the block may still be finalized.
func (n *Node) trackBlock(b *model.Block) {
	if b.IsRoot() {
		return
	}
	pl, err := n.led.Decoded(b)
	if err != nil {
		return // validated before it joined the tree; our own never fail
	}
	if len(pl.ServiceEvents) > 0 {
		n.governance.MarkInFlight(pl.ServiceEvents, b.View)
	}
	if n.pipe != nil {
		if err := n.pipe.track(b); err != nil {
			n.log.Warn("block left out of the guarantee index", "height", b.Height, "view", b.View, "err", err)
		}
		return
	}
	if len(pl.ServiceEvents) > 0 {
		n.chain.add(b.ID(), b.ParentID, b.Height, nil)
		return
	}
	if _, ok := n.chain.tracked(b.ID()); ok {
		return // validated blocks were tracked then: no second decode
	}
	ids, err := n.led.BlockTxIDs(b)
	if err != nil {
		return // validated before it joined the tree; our own never fail
	}
	n.chain.add(b.ID(), b.ParentID, b.Height, ids)
}

// finalizeTxs moves a finalized block's transactions out of the mempool at
// once (execution may run behind) and into the chain's window.
func (n *Node) finalizeTxs(b *model.Block) {
	if n.pipe != nil {
		n.pipe.finalized(b)
		return
	}
	ids, ok := n.chain.tracked(b.ID())
	if !ok {
		var err error
		if ids, err = n.led.BlockTxIDs(b); err != nil {
			n.fatal(fmt.Errorf("finalized block %v has an undecodable payload: %w", b.ID(), err))
			return
		}
	}
	n.chain.finalized(b.Height, ids)
	n.mempool.Remove(ids)
}

// loadChainTxs rebuilds the chain index at start-up: the finalized window
// from the store, then the unfinalized blocks the core restarts with.
func (n *Node) loadChainTxs(st core.State) error {
	top := st.Root.Height
	n.chain.finalHeight = 0
	from := uint64(1)
	if top > ledger.DedupWindow {
		from = top - ledger.DedupWindow + 1
	}
	for h := from; h <= top; h++ {
		b, err := n.led.Store().FinalizedByHeight(h)
		if err != nil {
			return err
		}
		ids, err := n.led.BlockTxIDs(b)
		if err != nil {
			return fmt.Errorf("stored block %d: %w", h, err)
		}
		n.chain.finalized(h, ids)
	}
	n.chain.finalHeight = top
	blocks := append([]*model.Block(nil), st.Blocks...)
	slices.SortFunc(blocks, func(a, b *model.Block) int { return cmp.Compare(a.Height, b.Height) })
	for _, b := range blocks {
		n.trackBlock(b)
	}
	return nil
}
