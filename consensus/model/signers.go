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

// EncodeTo writes the bitmap alone, ⌈Size/8⌉ bytes with bit i of byte i/8
// for member i, for encodings whose context already fixes the committee
// size; ReadSignerSet reads it back.
func (s SignerSet) EncodeTo(w *codec.Writer) { w.Fixed(s.bits) }

// ReadSignerSet reads a bitmap written by EncodeTo for a committee of n
// members. Failures (n out of range, too few bytes, bits set beyond n) are
// recorded in r, like every other read.
func ReadSignerSet(r *codec.Reader, n int) SignerSet {
	if r.Err() != nil {
		return SignerSet{}
	}
	if n <= 0 || n > MaxCommitteeSize {
		r.Fail("signer set size %d", n)
		return SignerSet{}
	}
	s := SignerSet{size: n, bits: make([]byte, (n+7)/8)}
	r.Fixed(s.bits)
	// Unused high bits must be zero, or one set would have many encodings.
	if rem := n % 8; rem != 0 && r.Err() == nil && s.bits[len(s.bits)-1]>>uint(rem) != 0 {
		r.Fail("signer set has bits beyond size %d", n)
	}
	return s
}

func (s SignerSet) encode(w *codec.Writer) {
	w.Uint16(uint16(s.size))
	s.EncodeTo(w)
}

func decodeSignerSet(r *codec.Reader) SignerSet {
	return ReadSignerSet(r, int(r.Uint16()))
}
