package merkle

import (
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrInvalidProof is wrapped by every reason a proof is rejected, whether it
// is malformed or does not prove the claimed value against the root.
var ErrInvalidProof = errors.New("invalid proof")

// MaxDepth is the deepest a path can end: inner nodes exist at depths
// 0..255, so the leaf or empty subtree where a path ends is at most 256.
const MaxDepth = 256

// MaxProofSize bounds an encoded proof: depth, a full bitmap, 256 sibling
// hashes and a leaf.
const MaxProofSize = 2 + MaxDepth/8 + MaxDepth*32 + 1 + 64

// Leaf is a (key hash, value hash) pair.
type Leaf struct {
	Key, Value Hash
}

// Proof is the path from the root towards a key hash: the sibling hash at
// every level, root first, and where the path ends — at an empty subtree
// (Leaf nil) or at a leaf, which is the key's own (membership) or another
// key's that sits where the key would be (non-membership).
type Proof struct {
	// Siblings[i] is the hash of the other child of the path's inner node
	// at depth i: the subtree at depth i+1 the key's path does not enter.
	Siblings []Hash
	Leaf     *Leaf
}

// Encode returns the canonical encoding of p:
//
//	u16 depth = len(Siblings) (≤ 256)
//	bitmap, ceil(depth/8) bytes: bit i (MSB first) set iff Siblings[i] ≠ Empty
//	the non-empty siblings, 32 bytes each, root first
//	u8 end: 0 = empty subtree, 1 = leaf
//	if leaf: key hash (32), value hash (32)
//
// Empty siblings cost one bit rather than 32 bytes: near the bottom of a
// path, siblings are often empty.
func (p Proof) Encode() []byte {
	d := len(p.Siblings)
	n := 2 + (d+7)/8 + 1
	for i := range p.Siblings {
		if p.Siblings[i] != Empty {
			n += 32
		}
	}
	if p.Leaf != nil {
		n += 64
	}
	out := make([]byte, n)
	out[0], out[1] = byte(d>>8), byte(d)
	bitmap := out[2 : 2+(d+7)/8]
	off := 2 + len(bitmap)
	for i := range p.Siblings {
		if p.Siblings[i] != Empty {
			bitmap[i>>3] |= 0x80 >> uint(i&7)
			off += copy(out[off:], p.Siblings[i][:])
		}
	}
	if p.Leaf != nil {
		out[off] = 1
		off++
		off += copy(out[off:], p.Leaf.Key[:])
		copy(out[off:], p.Leaf.Value[:])
	}
	return out
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: malformed: %s", ErrInvalidProof, fmt.Sprintf(format, args...))
}

// DecodeProof decodes the canonical encoding of a proof. It rejects every
// non-canonical form (padding bits, explicit empty siblings, trailing
// bytes, a path that a well-formed tree cannot have), never panics, and
// allocates at most what the input can describe.
func DecodeProof(b []byte) (Proof, error) {
	var p Proof
	if len(b) > MaxProofSize {
		return p, malformed("%d bytes, more than %d", len(b), MaxProofSize)
	}
	if len(b) < 3 {
		return p, malformed("%d bytes, too short", len(b))
	}
	d := int(b[0])<<8 | int(b[1])
	if d > MaxDepth {
		return p, malformed("depth %d", d)
	}
	nb := (d + 7) / 8
	if len(b) < 2+nb+1 {
		return p, malformed("truncated bitmap")
	}
	bitmap := b[2 : 2+nb]
	if d%8 != 0 && bitmap[nb-1]&(0xff>>uint(d%8)) != 0 {
		return p, malformed("bitmap padding bits set")
	}
	off := 2 + nb
	if d > 0 {
		p.Siblings = make([]Hash, d)
	}
	for i := 0; i < d; i++ {
		if bitmap[i>>3]&(0x80>>uint(i&7)) == 0 {
			continue
		}
		if len(b)-off < 32 {
			return Proof{}, malformed("truncated sibling %d", i)
		}
		copy(p.Siblings[i][:], b[off:off+32])
		off += 32
		if p.Siblings[i] == Empty {
			return Proof{}, malformed("empty sibling %d encoded as a hash", i)
		}
	}
	if off >= len(b) {
		return Proof{}, malformed("missing end marker")
	}
	end := b[off]
	off++
	switch end {
	case 0:
	case 1:
		if len(b)-off < 64 {
			return Proof{}, malformed("truncated leaf")
		}
		p.Leaf = &Leaf{}
		copy(p.Leaf.Key[:], b[off:off+32])
		copy(p.Leaf.Value[:], b[off+32:off+64])
		off += 64
	default:
		return Proof{}, malformed("end marker %d", end)
	}
	if off != len(b) {
		return Proof{}, malformed("%d trailing bytes", len(b)-off)
	}
	// The deepest sibling cannot be empty: its parent would then hold a
	// single leaf (or none) and be that leaf (or empty) itself.
	if d > 0 && p.Siblings[d-1] == Empty {
		return Proof{}, malformed("path continues below a subtree with at most one leaf")
	}
	return p, nil
}

// Verify checks, with nothing but the root, that key has value (value nil:
// that key is absent) in the tree with that root. It is what a light client
// runs on a proof from Prove.
func Verify(root Hash, key, value, proof []byte) error {
	p, err := DecodeProof(proof)
	if err != nil {
		return err
	}
	return p.Verify(root, key, value)
}

// Verify checks p as the package-level Verify does, for a decoded proof.
func (p Proof) Verify(root Hash, key, value []byte) error {
	k := sha256.Sum256(key)
	return p.VerifyHashed(root, k, value)
}

// VerifyHashed is Verify for a key already hashed with KeyHash.
func (p Proof) VerifyHashed(root Hash, k Hash, value []byte) error {
	d := len(p.Siblings)
	if d > MaxDepth {
		return malformed("depth %d", d)
	}
	if d > 0 && p.Siblings[d-1] == Empty {
		return malformed("path continues below a subtree with at most one leaf")
	}
	var h Hash // Empty
	switch {
	case value != nil:
		if p.Leaf == nil || p.Leaf.Key != k {
			return fmt.Errorf("%w: proves the key absent, not that value", ErrInvalidProof)
		}
		if p.Leaf.Value != sha256.Sum256(value) {
			return fmt.Errorf("%w: proves a different value", ErrInvalidProof)
		}
		h = LeafHash(k, p.Leaf.Value)
	case p.Leaf != nil:
		if p.Leaf.Key == k {
			return fmt.Errorf("%w: proves the key present", ErrInvalidProof)
		}
		// The other leaf must sit on the key's path, or it says nothing
		// about where the key would be.
		if commonPrefix(&p.Leaf.Key, &k) < d {
			return fmt.Errorf("%w: leaf is not on the key's path", ErrInvalidProof)
		}
		h = LeafHash(p.Leaf.Key, p.Leaf.Value)
	}
	for i := d - 1; i >= 0; i-- {
		if bit(&k, i) == 0 {
			h = InnerHash(h, p.Siblings[i])
		} else {
			h = InnerHash(p.Siblings[i], h)
		}
	}
	if h != root {
		return fmt.Errorf("%w: does not match the root", ErrInvalidProof)
	}
	return nil
}
