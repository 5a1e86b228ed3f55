package collection

import (
	"encoding/binary"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// txTag separates transaction IDs from every other hash floe computes.
const txTag = "floe/tx\x00"

// txHeader is the encoding of a transaction minus its body: the reference
// block ID and the body's 4-byte length.
const txHeader = 32 + 4

// Tx is the transaction envelope collectors handle: the body a client
// signed (opaque here) and the reference block, the ID of a recent
// finalized main-chain block. The reference block gives a transaction its
// epoch (which clusters may collect it) and its expiry (Rules.Expiry
// main-chain blocks above it), and it is part of the ID, so one body sent
// with two reference blocks is two transactions.
type Tx struct {
	Ref  model.Identifier
	Body []byte
}

// Size is the length of the encoding: the reference block, the body's
// length and the body.
func (tx Tx) Size() int { return txHeader + len(tx.Body) }

// Encode returns the canonical encoding: Ref (32 bytes), the body's length
// (4 bytes, big-endian), the body.
func (tx Tx) Encode() []byte {
	w := codec.NewWriter(tx.Size())
	tx.EncodeTo(w)
	return w.Bytes()
}

// EncodeTo appends the canonical encoding to w.
func (tx Tx) EncodeTo(w *codec.Writer) {
	w.Fixed(tx.Ref[:])
	w.Bytes32(tx.Body)
}

// ID is SHA-256 over a domain tag and the canonical encoding.
func (tx Tx) ID() model.Identifier {
	var hdr [txHeader]byte
	copy(hdr[:], tx.Ref[:])
	binary.BigEndian.PutUint32(hdr[32:], uint32(len(tx.Body)))
	return crypto.Sum([]byte(txTag), hdr[:], tx.Body)
}

// Check reports a transaction no collection may carry under lim: no body
// or no reference block (ErrMalformedTx), or an encoding larger than
// lim.MaxTxBytes (ErrTooLarge).
func (tx Tx) Check(lim Limits) error {
	switch {
	case len(tx.Body) == 0:
		return fmt.Errorf("%w: empty body", ErrMalformedTx)
	case tx.Ref == model.ZeroID:
		return fmt.Errorf("%w: no reference block", ErrMalformedTx)
	case tx.Size() > lim.MaxTxBytes:
		return fmt.Errorf("%w: transaction of %d bytes, limit %d", ErrTooLarge, tx.Size(), lim.MaxTxBytes)
	}
	return nil
}

// DecodeTx decodes one transaction and checks it under lim.
func DecodeTx(b []byte, lim Limits) (Tx, error) {
	if len(b) > lim.MaxTxBytes {
		return Tx{}, fmt.Errorf("%w: transaction of %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxTxBytes)
	}
	r := codec.NewReader(b)
	tx, err := readTx(r, lim)
	if err != nil {
		return Tx{}, err
	}
	if err := r.Done(); err != nil {
		return Tx{}, fmt.Errorf("%w: transaction: %w", ErrInvalid, err)
	}
	return tx, nil
}

// readTx reads one transaction; a body that would make it larger than
// lim.MaxTxBytes is refused before it is copied.
func readTx(r *codec.Reader, lim Limits) (Tx, error) {
	var tx Tx
	r.Fixed(tx.Ref[:])
	n := r.Uint32()
	if err := r.Err(); err != nil {
		return Tx{}, fmt.Errorf("%w: transaction: %w", ErrInvalid, err)
	}
	if uint64(n)+txHeader > uint64(lim.MaxTxBytes) {
		return Tx{}, fmt.Errorf("%w: transaction of %d bytes, limit %d", ErrTooLarge, uint64(n)+txHeader, lim.MaxTxBytes)
	}
	if int(n) > r.Remaining() {
		return Tx{}, fmt.Errorf("%w: transaction body of %d bytes, %d left", ErrInvalid, n, r.Remaining())
	}
	tx.Body = make([]byte, n)
	r.Fixed(tx.Body)
	if err := r.Err(); err != nil {
		return Tx{}, fmt.Errorf("%w: transaction: %w", ErrInvalid, err)
	}
	if err := tx.Check(lim); err != nil {
		return Tx{}, err
	}
	return tx, nil
}

// ClusterOf is the index of the cluster, among k, that may collect the
// transaction with ID id: the whole ID read as a 256-bit big-endian
// integer, modulo k. It is the one routing rule (epoch.Epoch.ClusterOfTx
// calls it): access nodes send a transaction, and clusters accept it, by
// this function alone, so exactly one cluster collects each transaction.
// IDs are SHA-256 outputs, so transactions spread evenly and nobody picks
// a cluster without grinding hashes. k is the cluster count of the epoch
// of the transaction's reference block and must be positive.
func ClusterOf(id model.Identifier, k uint32) uint32 {
	var r uint64
	for _, b := range id {
		r = (r<<8 | uint64(b)) % uint64(k) // r < k < 2^32, so r<<8 cannot overflow
	}
	return uint32(r)
}
