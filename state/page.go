package state

import (
	"encoding/binary"
	"fmt"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/storage"
)

// The tree on disk is cut into pages: a page at nibble depth D holds the
// binary subtree between bit depths 4D and 4D+4 of one path prefix, that
// is 16 child slots, each empty, a leaf (key hash, value hash) or a
// reference to the page below (its version and hash). A page exists only
// for a subtree of two or more leaves; a subtree of one leaf is that leaf,
// held in its parent's slot (the shortcut of package app/merkle, at the
// granularity of a nibble). Inside a page the binary hashes are recomputed
// from the 16 slots with the same rules as app/merkle (a range holding one
// leaf hashes as that leaf), so the root is exactly app/merkle's.
//
// Pages are versioned (Jellyfish-style): a commit never rewrites a page,
// it writes a new one under (prefix, new version) and records the old one
// as stale since that version, which is what lets pruning find it.

// Kinds of a slot, and of a tree's root.
const (
	kindEmpty uint8 = 0
	kindLeaf  uint8 = 1
	kindPage  uint8 = 2
)

// child is a slot of a page (or the root of a version): empty; a leaf with
// a = key hash, b = value hash and the version of its value record (so a
// commit knows which record it supersedes without a lookup); or a page
// with its version and b = hash.
type child struct {
	kind    uint8
	version uint64
	a, b    merkle.Hash
}

func (c *child) hash() merkle.Hash {
	switch c.kind {
	case kindLeaf:
		return merkle.LeafHash(c.a, c.b)
	case kindPage:
		return c.b
	}
	return merkle.Empty
}

// Shapes of a binary range inside a page.
const (
	shapeEmpty uint8 = iota
	shapeLeaf        // exactly one leaf: hashes as that leaf
	shapeMany        // two or more leaves
)

// page is a decoded page with the hashes of its binary subtree: node i of
// a heap (1 = the page's root, 2i and 2i+1 its children, 16+s = slot s).
// Pages are immutable once built, so they are shared by readers without
// locks.
type page struct {
	slots    [16]child
	hashes   [32]merkle.Hash
	shapes   [32]uint8
	leafSlot [32]int8 // the slot of the single leaf when shapes[i] == shapeLeaf
}

// pageBytes estimates a cached page's memory, for the cache budget.
const pageBytes = 16*80 + 32*32 + 32 + 32 + 64

func newPage(slots *[16]child) *page {
	p := &page{slots: *slots}
	for s := 0; s < 16; s++ {
		i := 16 + s
		c := &p.slots[s]
		p.hashes[i] = c.hash()
		p.leafSlot[i] = int8(s)
		switch c.kind {
		case kindLeaf:
			p.shapes[i] = shapeLeaf
		case kindPage:
			p.shapes[i] = shapeMany
		}
	}
	for i := 15; i >= 1; i-- {
		l, r := 2*i, 2*i+1
		switch {
		case p.shapes[l] == shapeEmpty && p.shapes[r] == shapeEmpty:
		case p.shapes[l] == shapeEmpty && p.shapes[r] == shapeLeaf:
			p.shapes[i], p.hashes[i], p.leafSlot[i] = shapeLeaf, p.hashes[r], p.leafSlot[r]
		case p.shapes[r] == shapeEmpty && p.shapes[l] == shapeLeaf:
			p.shapes[i], p.hashes[i], p.leafSlot[i] = shapeLeaf, p.hashes[l], p.leafSlot[l]
		default:
			p.shapes[i] = shapeMany
			p.hashes[i] = merkle.InnerHash(p.hashes[l], p.hashes[r])
		}
	}
	return p
}

// encodeChild appends c: u8 kind, then version, key hash and value hash
// (leaf) or version and hash (page).
func encodeChild(out []byte, c *child) []byte {
	out = append(out, c.kind)
	switch c.kind {
	case kindLeaf:
		out = binary.BigEndian.AppendUint64(out, c.version)
		out = append(out, c.a[:]...)
		out = append(out, c.b[:]...)
	case kindPage:
		out = binary.BigEndian.AppendUint64(out, c.version)
		out = append(out, c.b[:]...)
	}
	return out
}

// decodeChild decodes one child from b and returns the rest.
func decodeChild(b []byte) (child, []byte, error) {
	var c child
	if len(b) < 1 {
		return c, nil, fmt.Errorf("truncated slot")
	}
	c.kind, b = b[0], b[1:]
	switch c.kind {
	case kindEmpty:
	case kindLeaf:
		if len(b) < 72 {
			return c, nil, fmt.Errorf("truncated leaf")
		}
		c.version = binary.BigEndian.Uint64(b[:8])
		copy(c.a[:], b[8:40])
		copy(c.b[:], b[40:72])
		b = b[72:]
	case kindPage:
		if len(b) < 40 {
			return c, nil, fmt.Errorf("truncated page reference")
		}
		c.version = binary.BigEndian.Uint64(b[:8])
		copy(c.b[:], b[8:40])
		b = b[40:]
	default:
		return c, nil, fmt.Errorf("slot kind %d", c.kind)
	}
	return c, b, nil
}

// encode is a page's stored form: the 16 slots in order. Its hash is not
// stored: the parent holds it, and decode recomputes it.
func (p *page) encode() []byte {
	out := make([]byte, 0, 16*41+32)
	for s := range p.slots {
		out = encodeChild(out, &p.slots[s])
	}
	return out
}

func corrupt(what string, err error) error {
	return fmt.Errorf("%w: state %s: %w", storage.ErrCorrupt, what, err)
}

// decodePage decodes a stored page, refusing one that could not have been
// written (trailing bytes, fewer than two leaves below it).
func decodePage(b []byte) (*page, error) {
	var slots [16]child
	for s := range slots {
		c, rest, err := decodeChild(b)
		if err != nil {
			return nil, err
		}
		slots[s], b = c, rest
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(b))
	}
	p := newPage(&slots)
	if p.shapes[1] != shapeMany {
		return nil, fmt.Errorf("page with fewer than two leaves")
	}
	return p, nil
}

// nibble returns nibble d (0 = high nibble of byte 0) of h.
func nibble(h *merkle.Hash, d int) int {
	if d&1 == 0 {
		return int(h[d>>1] >> 4)
	}
	return int(h[d>>1] & 0xf)
}

// withNibble returns prefix with nibble d set to v.
func withNibble(prefix merkle.Hash, d, v int) merkle.Hash {
	if d&1 == 0 {
		prefix[d>>1] = prefix[d>>1]&0x0f | byte(v)<<4
	} else {
		prefix[d>>1] = prefix[d>>1]&0xf0 | byte(v)
	}
	return prefix
}

// bit and commonPrefix are the path arithmetic of the commitment
// (app/merkle's).
func bit(h *merkle.Hash, i int) int { return merkle.Bit(h, i) }

func commonPrefix(a, b *merkle.Hash) int { return merkle.CommonPrefix(a, b) }
