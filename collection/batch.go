package collection

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
)

// MaxGuaranteeBatch bounds the guarantees one request hands a consensus
// node (POST /v1/guarantees).
const MaxGuaranteeBatch = 256

// EncodeGuarantees is the body of a guarantee hand-off: a 4-byte count,
// then each guarantee's canonical encoding.
func EncodeGuarantees(gs []*Guarantee) []byte {
	n := 4
	for _, g := range gs {
		n += GuaranteeSize(g.Signers.Size(), len(g.Signature))
	}
	w := codec.NewWriter(n)
	w.Uint32(uint32(len(gs)))
	for _, g := range gs {
		g.EncodeTo(w)
	}
	return w.Bytes()
}

// DecodeGuarantees decodes a hand-off of at most max guarantees (the
// shape of each, not its signature). Errors wrap ErrInvalid.
func DecodeGuarantees(b []byte, max int) ([]*Guarantee, error) {
	r := codec.NewReader(b)
	count := int(r.Uint32())
	switch {
	case r.Err() != nil:
		return nil, fmt.Errorf("%w: guarantee batch: %w", ErrInvalid, r.Err())
	case count == 0 || count > max:
		return nil, fmt.Errorf("%w: guarantee batch of %d, want 1 to %d", ErrInvalid, count, max)
	case count > r.Remaining()/guaranteeFixed:
		return nil, fmt.Errorf("%w: guarantee batch claims %d in %d bytes", ErrInvalid, count, r.Remaining())
	}
	gs := make([]*Guarantee, 0, count)
	for i := 0; i < count && r.Err() == nil; i++ {
		gs = append(gs, ReadGuarantee(r))
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: guarantee batch: %w", ErrInvalid, err)
	}
	return gs, nil
}
