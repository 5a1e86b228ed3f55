package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/floe-bft/floe/app/merkle"
)

// Errors of batch proofs. Malformed or non-matching proofs wrap
// merkle.ErrInvalidProof.
var (
	// ErrNotCovered: a register the proof says nothing about (neither its
	// value nor its absence).
	ErrNotCovered = errors.New("register not covered by the batch proof")
	// ErrIncompleteProof: applying the writes needs a part of the tree the
	// proof did not open. A proof from ProveBatch never causes it.
	ErrIncompleteProof = errors.New("batch proof does not open enough of the tree")
	// ErrNotVerified: the proof is read or applied before VerifyBatch.
	ErrNotVerified = errors.New("batch proof not verified")
	// ErrBatchTooLarge: the proof of the requested registers would exceed
	// MaxBatchProofSize, so no verifier would decode it; ask for fewer.
	ErrBatchTooLarge = errors.New("batch proof too large")
)

// MaxBatchProofSize bounds an encoded batch proof.
const MaxBatchProofSize = 64 << 20

// Kinds of a batch proof's nodes.
const (
	pEmpty    = 0 // an empty subtree
	pOpaque   = 1 // an unopened subtree of two or more leaves: its hash
	pHalves   = 2 // an unopened inner node given by its children's hashes
	pForeign  = 3 // the leaf of a register the proof does not cover
	pRegister = 4 // the leaf of a covered register: its ID and value
	pInner    = 5 // an opened inner node: two nodes follow
)

// pnode is a node of the partial tree a batch proof carries.
type pnode struct {
	kind        uint8
	hash        merkle.Hash
	l, r        merkle.Hash // pHalves
	key, vh     merkle.Hash // leaves: key hash and value hash
	id          RegisterID  // pRegister
	value       []byte      // pRegister
	left, right *pnode      // pInner
}

// BatchProof proves the values (or absence) of many registers at once: the
// union of their paths from the root, each sibling hash once, with the
// registers' IDs and values, so that it alone is enough to re-execute what
// read them (Get) and to compute the root after writing them (Apply).
//
// Sibling subtrees that are single leaves are given as leaves (key and
// value hash), and an unopened subtree beside a part that writes could
// empty is given by its two halves: that is what lets Apply decide,
// without trusting the prover, whether a deletion moves a leaf up.
type BatchProof struct {
	tree   *pnode
	absent []RegisterID

	verified bool
	covered  map[RegisterID][]byte // after VerifyBatch: value, nil = absent
}

// ProveBatch returns a batch proof of ids (any order, duplicates allowed)
// at version.
func (s *Store) ProveBatch(version uint64, ids []RegisterID) (*BatchProof, error) {
	keys := make([]pkey, 0, len(ids))
	for i := range ids {
		if err := ids[i].Check(); err != nil {
			return nil, err
		}
		keys = append(keys, pkey{ids[i].Path(), ids[i]})
	}
	slices.SortFunc(keys, func(a, b pkey) int { return bytes.Compare(a.path[:], b.path[:]) })
	keys = slices.CompactFunc(keys, func(a, b pkey) bool { return a.path == b.path })

	s.mu.RLock()
	defer s.mu.RUnlock()
	rc, err := s.rootOf(version)
	if err != nil {
		return nil, err
	}
	n, err := rootNode(s, rc)
	if err != nil {
		return nil, err
	}
	rr, err := s.newRecordReader()
	if err != nil {
		return nil, err
	}
	defer rr.close()
	b := &batchBuilder{s: s, rr: rr, version: version}
	tree, _, err := b.build(n, 0, keys)
	if err != nil {
		return nil, err
	}
	p := &BatchProof{tree: tree, absent: b.absent}
	if size := p.size(); size > MaxBatchProofSize {
		return nil, fmt.Errorf("%w: %d registers make %d bytes, at most %d", ErrBatchTooLarge, len(keys), size, MaxBatchProofSize)
	}
	return p, nil
}

// size is len(p.Encode()), without encoding.
func (p *BatchProof) size() int {
	n := 4
	for _, id := range p.absent {
		n += 2 + len(id.Encode())
	}
	var walk func(*pnode)
	walk = func(x *pnode) {
		n++
		switch x.kind {
		case pOpaque:
			n += 32
		case pHalves, pForeign:
			n += 64
		case pRegister:
			n += 2 + len(x.id.Encode()) + 4 + len(x.value)
		case pInner:
			walk(x.left)
			walk(x.right)
		}
	}
	walk(p.tree)
	return n
}

type pkey struct {
	path merkle.Hash
	id   RegisterID
}

type batchBuilder struct {
	s       *Store
	rr      *recordReader
	version uint64
	absent  []RegisterID
}

// build opens n along keys (sorted, non-empty paths below n). It also
// reports whether writes could empty the result (it holds only covered
// leaves and empty subtrees).
func (b *batchBuilder) build(n node, depth int, keys []pkey) (*pnode, bool, error) {
	switch n.kind {
	case kindEmpty:
		for _, k := range keys {
			b.absent = append(b.absent, k.id)
		}
		return &pnode{kind: pEmpty}, true, nil
	case kindLeaf:
		var out *pnode
		for _, k := range keys {
			if k.path != n.leaf.a {
				b.absent = append(b.absent, k.id)
				continue
			}
			rec, err := b.rr.at(&k.path, b.version)
			if err != nil {
				return nil, false, err
			}
			if rec.value == nil || rec.id != k.id || merkle.ValueHash(rec.value) != n.leaf.b {
				return nil, false, corrupt("value record", fmt.Errorf("%v at version %d does not match its leaf", k.id, b.version))
			}
			out = &pnode{kind: pRegister, key: n.leaf.a, vh: n.leaf.b, id: k.id, value: rec.value, hash: n.hash()}
		}
		if out == nil {
			return &pnode{kind: pForeign, key: n.leaf.a, vh: n.leaf.b, hash: n.hash()}, false, nil
		}
		return out, true, nil
	}
	if depth >= merkle.MaxDepth {
		return nil, false, corrupt("tree", fmt.Errorf("path deeper than %d", merkle.MaxDepth))
	}
	l, r, err := n.children(b.s)
	if err != nil {
		return nil, false, err
	}
	split, _ := slices.BinarySearchFunc(keys, 1, func(k pkey, _ int) int { return bit(&k.path, depth) - 1 })
	sides := [2]node{l, r}
	parts := [2][]pkey{keys[:split], keys[split:]}
	var out [2]*pnode
	var deletable [2]bool
	for i := range sides {
		if len(parts[i]) > 0 {
			if out[i], deletable[i], err = b.build(sides[i], depth+1, parts[i]); err != nil {
				return nil, false, err
			}
			continue
		}
		switch sides[i].kind {
		case kindEmpty:
			out[i], deletable[i] = &pnode{kind: pEmpty}, true
		case kindLeaf:
			out[i] = &pnode{kind: pForeign, key: sides[i].leaf.a, vh: sides[i].leaf.b, hash: sides[i].hash()}
		default:
			out[i] = &pnode{kind: pOpaque, hash: sides[i].hash()}
		}
	}
	// An unopened subtree beside one that writes could empty must show it
	// is inner (its halves), or Apply could not tell it from a leaf,
	// which would move up instead.
	for i := range out {
		o := out[1-i]
		if out[i].kind == pOpaque && deletable[1-i] && o.kind != pEmpty {
			hl, hr, err := sides[i].children(b.s)
			if err != nil {
				return nil, false, err
			}
			out[i] = &pnode{kind: pHalves, l: hl.hash(), r: hr.hash(), hash: out[i].hash}
		}
	}
	return &pnode{kind: pInner, left: out[0], right: out[1], hash: n.hash()}, deletable[0] && deletable[1], nil
}

// Encode returns the proof's canonical encoding:
//
//	u32 count of absent registers, each: u16 length, RegisterID.Encode()
//	the tree in pre-order, each node a u8 kind and:
//	  0 empty: nothing        1 opaque: hash (32)   2 halves: two hashes (64)
//	  3 foreign leaf: key hash, value hash (64)
//	  4 register: u16 length, RegisterID.Encode(), u32 length, value
//	  5 inner: left node, right node
func (p *BatchProof) Encode() []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(p.absent)))
	for _, id := range p.absent {
		enc := id.Encode()
		out = binary.BigEndian.AppendUint16(out, uint16(len(enc)))
		out = append(out, enc...)
	}
	return encodePNode(out, p.tree)
}

func encodePNode(out []byte, n *pnode) []byte {
	out = append(out, n.kind)
	switch n.kind {
	case pOpaque:
		out = append(out, n.hash[:]...)
	case pHalves:
		out = append(out, n.l[:]...)
		out = append(out, n.r[:]...)
	case pForeign:
		out = append(out, n.key[:]...)
		out = append(out, n.vh[:]...)
	case pRegister:
		enc := n.id.Encode()
		out = binary.BigEndian.AppendUint16(out, uint16(len(enc)))
		out = append(out, enc...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(n.value)))
		out = append(out, n.value...)
	case pInner:
		out = encodePNode(out, n.left)
		out = encodePNode(out, n.right)
	}
	return out
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: batch: %s", merkle.ErrInvalidProof, fmt.Sprintf(format, args...))
}

// DecodeBatchProof decodes Encode's output, refusing anything a proof from
// ProveBatch cannot be: oversized input, trailing bytes, leaves off their
// paths, trees deeper than 256, non-canonical inner nodes (those that
// would have collapsed into a leaf), duplicate or covered absent
// registers. It never panics and allocates at most in proportion to the
// input. Errors wrap merkle.ErrInvalidProof.
func DecodeBatchProof(b []byte) (*BatchProof, error) {
	if len(b) > MaxBatchProofSize {
		return nil, invalid("%d bytes, more than %d", len(b), MaxBatchProofSize)
	}
	d := &pdecoder{b: b}
	count := d.u32()
	if d.err == nil && uint64(count)*3 > uint64(len(b)) {
		return nil, invalid("%d absent registers in %d bytes", count, len(b))
	}
	p := &BatchProof{}
	for i := uint32(0); i < count && d.err == nil; i++ {
		id, err := DecodeRegisterID(d.bytes(int(d.u16())))
		if d.err == nil && err != nil {
			d.err = invalid("absent register %d: %v", i, err)
		}
		p.absent = append(p.absent, id)
	}
	var zero merkle.Hash
	if d.err == nil {
		p.tree = d.node(0, &zero)
	}
	if d.err == nil && d.off != len(b) {
		d.err = invalid("%d trailing bytes", len(b)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	seen := make(map[RegisterID]bool, len(p.absent))
	for _, id := range p.absent {
		if seen[id] {
			return nil, invalid("%v listed twice", id)
		}
		seen[id] = true
		path := id.Path()
		end, _ := walk(p.tree, &path)
		switch {
		case end.kind == pOpaque || end.kind == pHalves:
			return nil, invalid("absence of %v not proven: its path ends in an unopened subtree", id)
		case end.kind == pForeign && end.key == path, end.kind == pRegister && end.key == path:
			return nil, invalid("%v listed absent but present", id)
		}
	}
	return p, nil
}

// walk follows path down n to where it ends (a leaf, an empty or unopened
// subtree) and returns that node and its depth.
func walk(n *pnode, path *merkle.Hash) (*pnode, int) {
	depth := 0
	for n.kind == pInner {
		if bit(path, depth) == 0 {
			n = n.left
		} else {
			n = n.right
		}
		depth++
	}
	return n, depth
}

type pdecoder struct {
	b   []byte
	off int
	err error
}

func (d *pdecoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.err = invalid("truncated at byte %d", d.off)
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *pdecoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *pdecoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *pdecoder) bytes(n int) []byte { return d.take(n) }

func (d *pdecoder) hash() (h merkle.Hash) {
	if v := d.take(32); v != nil {
		copy(h[:], v)
	}
	return h
}

// node decodes the node at depth whose position is prefix's first depth
// bits, and computes its hash.
func (d *pdecoder) node(depth int, prefix *merkle.Hash) *pnode {
	kind := d.take(1)
	if kind == nil {
		return nil
	}
	n := &pnode{kind: kind[0]}
	switch n.kind {
	case pEmpty:
	case pOpaque:
		n.hash = d.hash()
		if d.err == nil && n.hash == merkle.Empty {
			d.err = invalid("empty subtree given as a hash")
		}
	case pHalves:
		n.l, n.r = d.hash(), d.hash()
		n.hash = merkle.InnerHash(n.l, n.r)
	case pForeign:
		n.key, n.vh = d.hash(), d.hash()
		n.hash = merkle.LeafHash(n.key, n.vh)
	case pRegister:
		idBytes := d.bytes(int(d.u16()))
		value := d.bytes(int(d.u32()))
		if d.err != nil {
			return nil
		}
		id, err := DecodeRegisterID(idBytes)
		if err == nil {
			err = CheckValue(value)
		}
		if err != nil {
			d.err = invalid("register leaf: %v", err)
			return nil
		}
		n.id, n.value = id, bytes.Clone(value)
		n.key, n.vh = id.Path(), merkle.ValueHash(value)
		n.hash = merkle.LeafHash(n.key, n.vh)
	case pInner:
		if depth >= merkle.MaxDepth {
			d.err = invalid("deeper than %d", merkle.MaxDepth)
			return nil
		}
		n.left = d.node(depth+1, prefix)
		if d.err != nil {
			return nil
		}
		right := *prefix
		right[depth>>3] |= 0x80 >> uint(depth&7)
		n.right = d.node(depth+1, &right)
		if d.err != nil {
			return nil
		}
		if collapses(n.left, n.right) {
			d.err = invalid("inner node at depth %d holds at most one leaf", depth)
			return nil
		}
		n.hash = merkle.InnerHash(n.left.hash, n.right.hash)
	default:
		d.err = invalid("node kind %d", n.kind)
	}
	if d.err != nil {
		return nil
	}
	if (n.kind == pForeign || n.kind == pRegister) && commonPrefix(&n.key, prefix) < depth {
		d.err = invalid("leaf off its path at depth %d", depth)
		return nil
	}
	return n
}

func isLeaf(n *pnode) bool { return n.kind == pForeign || n.kind == pRegister }

// collapses reports whether an inner node with these children would not
// exist in the tree: it holds no leaf or a single one.
func collapses(l, r *pnode) bool {
	return l.kind == pEmpty && (r.kind == pEmpty || isLeaf(r)) || r.kind == pEmpty && isLeaf(l)
}

// VerifyBatch checks p against root and returns every register it covers,
// sorted by path: its value, or nil for a register proven absent. After
// it, p serves Get and Apply (concurrently, as they only read it);
// VerifyBatch itself must not run concurrently with other uses of p.
func VerifyBatch(root merkle.Hash, p *BatchProof) ([]Write, error) {
	if p == nil || p.tree == nil {
		return nil, invalid("empty")
	}
	if p.tree.hash != root {
		return nil, fmt.Errorf("%w: batch proof does not match the root", merkle.ErrInvalidProof)
	}
	covered := make(map[RegisterID][]byte, len(p.absent))
	var out []Write
	var collect func(n *pnode)
	collect = func(n *pnode) {
		switch n.kind {
		case pRegister:
			out = append(out, Write{ID: n.id, Value: n.value})
		case pInner:
			collect(n.left)
			collect(n.right)
		}
	}
	collect(p.tree)
	for _, w := range out {
		covered[w.ID] = w.Value
	}
	for _, id := range p.absent {
		covered[id] = nil
		out = append(out, Write{ID: id})
	}
	slices.SortFunc(out, func(a, b Write) int {
		pa, pb := a.ID.Path(), b.ID.Path()
		return bytes.Compare(pa[:], pb[:])
	})
	p.covered, p.verified = covered, true
	return out, nil
}

// Get returns a covered register's value (nil if proven absent), so that
// a verified proof is the Reader of a re-execution; ErrNotCovered for any
// other register.
func (p *BatchProof) Get(id RegisterID) ([]byte, error) {
	if !p.verified {
		return nil, ErrNotVerified
	}
	v, ok := p.covered[id]
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrNotCovered, id)
	}
	return v, nil
}

var _ Reader = (*BatchProof)(nil)

// Apply computes the root after writes (same rules as Store.Commit) from
// the verified proof alone. Every written register must be covered
// (ErrNotCovered otherwise). The proof itself is not changed.
func (p *BatchProof) Apply(writes []Write) (merkle.Hash, error) {
	if !p.verified {
		return merkle.Hash{}, ErrNotVerified
	}
	ops := make([]*pnode, 0, len(writes))
	for i := range writes {
		w := &writes[i]
		if err := w.ID.Check(); err != nil {
			return merkle.Hash{}, err
		}
		if err := CheckValue(w.Value); err != nil {
			return merkle.Hash{}, err
		}
		if _, ok := p.covered[w.ID]; !ok {
			return merkle.Hash{}, fmt.Errorf("%w: %v", ErrNotCovered, w.ID)
		}
		// A write is a leaf to put (pRegister) or to remove (pEmpty).
		o := &pnode{kind: pEmpty, key: w.ID.Path()}
		if w.Value != nil {
			o = &pnode{kind: pRegister, key: o.key, vh: merkle.ValueHash(w.Value), id: w.ID, value: w.Value}
			o.hash = merkle.LeafHash(o.key, o.vh)
		}
		ops = append(ops, o)
	}
	slices.SortStableFunc(ops, func(a, b *pnode) int { return bytes.Compare(a.key[:], b.key[:]) })
	dedup := ops[:0]
	for i := range ops {
		if i+1 < len(ops) && ops[i+1].key == ops[i].key {
			continue
		}
		dedup = append(dedup, ops[i])
	}
	if len(dedup) == 0 {
		return p.tree.hash, nil
	}
	n, err := applyP(p.tree, 0, dedup)
	if err != nil {
		return merkle.Hash{}, err
	}
	return n.hash, nil
}

// applyP applies ops (sorted, distinct, all below n) to n, copying what
// changes.
func applyP(n *pnode, depth int, ops []*pnode) (*pnode, error) {
	switch n.kind {
	case pEmpty:
		return buildP(depth, mergeLeaf(nil, ops)), nil
	case pForeign, pRegister:
		return buildP(depth, mergeLeaf(n, ops)), nil
	case pInner:
		split, _ := slices.BinarySearchFunc(ops, 1, func(o *pnode, _ int) int { return bit(&o.key, depth) - 1 })
		l, r := n.left, n.right
		var err error
		if split > 0 {
			if l, err = applyP(n.left, depth+1, ops[:split]); err != nil {
				return nil, err
			}
		}
		if split < len(ops) {
			if r, err = applyP(n.right, depth+1, ops[split:]); err != nil {
				return nil, err
			}
		}
		return joinP(l, r, n)
	}
	return nil, fmt.Errorf("%w: a write reaches an unopened subtree", ErrNotCovered)
}

// joinP is the node with children l and r (replacing orig's), following
// the shortcut rule: a lone leaf moves up, nothing is nothing.
func joinP(l, r, orig *pnode) (*pnode, error) {
	switch {
	case l.kind == pEmpty && r.kind == pEmpty:
		return &pnode{kind: pEmpty}, nil
	case l.kind == pEmpty && isLeaf(r):
		return r, nil
	case r.kind == pEmpty && isLeaf(l):
		return l, nil
	case l.kind == pEmpty && r.kind == pOpaque && orig.left.kind != pEmpty,
		r.kind == pEmpty && l.kind == pOpaque && orig.right.kind != pEmpty:
		// The other side was emptied: the unopened subtree moves up if it
		// is a single leaf, and the proof does not say whether it is.
		// (Beside a side that was empty already, it is inner: the tree
		// the root commits to has no inner node over a single leaf.)
		return nil, ErrIncompleteProof
	}
	return &pnode{kind: pInner, left: l, right: r, hash: merkle.InnerHash(l.hash, r.hash)}, nil
}

// mergeLeaf returns the leaves after ops on a subtree holding at most the
// leaf existing: sorted, puts kept, the existing leaf kept unless an op
// names its key.
func mergeLeaf(existing *pnode, ops []*pnode) []*pnode {
	out := make([]*pnode, 0, len(ops)+1)
	placed := existing == nil
	for _, o := range ops {
		if !placed {
			if c := bytes.Compare(existing.key[:], o.key[:]); c < 0 {
				out = append(out, existing)
				placed = true
			} else if c == 0 {
				placed = true
			}
		}
		if o.kind != pEmpty {
			out = append(out, o)
		}
	}
	if !placed {
		out = append(out, existing)
	}
	return out
}

// buildP makes the subtree at depth holding exactly leaves (sorted).
func buildP(depth int, leaves []*pnode) *pnode {
	switch len(leaves) {
	case 0:
		return &pnode{kind: pEmpty}
	case 1:
		return leaves[0]
	}
	d := commonPrefix(&leaves[0].key, &leaves[len(leaves)-1].key)
	split, _ := slices.BinarySearchFunc(leaves, 1, func(o *pnode, _ int) int { return bit(&o.key, d) - 1 })
	l, r := buildP(d+1, leaves[:split]), buildP(d+1, leaves[split:])
	n := &pnode{kind: pInner, left: l, right: r, hash: merkle.InnerHash(l.hash, r.hash)}
	empty := &pnode{kind: pEmpty}
	for i := d - 1; i >= depth; i-- {
		if bit(&leaves[0].key, i) == 0 {
			n = &pnode{kind: pInner, left: n, right: empty, hash: merkle.InnerHash(n.hash, merkle.Empty)}
		} else {
			n = &pnode{kind: pInner, left: empty, right: n, hash: merkle.InnerHash(merkle.Empty, n.hash)}
		}
	}
	return n
}
