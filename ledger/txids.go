package ledger

import (
	"sync"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/mempool"
)

// BlockTxIDs returns the IDs of a block's transactions (none for service
// events), from the cache when it has them.
func (l *Ledger) BlockTxIDs(b *model.Block) ([]mempool.ID, error) {
	pl, err := l.Decoded(b)
	if err != nil {
		return nil, err
	}
	txs := pl.Transactions
	if ids, ok := l.txIDs.get(b.ID(), len(txs)); ok {
		return ids, nil
	}
	ids := idsOf(txs)
	l.txIDs.put(b.ID(), ids)
	return ids, nil
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
