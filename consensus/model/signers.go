package model

import (
	"fmt"
	"math/bits"

	"github.com/floe-bft/floe/codec"
)

// SignerSet is a bitmap over the canonical committee order: bit i set means
// the member at index i signed. Its size is the committee size, so a set built
// for one committee cannot be mistaken for another's.
type SignerSet struct {
	size int
	bits []byte
}

// NewSignerSet returns an empty set for a committee of size members.
func NewSignerSet(size int) (SignerSet, error) {
	if size <= 0 || size > MaxCommitteeSize {
		return SignerSet{}, fmt.Errorf("%w: committee size %d out of range", ErrInvalid, size)
	}
	return SignerSet{size: size, bits: make([]byte, (size+7)/8)}, nil
}

// Size is the committee size the set is defined over.
func (s SignerSet) Size() int { return s.size }

// Set marks index i as a signer. It returns false if i is out of range.
func (s SignerSet) Set(i int) bool {
	if i < 0 || i >= s.size {
		return false
	}
	s.bits[i/8] |= 1 << (uint(i) % 8)
	return true
}

// Has reports whether index i signed.
func (s SignerSet) Has(i int) bool {
	if i < 0 || i >= s.size {
		return false
	}
	return s.bits[i/8]&(1<<(uint(i)%8)) != 0
}

// Count is the number of signers.
func (s SignerSet) Count() int {
	n := 0
	for _, b := range s.bits {
		n += bits.OnesCount8(b)
	}
	return n
}

// Indices lists the signer indices in increasing order.
func (s SignerSet) Indices() []int {
	out := make([]int, 0, s.Count())
	for i := 0; i < s.size; i++ {
		if s.Has(i) {
			out = append(out, i)
		}
	}
	return out
}

// Clone returns an independent copy.
func (s SignerSet) Clone() SignerSet {
	return SignerSet{size: s.size, bits: append([]byte(nil), s.bits...)}
}

// Equal reports whether both sets have the same size and members.
func (s SignerSet) Equal(o SignerSet) bool {
	if s.size != o.size || len(s.bits) != len(o.bits) {
		return false
	}
	for i := range s.bits {
		if s.bits[i] != o.bits[i] {
			return false
		}
	}
	return true
}

func (s SignerSet) encode(w *codec.Writer) {
	w.Uint16(uint16(s.size))
	w.Fixed(s.bits)
}

func decodeSignerSet(r *codec.Reader) SignerSet {
	size := int(r.Uint16())
	if r.Err() != nil {
		return SignerSet{}
	}
	if size == 0 || size > MaxCommitteeSize {
		r.Fail("signer set size %d", size)
		return SignerSet{}
	}
	s := SignerSet{size: size, bits: make([]byte, (size+7)/8)}
	r.Fixed(s.bits)
	// Unused high bits must be zero, or one set would have many encodings.
	if rem := size % 8; rem != 0 && r.Err() == nil && s.bits[len(s.bits)-1]>>uint(rem) != 0 {
		r.Fail("signer set has bits beyond size %d", size)
	}
	return s
}
