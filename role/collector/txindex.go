package collector

import (
	"sync"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// txIndex maps the transactions of the collections this node retains to
// their collection, for GET /v1/collector/transactions/{id}. It is bounded
// by collections (the oldest go first, as the clusters' retention does),
// hence by collections × MaxTxs entries.
type txIndex struct {
	mu    sync.Mutex
	max   int
	byTx  map[model.Identifier]model.Identifier // tx → collection
	colls map[model.Identifier]*indexedCollection
	fifo  []model.Identifier
}

type indexedCollection struct {
	chain      model.ChainID
	txs        []model.Identifier
	guaranteed bool
}

func newTxIndex(maxCollections int) *txIndex {
	return &txIndex{max: max(maxCollections, 1), byTx: map[model.Identifier]model.Identifier{},
		colls: map[model.Identifier]*indexedCollection{}}
}

// collected records a finalized collection (the clusters' OnCollection).
func (x *txIndex) collected(chain model.ChainID, col *collection.Collection) {
	id := col.ID()
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.colls[id]; ok {
		return
	}
	ic := &indexedCollection{chain: chain, txs: col.TxIDs()}
	x.colls[id] = ic
	x.fifo = append(x.fifo, id)
	for _, tx := range ic.txs {
		x.byTx[tx] = id
	}
	for len(x.fifo) > x.max {
		old := x.fifo[0]
		x.fifo = x.fifo[1:]
		for _, tx := range x.colls[old].txs {
			if x.byTx[tx] == old {
				delete(x.byTx, tx)
			}
		}
		delete(x.colls, old)
	}
}

// guaranteed marks a collection whose guarantee formed.
func (x *txIndex) guaranteed(collectionID model.Identifier) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if ic, ok := x.colls[collectionID]; ok {
		ic.guaranteed = true
	}
}

// lookup returns the collection holding tx, its chain and whether its
// guarantee formed.
func (x *txIndex) lookup(tx model.Identifier) (col model.Identifier, chain model.ChainID, guaranteed, ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	col, ok = x.byTx[tx]
	if !ok {
		return model.ZeroID, model.ZeroID, false, false
	}
	ic := x.colls[col]
	return col, ic.chain, ic.guaranteed, true
}
