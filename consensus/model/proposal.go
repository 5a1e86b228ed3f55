package model

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
)

// Proposal is a block signed by its proposer (the view's leader) under the
// proposal domain. The leader's vote is a separate Vote under the vote domain:
// a proposal signature can never be counted towards a QC, and the leader's own
// vote passes the same safety rules as everyone else's.
type Proposal struct {
	Block     *Block
	Signature []byte
}

// NewProposal validates the shape of a proposal.
func NewProposal(b *Block, sig []byte) (*Proposal, error) {
	if b == nil || b.IsRoot() {
		return nil, fmt.Errorf("%w: proposal without a proposable block", ErrInvalid)
	}
	if len(sig) == 0 || len(sig) > MaxSignatureSize {
		return nil, fmt.Errorf("%w: proposal for view %d has a signature of %d bytes", ErrInvalid, b.View, len(sig))
	}
	return &Proposal{Block: b, Signature: sig}, nil
}

func (p *Proposal) encode(w *codec.Writer) {
	p.Block.encode(w)
	w.Bytes16(p.Signature)
}

func decodeProposal(r *codec.Reader) *Proposal {
	b := decodeBlock(r)
	sig := r.Bytes16(MaxSignatureSize, "proposal signature")
	if r.Err() != nil {
		return nil
	}
	p, err := NewProposal(b, sig)
	if err != nil {
		r.Fail("%v", err)
		return nil
	}
	return p
}

// Encode returns the canonical encoding.
func (p *Proposal) Encode() []byte {
	w := codec.NewWriter(400 + len(p.Block.Payload))
	p.encode(w)
	return w.Bytes()
}

// DecodeProposal decodes a canonical proposal encoding.
func DecodeProposal(b []byte) (*Proposal, error) {
	r := codec.NewReader(b)
	p := decodeProposal(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return p, nil
}
