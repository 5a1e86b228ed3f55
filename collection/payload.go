package collection

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
)

// PayloadVersion is the first byte of every cluster block payload.
const PayloadVersion = 1

// payloadHeader is the encoding of a payload minus its collection: the
// version and the reference block ID.
const payloadHeader = 1 + 32

// Payload is what a cluster block carries: the main-chain block its
// proposer saw as finalized, and a collection. Ref never goes down along a
// cluster fork (ErrRefRegressed) and every transaction's reference block is
// at or below it and at most Rules.Expiry blocks below it, so Ref is the
// clock the expiry rule runs on. A payload may carry an empty collection:
// the cluster chain then still advances its Ref (and finality), and nothing
// needs a guarantee.
type Payload struct {
	Ref        model.Identifier
	Collection *Collection // nil: empty
}

// NeedsGuarantee reports whether the payload's collection, once finalized,
// is signed and sent to consensus: whether it carries a transaction.
func (p *Payload) NeedsGuarantee() bool { return p.Collection.Len() > 0 }

// Size is the length of the encoding.
func (p *Payload) Size() int { return payloadHeader + p.Collection.Size() }

// Encode returns the canonical encoding: PayloadVersion, Ref (32 bytes),
// the collection's encoding.
func (p *Payload) Encode() []byte {
	w := codec.NewWriter(p.Size())
	w.Uint8(PayloadVersion)
	w.Fixed(p.Ref[:])
	p.Collection.EncodeTo(w)
	return w.Bytes()
}

// DecodePayload decodes a cluster block payload and checks its collection
// under lim. The reference block is checked by Rules, which know the main
// chain.
func DecodePayload(b []byte, lim Limits) (*Payload, error) {
	if len(b) > payloadHeader+lim.MaxBytes {
		return nil, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, len(b), payloadHeader+lim.MaxBytes)
	}
	r := codec.NewReader(b)
	if v := r.Uint8(); r.Err() == nil && v != PayloadVersion {
		return nil, fmt.Errorf("%w: payload version %d, want %d", ErrInvalid, v, PayloadVersion)
	}
	p := &Payload{}
	r.Fixed(p.Ref[:])
	c, err := readCollection(r, lim)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrInvalid, err)
	}
	p.Collection = c
	return p, nil
}
