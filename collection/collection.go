package collection

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// collectionTag separates collection IDs from every other hash.
const collectionTag = "floe/collection\x00"

// collectionHeader is the encoding of a collection minus its transactions:
// the 4-byte count.
const collectionHeader = 4

// Collection is an ordered list of transactions, what one finalized cluster
// block carries. It is immutable: NewCollection and the decoders compute
// the transaction IDs once, and nothing changes them afterwards. A nil
// *Collection is the empty collection.
type Collection struct {
	txs  []Tx
	ids  []model.Identifier
	size int
}

// NewCollection returns the collection of txs in order. It keeps txs: the
// caller must not modify the slice or the bodies afterwards. It does not
// check limits (Check does).
func NewCollection(txs []Tx) *Collection {
	ids := make([]model.Identifier, len(txs))
	for i, tx := range txs {
		ids[i] = tx.ID()
	}
	return newCollection(txs, ids)
}

// newCollection builds a collection from transactions whose IDs the
// caller already computed.
func newCollection(txs []Tx, ids []model.Identifier) *Collection {
	size := collectionHeader
	for _, tx := range txs {
		size += tx.Size()
	}
	return &Collection{txs: txs, ids: ids, size: size}
}

// Len is the number of transactions.
func (c *Collection) Len() int {
	if c == nil {
		return 0
	}
	return len(c.txs)
}

// Txs returns the transactions in order. Callers must not modify them.
func (c *Collection) Txs() []Tx {
	if c == nil {
		return nil
	}
	return c.txs
}

// TxIDs returns the transaction IDs in order. Callers must not modify them.
func (c *Collection) TxIDs() []model.Identifier {
	if c == nil {
		return nil
	}
	return c.ids
}

// Size is the length of the encoding.
func (c *Collection) Size() int {
	if c == nil {
		return collectionHeader
	}
	return c.size
}

// ID is SHA-256 over a domain tag and the ordered transaction IDs. It
// commits to the order, and (IDs having a fixed size) to the count. An
// execution node that fetched a collection checks it against this ID.
func (c *Collection) ID() model.Identifier {
	parts := make([][]byte, 0, 1+c.Len())
	parts = append(parts, []byte(collectionTag))
	for i := range c.TxIDs() {
		parts = append(parts, c.ids[i][:])
	}
	return crypto.Sum(parts...)
}

// Check reports a collection larger than lim allows (ErrTooLarge) or one
// with a malformed transaction (ErrMalformedTx).
func (c *Collection) Check(lim Limits) error {
	if c.Len() > lim.MaxTxs {
		return fmt.Errorf("%w: %d transactions, limit %d", ErrTooLarge, c.Len(), lim.MaxTxs)
	}
	if c.Size() > lim.MaxBytes {
		return fmt.Errorf("%w: collection of %d bytes, limit %d", ErrTooLarge, c.Size(), lim.MaxBytes)
	}
	for i, tx := range c.Txs() {
		if err := tx.Check(lim); err != nil {
			return fmt.Errorf("transaction %d: %w", i, err)
		}
	}
	return nil
}

// Encode returns the canonical encoding: the count (4 bytes, big-endian),
// then each transaction's encoding in order.
func (c *Collection) Encode() []byte {
	w := codec.NewWriter(c.Size())
	c.EncodeTo(w)
	return w.Bytes()
}

// EncodeTo appends the canonical encoding to w.
func (c *Collection) EncodeTo(w *codec.Writer) {
	w.Uint32(uint32(c.Len()))
	for _, tx := range c.Txs() {
		tx.EncodeTo(w)
	}
}

// DecodeCollection decodes a collection and checks it under lim. It never
// allocates more than lim allows, whatever the input claims.
func DecodeCollection(b []byte, lim Limits) (*Collection, error) {
	if len(b) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: collection of %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxBytes)
	}
	r := codec.NewReader(b)
	c, err := readCollection(r, lim)
	if err != nil {
		return nil, err
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: collection: %w", ErrInvalid, err)
	}
	return c, nil
}

// readCollection reads a collection that must fit lim.
func readCollection(r *codec.Reader, lim Limits) (*Collection, error) {
	n := r.Uint32()
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: collection: %w", ErrInvalid, err)
	}
	if uint64(n) > uint64(lim.MaxTxs) {
		return nil, fmt.Errorf("%w: %d transactions, limit %d", ErrTooLarge, n, lim.MaxTxs)
	}
	// Each transaction takes at least its header, so a count the input
	// cannot hold is refused before the slices are made.
	if uint64(n)*txHeader > uint64(r.Remaining()) {
		return nil, fmt.Errorf("%w: %d transactions in %d bytes", ErrInvalid, n, r.Remaining())
	}
	txs := make([]Tx, n)
	for i := range txs {
		tx, err := readTx(r, lim)
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, err)
		}
		txs[i] = tx
	}
	c := NewCollection(txs)
	if err := c.Check(lim); err != nil {
		return nil, err
	}
	return c, nil
}
