package model

import (
	"bytes"
	"fmt"

	"github.com/floe-bft/floe/codec"
)

// TimeoutObject is a replica's statement that it gives up on View. It carries
// the replica's newest QC, and the TC for View-1 whenever that QC is not for
// View-1, so that any receiver can catch up to View from this message alone.
// The signature covers (View, NewestQC.View).
type TimeoutObject struct {
	View       View
	NewestQC   *QC
	LastViewTC *TC
	SignerID   NodeID
	Signature  []byte
}

// NewTimeoutObject validates the shape of a timeout object.
func NewTimeoutObject(view View, newestQC *QC, lastViewTC *TC, signer NodeID, sig []byte) (*TimeoutObject, error) {
	t := &TimeoutObject{View: view, NewestQC: newestQC, LastViewTC: lastViewTC, SignerID: signer, Signature: sig}
	if err := t.checkShape(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *TimeoutObject) checkShape() error {
	if t.NewestQC == nil {
		return fmt.Errorf("%w: timeout for view %d without newest QC", ErrInvalid, t.View)
	}
	if t.NewestQC.View >= t.View {
		return fmt.Errorf("%w: timeout for view %d carries QC for view %d", ErrInvalid, t.View, t.NewestQC.View)
	}
	if t.NewestQC.View+1 == t.View {
		if t.LastViewTC != nil {
			return fmt.Errorf("%w: timeout for view %d has a QC for the previous view and a TC", ErrInvalid, t.View)
		}
	} else {
		if t.LastViewTC == nil || t.LastViewTC.View+1 != t.View {
			return fmt.Errorf("%w: timeout for view %d with QC %d needs the TC for view %d", ErrInvalid, t.View, t.NewestQC.View, t.View-1)
		}
		if t.NewestQC.View < t.LastViewTC.NewestQC.View {
			return fmt.Errorf("%w: timeout for view %d: newest QC %d older than the TC's %d",
				ErrInvalid, t.View, t.NewestQC.View, t.LastViewTC.NewestQC.View)
		}
	}
	if len(t.Signature) == 0 || len(t.Signature) > MaxSignatureSize {
		return fmt.Errorf("%w: timeout for view %d has a signature of %d bytes", ErrInvalid, t.View, len(t.Signature))
	}
	return nil
}

// Equal reports whether both timeouts are byte-for-byte the same.
func (t *TimeoutObject) Equal(o *TimeoutObject) bool {
	return t.View == o.View && t.SignerID == o.SignerID && t.NewestQC.Equal(o.NewestQC) &&
		t.LastViewTC.Equal(o.LastViewTC) && bytes.Equal(t.Signature, o.Signature)
}

func (t *TimeoutObject) encode(w *codec.Writer) {
	w.Uint64(uint64(t.View))
	t.NewestQC.encode(w)
	w.Bool(t.LastViewTC != nil)
	if t.LastViewTC != nil {
		t.LastViewTC.encode(w)
	}
	w.Fixed(t.SignerID[:])
	w.Bytes16(t.Signature)
}

func decodeTimeout(r *codec.Reader) *TimeoutObject {
	t := &TimeoutObject{View: View(r.Uint64())}
	t.NewestQC = decodeQC(r)
	if r.Bool() {
		t.LastViewTC = decodeTC(r)
	}
	r.Fixed(t.SignerID[:])
	t.Signature = r.Bytes16(MaxSignatureSize, "timeout signature")
	if r.Err() != nil {
		return nil
	}
	if err := t.checkShape(); err != nil {
		r.Fail("%v", err)
		return nil
	}
	return t
}

// Encode returns the canonical encoding.
func (t *TimeoutObject) Encode() []byte {
	w := codec.NewWriter(256)
	t.encode(w)
	return w.Bytes()
}

// DecodeTimeout decodes a canonical timeout encoding.
func DecodeTimeout(b []byte) (*TimeoutObject, error) {
	r := codec.NewReader(b)
	t := decodeTimeout(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return t, nil
}
