package node

import (
	"fmt"
	"sync"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/mempool"
)

// payloads connects the core's block building to the mempool. Both methods
// run inside the consensus loop, so they only touch in-memory state.
type payloads struct {
	n        *Node
	maxBytes int
	maxTxs   int
}

// Build fills a block from the mempool, oldest transactions first, and
// commits to the newest state this node executed. Pending service events
// take a block of their own: a block carries transactions or service
// events, never both, so that the blocks light clients download whole stay
// small.
func (p *payloads) Build(view model.View, _ *model.Block) ([]byte, model.Result) {
	if events := p.n.governance.ready(view, epoch.MaxEventsPerBlock); len(events) > 0 {
		return epoch.EncodePayload(events), p.n.latestResult()
	}
	return mempool.EncodePayload(p.n.mempool.ReapMax(p.maxBytes-mempool.PayloadSize(nil), p.maxTxs)), p.n.latestResult()
}

// DecodeTxs returns the transactions of a block payload: none for a block
// that carries service events.
func DecodeTxs(payload []byte, maxTxs int) ([][]byte, error) {
	if epoch.IsEventPayload(payload) {
		return nil, nil
	}
	return mempool.DecodePayload(payload, maxTxs)
}

// Validate checks a proposed payload (size, encoding and every
// transaction's well-formedness, without executing anything) and the
// block's result commitment against this node's execution.
func (p *payloads) Validate(b *model.Block) error {
	if err := p.n.checkResult(b); err != nil {
		return err
	}
	if len(b.Payload) > p.maxBytes {
		return fmt.Errorf("%w: payload of %d bytes exceeds %d", model.ErrInvalid, len(b.Payload), p.maxBytes)
	}
	if epoch.IsEventPayload(b.Payload) {
		events, err := epoch.DecodePayload(b.Payload)
		if err != nil {
			return fmt.Errorf("%w: payload: %v", model.ErrInvalid, err)
		}
		for i, e := range events {
			// Whether the event takes effect is decided at finalization;
			// a block may only carry events governance really signed.
			if err := e.Verify(p.n.epochParams.Chain, p.n.epochParams.Authorities); err != nil {
				return fmt.Errorf("%w: service event %d: %v", model.ErrInvalid, i, err)
			}
		}
		return nil
	}
	txs, err := mempool.DecodePayload(b.Payload, p.maxTxs)
	if err != nil {
		return fmt.Errorf("%w: payload: %v", model.ErrInvalid, err)
	}
	for i, tx := range txs {
		if err := p.n.app.CheckTx(tx); err != nil {
			return fmt.Errorf("%w: transaction %d: %v", model.ErrInvalid, i, err)
		}
	}
	return nil
}

// markInFlight keeps transactions of a block in the tree out of our own
// proposals until the block is final (then they are removed) or stale.
func (n *Node) markInFlight(b *model.Block) {
	if b.IsRoot() || len(b.Payload) == 0 {
		return
	}
	if epoch.IsEventPayload(b.Payload) {
		if events, err := epoch.DecodePayload(b.Payload); err == nil {
			n.governance.markInFlight(events, b.View)
		}
		return
	}
	txs, err := mempool.DecodePayload(b.Payload, n.cfg.Genesis.Params.MaxBlockTxs)
	if err != nil {
		return
	}
	ids := idsOf(txs)
	n.mempool.MarkInFlight(ids)
	n.txIDs.put(b.ID(), ids)
}

// txIDCache keeps the transaction IDs of recent blocks, computed once when
// the block enters the tree and used again when it is executed: hashing
// every transaction twice showed up in profiles at full load.
type txIDCache struct {
	mu    sync.Mutex
	ids   map[model.Identifier][]mempool.ID
	order []model.Identifier
}

const txIDCacheBlocks = 128

func newTxIDCache() *txIDCache { return &txIDCache{ids: make(map[model.Identifier][]mempool.ID)} }

func (c *txIDCache) put(block model.Identifier, ids []mempool.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ids[block]; ok {
		return
	}
	if len(c.order) >= txIDCacheBlocks {
		delete(c.ids, c.order[0])
		c.order = c.order[1:]
	}
	c.ids[block] = ids
	c.order = append(c.order, block)
}

// get returns the cached IDs of block if they match txs in number.
func (c *txIDCache) get(block model.Identifier, n int) ([]mempool.ID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids, ok := c.ids[block]
	return ids, ok && len(ids) == n
}

func idsOf(txs [][]byte) []mempool.ID {
	ids := make([]mempool.ID, len(txs))
	for i, tx := range txs {
		ids[i] = crypto.Sum(tx)
	}
	return ids
}
