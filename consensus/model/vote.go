package model

import (
	"bytes"
	"fmt"

	"github.com/floe-bft/floe/codec"
)

// Vote is a replica's signature over (View, BlockID). Votes for view v go to
// the leader of v+1, which aggregates a supermajority into a QC.
type Vote struct {
	View      View
	BlockID   Identifier
	SignerID  NodeID
	Signature []byte
}

// NewVote validates the shape of a vote.
func NewVote(view View, blockID Identifier, signer NodeID, sig []byte) (*Vote, error) {
	if len(sig) == 0 || len(sig) > MaxSignatureSize {
		return nil, fmt.Errorf("%w: vote for view %d has a signature of %d bytes", ErrInvalid, view, len(sig))
	}
	return &Vote{View: view, BlockID: blockID, SignerID: signer, Signature: sig}, nil
}

// Equal reports whether both votes are byte-for-byte the same.
func (v *Vote) Equal(o *Vote) bool {
	return v.View == o.View && v.BlockID == o.BlockID && v.SignerID == o.SignerID && bytes.Equal(v.Signature, o.Signature)
}

func (v *Vote) encode(w *codec.Writer) {
	w.Uint64(uint64(v.View))
	w.Fixed(v.BlockID[:])
	w.Fixed(v.SignerID[:])
	w.Bytes16(v.Signature)
}

func decodeVote(r *codec.Reader) *Vote {
	v := &Vote{View: View(r.Uint64())}
	r.Fixed(v.BlockID[:])
	r.Fixed(v.SignerID[:])
	v.Signature = r.Bytes16(MaxSignatureSize, "vote signature")
	if r.Err() != nil {
		return nil
	}
	if len(v.Signature) == 0 {
		r.Fail("vote without signature")
		return nil
	}
	return v
}

// Encode returns the canonical encoding.
func (v *Vote) Encode() []byte {
	w := codec.NewWriter(8 + 64 + 2 + len(v.Signature))
	v.encode(w)
	return w.Bytes()
}

// DecodeVote decodes a canonical vote encoding.
func DecodeVote(b []byte) (*Vote, error) {
	r := codec.NewReader(b)
	v := decodeVote(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return v, nil
}
