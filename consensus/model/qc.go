package model

import (
	"bytes"
	"fmt"

	"github.com/floe-bft/floe/codec"
)

// QC is a quorum certificate: a supermajority of the committee (by weight)
// voted for block BlockID in View. The signatures are aggregated into one.
//
// The root QC, which certifies the genesis (or a trusted snapshot) block, has
// no signers and no signature; verifiers accept it only by equality with the
// root they were configured with.
type QC struct {
	View      View
	BlockID   Identifier
	Signers   SignerSet
	Signature []byte
}

// NewQC validates the shape of a QC built by an aggregator or decoder.
func NewQC(view View, blockID Identifier, signers SignerSet, sig []byte) (*QC, error) {
	if signers.Size() == 0 {
		return nil, fmt.Errorf("%w: QC for view %d has no signer set", ErrInvalid, view)
	}
	if signers.Count() == 0 || len(sig) == 0 || len(sig) > MaxSignatureSize {
		return nil, fmt.Errorf("%w: QC for view %d needs signers and a signature", ErrInvalid, view)
	}
	return &QC{View: view, BlockID: blockID, Signers: signers, Signature: sig}, nil
}

// NewRootQC returns the signature-less certificate of a trusted root block.
func NewRootQC(view View, blockID Identifier, committeeSize int) (*QC, error) {
	s, err := NewSignerSet(committeeSize)
	if err != nil {
		return nil, err
	}
	return &QC{View: view, BlockID: blockID, Signers: s}, nil
}

// IsRoot reports whether q has the shape of a root QC (no signers).
func (q *QC) IsRoot() bool { return q.Signers.Count() == 0 && len(q.Signature) == 0 }

// Equal reports whether both certificates are byte-for-byte the same.
func (q *QC) Equal(o *QC) bool {
	if q == nil || o == nil {
		return q == o
	}
	return q.View == o.View && q.BlockID == o.BlockID && q.Signers.Equal(o.Signers) &&
		bytes.Equal(q.Signature, o.Signature)
}

func (q *QC) encode(w *codec.Writer) {
	w.Uint64(uint64(q.View))
	w.Fixed(q.BlockID[:])
	q.Signers.encode(w)
	w.Bytes16(q.Signature)
}

func decodeQC(r *codec.Reader) *QC {
	q := &QC{View: View(r.Uint64())}
	r.Fixed(q.BlockID[:])
	q.Signers = decodeSignerSet(r)
	q.Signature = r.Bytes16(MaxSignatureSize, "QC signature")
	if r.Err() != nil {
		return nil
	}
	// Either a root QC (no signers, no signature) or a real one (both).
	if (q.Signers.Count() == 0) != (len(q.Signature) == 0) {
		r.Fail("QC for view %d: signers and signature must both be present or both absent", q.View)
		return nil
	}
	return q
}

// Encode returns the canonical encoding.
func (q *QC) Encode() []byte {
	w := codec.NewWriter(64 + len(q.Signature))
	q.encode(w)
	return w.Bytes()
}

// DecodeQC decodes a canonical QC encoding.
func DecodeQC(b []byte) (*QC, error) {
	r := codec.NewReader(b)
	q := decodeQC(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return q, nil
}
