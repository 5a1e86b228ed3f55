package model

import (
	"bytes"
	"fmt"

	"github.com/floe-bft/floe/codec"
)

// TC is a timeout certificate for View: a supermajority timed out in View.
// Each signer signed (View, its newest QC view); NewestQCViews lists those
// views in signer order, and NewestQC is the highest QC among them, so the
// next leader can prove that the block it extends is at least as new as any
// block the timed-out replicas might have locked on.
type TC struct {
	View          View
	NewestQC      *QC
	NewestQCViews []View
	Signers       SignerSet
	Signature     []byte
}

// NewTC validates the shape of a TC: one newest-QC view per signer, all below
// View, and NewestQC's view equal to the highest of them.
func NewTC(view View, newestQC *QC, newestQCViews []View, signers SignerSet, sig []byte) (*TC, error) {
	tc := &TC{View: view, NewestQC: newestQC, NewestQCViews: newestQCViews, Signers: signers, Signature: sig}
	if err := tc.checkShape(); err != nil {
		return nil, err
	}
	return tc, nil
}

func (tc *TC) checkShape() error {
	if tc.NewestQC == nil {
		return fmt.Errorf("%w: TC for view %d without newest QC", ErrInvalid, tc.View)
	}
	if tc.Signers.Count() == 0 || len(tc.Signature) == 0 || len(tc.Signature) > MaxSignatureSize {
		return fmt.Errorf("%w: TC for view %d needs signers and a signature", ErrInvalid, tc.View)
	}
	if len(tc.NewestQCViews) != tc.Signers.Count() {
		return fmt.Errorf("%w: TC for view %d lists %d QC views for %d signers",
			ErrInvalid, tc.View, len(tc.NewestQCViews), tc.Signers.Count())
	}
	var highest View
	for _, v := range tc.NewestQCViews {
		if v >= tc.View {
			return fmt.Errorf("%w: TC for view %d lists QC view %d", ErrInvalid, tc.View, v)
		}
		if v > highest {
			highest = v
		}
	}
	if tc.NewestQC.View != highest {
		return fmt.Errorf("%w: TC for view %d carries QC view %d, highest listed is %d",
			ErrInvalid, tc.View, tc.NewestQC.View, highest)
	}
	return nil
}

// Equal reports whether both certificates are byte-for-byte the same.
func (tc *TC) Equal(o *TC) bool {
	if tc == nil || o == nil {
		return tc == o
	}
	if tc.View != o.View || !tc.NewestQC.Equal(o.NewestQC) || !tc.Signers.Equal(o.Signers) ||
		!bytes.Equal(tc.Signature, o.Signature) || len(tc.NewestQCViews) != len(o.NewestQCViews) {
		return false
	}
	for i := range tc.NewestQCViews {
		if tc.NewestQCViews[i] != o.NewestQCViews[i] {
			return false
		}
	}
	return true
}

func (tc *TC) encode(w *codec.Writer) {
	w.Uint64(uint64(tc.View))
	tc.NewestQC.encode(w)
	w.Uint16(uint16(len(tc.NewestQCViews)))
	for _, v := range tc.NewestQCViews {
		w.Uint64(uint64(v))
	}
	tc.Signers.encode(w)
	w.Bytes16(tc.Signature)
}

func decodeTC(r *codec.Reader) *TC {
	tc := &TC{View: View(r.Uint64())}
	tc.NewestQC = decodeQC(r)
	n := int(r.Uint16())
	if r.Err() != nil {
		return nil
	}
	if n > MaxCommitteeSize || n*8 > r.Remaining() {
		r.Fail("TC lists %d QC views", n)
		return nil
	}
	tc.NewestQCViews = make([]View, n)
	for i := range tc.NewestQCViews {
		tc.NewestQCViews[i] = View(r.Uint64())
	}
	tc.Signers = decodeSignerSet(r)
	tc.Signature = r.Bytes16(MaxSignatureSize, "TC signature")
	if r.Err() != nil {
		return nil
	}
	if err := tc.checkShape(); err != nil {
		r.Fail("%v", err)
		return nil
	}
	return tc
}

// Encode returns the canonical encoding.
func (tc *TC) Encode() []byte {
	w := codec.NewWriter(128 + 8*len(tc.NewestQCViews))
	tc.encode(w)
	return w.Bytes()
}

// DecodeTC decodes a canonical TC encoding.
func DecodeTC(b []byte) (*TC, error) {
	r := codec.NewReader(b)
	tc := decodeTC(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return tc, nil
}
