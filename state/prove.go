package state

import (
	"fmt"

	"github.com/floe-bft/floe/app/merkle"
)

// node is the binary tree of app/merkle seen through the pages: an empty
// subtree, a leaf, or an inner node (node idx of a page's heap, two or
// more leaves below). An inner node at a slot (idx ≥ 16) is a page
// reference not loaded yet; children loads it.
type node struct {
	kind   uint8 // kindEmpty, kindLeaf, kindPage (= inner)
	leaf   child
	pg     *page
	depth  int // the page's nibble depth
	idx    int
	prefix merkle.Hash // the page's first depth nibbles (and, for a slot, its nibble)
}

func rootNode(s *Store, c child) (node, error) {
	switch c.kind {
	case kindEmpty:
		return node{}, nil
	case kindLeaf:
		return node{kind: kindLeaf, leaf: c}, nil
	}
	var zero merkle.Hash
	p, _, err := s.loadPage(0, &zero, c.version)
	if err != nil {
		return node{}, err
	}
	return node{kind: kindPage, pg: p, idx: 1}, nil
}

func (n *node) hash() merkle.Hash {
	switch n.kind {
	case kindLeaf:
		return n.leaf.hash()
	case kindPage:
		return n.pg.hashes[n.idx]
	}
	return merkle.Empty
}

// at is heap node i of n's page, as a node.
func (n *node) at(i int) node {
	switch n.pg.shapes[i] {
	case shapeEmpty:
		return node{}
	case shapeLeaf:
		return node{kind: kindLeaf, leaf: n.pg.slots[n.pg.leafSlot[i]]}
	}
	c := node{kind: kindPage, pg: n.pg, depth: n.depth, idx: i, prefix: n.prefix}
	if i >= 16 {
		c.prefix = withNibble(n.prefix, n.depth, i-16)
	}
	return c
}

// children returns the two children of an inner node.
func (n *node) children(s *Store) (node, node, error) {
	if n.idx >= 16 {
		ref := n.pg.slots[n.idx-16]
		p, _, err := s.loadPage(n.depth+1, &n.prefix, ref.version)
		if err != nil {
			return node{}, node{}, err
		}
		c := node{kind: kindPage, pg: p, depth: n.depth + 1, idx: 1, prefix: n.prefix}
		return c.at(2), c.at(3), nil
	}
	return n.at(2 * n.idx), n.at(2*n.idx + 1), nil
}

// Prove returns the value of id at version (nil if absent) and its proof,
// which merkle.Verify(root, id.Encode(), value, proof.Encode()) accepts.
func (s *Store) Prove(version uint64, id RegisterID) ([]byte, merkle.Proof, error) {
	if err := id.Check(); err != nil {
		return nil, merkle.Proof{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rc, err := s.rootOf(version)
	if err != nil {
		return nil, merkle.Proof{}, err
	}
	n, err := rootNode(s, rc)
	if err != nil {
		return nil, merkle.Proof{}, err
	}
	k := id.Path()
	var p merkle.Proof
	for depth := 0; n.kind == kindPage; depth++ {
		if depth >= merkle.MaxDepth {
			return nil, merkle.Proof{}, corrupt("tree", fmt.Errorf("path deeper than %d", merkle.MaxDepth))
		}
		l, r, err := n.children(s)
		if err != nil {
			return nil, merkle.Proof{}, err
		}
		if bit(&k, depth) == 0 {
			p.Siblings = append(p.Siblings, r.hash())
			n = l
		} else {
			p.Siblings = append(p.Siblings, l.hash())
			n = r
		}
	}
	if n.kind != kindLeaf {
		return nil, p, nil
	}
	p.Leaf = &merkle.Leaf{Key: n.leaf.a, Value: n.leaf.b}
	if n.leaf.a != k {
		return nil, p, nil
	}
	rr, err := s.newRecordReader()
	if err != nil {
		return nil, merkle.Proof{}, err
	}
	defer rr.close()
	rec, err := rr.at(&k, version)
	if err != nil {
		return nil, merkle.Proof{}, err
	}
	if rec.value == nil || merkle.ValueHash(rec.value) != n.leaf.b || rec.id != id {
		return nil, merkle.Proof{}, corrupt("value record", fmt.Errorf("%v at version %d does not match its leaf", id, version))
	}
	return rec.value, p, nil
}
