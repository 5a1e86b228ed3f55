// Package merkle is floe's authenticated state commitment: a sparse Merkle
// tree over 256-bit key hashes with shortcut leaves, as used by Diem/Aptos.
//
// # Definition
//
// Every key hash k selects a path of 256 bits (most significant bit of byte
// 0 first; 0 = left). The hash of a subtree at depth d is
//
//   - Empty (32 zero bytes) if it holds no leaf,
//   - LeafHash(k, v) = SHA-256(0x00 || k || v) if it holds exactly one leaf,
//     whatever its depth (the "shortcut": a single leaf is not pushed down
//     to depth 256, so paths are about log2(n) long, not 256),
//   - SHA-256(0x01 || left || right) if it holds two or more leaves, where
//     left and right are the hashes of its two child subtrees at depth d+1
//     (one of them may be Empty when every leaf shares the next bit).
//
// The 0x00/0x01 prefixes separate leaf from inner hashes, so a leaf can never
// be passed off as an inner node or the reverse. The root is the hash of the
// subtree at depth 0, so it depends only on the set of (key hash, value
// hash) pairs, never on insertion order or history.
//
// # Costs
//
// A random set of n keys makes ≈ n leaves and ≈ 1.44·n inner nodes (a
// random binary trie). Leaves take 64 bytes (key and value hash; their hash
// is recomputed when needed, which is rare, rather than stored) and inner
// nodes 40 bytes (hash and two 32-bit child references), held in paged
// arrays that the garbage collector never scans: ≈ 122 bytes per key.
//
// Update of a batch of k keys is O(k·log n) node visits, but every node on
// the union of the k paths is hashed once, so the shared top ≈ log2(k)
// levels cost O(k) hashes in total instead of O(k·log k). Get and Prove are
// O(log n); Verify is O(proof depth) ≈ log2(n) hashes.
package merkle

import (
	"bytes"
	"crypto/sha256"
	"slices"
)

// Hash is a SHA-256 digest: key hashes, value hashes and node hashes.
type Hash = [32]byte

// Empty is the hash of a subtree without leaves (and the root of an empty
// tree). It is all zeros rather than a hash output so that proofs can
// encode empty siblings as a bit.
var Empty Hash

const (
	leafPrefix  = 0x00
	innerPrefix = 0x01
)

// KeyHash is the path of key in the tree. Keys are hashed so that paths are
// uniformly distributed (the tree stays balanced whatever keys clients pick).
func KeyHash(key []byte) Hash { return sha256.Sum256(key) }

// ValueHash is what a leaf commits to for value.
func ValueHash(value []byte) Hash { return sha256.Sum256(value) }

// LeafHash is the hash of a subtree holding exactly the leaf (key, value),
// both given as hashes.
func LeafHash(key, value Hash) Hash {
	var buf [65]byte
	buf[0] = leafPrefix
	copy(buf[1:33], key[:])
	copy(buf[33:], value[:])
	return sha256.Sum256(buf[:])
}

// InnerHash is the hash of a subtree of two or more leaves from its
// children's hashes.
func InnerHash(left, right Hash) Hash {
	var buf [65]byte
	buf[0] = innerPrefix
	copy(buf[1:33], left[:])
	copy(buf[33:], right[:])
	return sha256.Sum256(buf[:])
}

// bit returns bit i of h (0 = most significant bit of h[0]).
func bit(h *Hash, i int) int { return Bit(h, i) }

// Bit returns bit i of h (0 = most significant bit of h[0]): which child a
// path takes at depth i.
func Bit(h *Hash, i int) int { return int(h[i>>3]>>(7-uint(i&7))) & 1 }

// commonPrefix is CommonPrefix.
func commonPrefix(a, b *Hash) int { return CommonPrefix(a, b) }

// CommonPrefix is the number of leading bits a and b share (256 if equal):
// the depth at which their paths part.
func CommonPrefix(a, b *Hash) int {
	for i := 0; i < 32; i++ {
		if x := a[i] ^ b[i]; x != 0 {
			n := i * 8
			for x&0x80 == 0 {
				x <<= 1
				n++
			}
			return n
		}
	}
	return 256
}

// ref names a node: 0 is the empty subtree, refs with leafFlag set index the
// leaf arena, others index the inner arena (whose slot 0 is never used).
// 32-bit references instead of pointers halve the size of inner nodes and
// keep the arenas pointer-free, so the garbage collector skips them.
type ref uint32

const leafFlag ref = 1 << 31

type inner struct {
	hash  Hash
	child [2]ref
}

type leaf struct {
	key, value Hash
}

// Tree is an in-memory sparse Merkle tree. It is not safe for concurrent
// use; the caller serializes access (the kvstore holds a lock).
type Tree struct {
	root     ref
	rootHash Hash
	inners   arena[inner]
	leaves   arena[leaf]
	scratch  []Op // reused by Update for leaf merges; never escapes
}

// New returns an empty tree.
func New() *Tree {
	t := &Tree{}
	t.inners.alloc() // slot 0 stays unused: ref 0 means empty
	return t
}

// Root is the hash of the whole tree (Empty for no leaves).
func (t *Tree) Root() Hash { return t.rootHash }

// Len is the number of leaves.
func (t *Tree) Len() int { return t.leaves.live() }

// InnerNodes is the number of inner nodes, for memory accounting.
func (t *Tree) InnerNodes() int { return t.inners.live() - 1 }

// Get returns the value hash stored for key hash k.
func (t *Tree) Get(k Hash) (Hash, bool) {
	r := t.root
	for depth := 0; r != 0; depth++ {
		if r&leafFlag != 0 {
			l := t.leaves.at(uint32(r &^ leafFlag))
			if l.key == k {
				return l.value, true
			}
			return Hash{}, false
		}
		r = t.inners.at(uint32(r)).child[bit(&k, depth)]
	}
	return Hash{}, false
}

// Op is one change in an Update batch: set Key to Value, or delete Key.
// Key and Value are hashes (KeyHash, ValueHash).
type Op struct {
	Key    Hash
	Value  Hash // ignored when Delete
	Delete bool // deleting an absent key is a no-op
}

func cmpOp(a, b Op) int { return bytes.Compare(a.Key[:], b.Key[:]) }

// Update applies ops as if one after another (a later op on the same key
// overrides an earlier one) and returns the new root. Nodes on the union of
// the changed paths are rehashed once per batch, which is why callers should
// batch a whole block into one Update.
//
// Update sorts ops in place (stably, by key); a batch that is already sorted
// with distinct keys, as the kvstore passes it, is only checked.
func (t *Tree) Update(ops []Op) Hash {
	if len(ops) == 0 {
		return t.rootHash
	}
	if !strictlySorted(ops) {
		slices.SortStableFunc(ops, cmpOp)
		// Keep the last op of every run of equal keys.
		out := ops[:0]
		for i := range ops {
			if i+1 < len(ops) && ops[i+1].Key == ops[i].Key {
				continue
			}
			out = append(out, ops[i])
		}
		ops = out
	}
	t.root, t.rootHash = t.update(t.root, 0, ops)
	return t.rootHash
}

func strictlySorted(ops []Op) bool {
	for i := 1; i < len(ops); i++ {
		if bytes.Compare(ops[i-1].Key[:], ops[i].Key[:]) >= 0 {
			return false
		}
	}
	return true
}

// hashOf returns the hash of the subtree r.
func (t *Tree) hashOf(r ref) Hash {
	switch {
	case r == 0:
		return Empty
	case r&leafFlag != 0:
		l := t.leaves.at(uint32(r &^ leafFlag))
		return LeafHash(l.key, l.value)
	default:
		return t.inners.at(uint32(r)).hash
	}
}

// split returns the index of the first op whose key has bit depth set; ops
// are sorted and share their first depth bits, so that is a partition point.
func split(ops []Op, depth int) int {
	lo, hi := 0, len(ops)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bit(&ops[m].Key, depth) == 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// update applies ops (sorted, distinct, non-empty, all inside the subtree)
// to the subtree r at depth and returns the new subtree and its hash.
func (t *Tree) update(r ref, depth int, ops []Op) (ref, Hash) {
	switch {
	case r == 0:
		sets := t.scratch[:0]
		for _, op := range ops {
			if !op.Delete {
				sets = append(sets, op)
			}
		}
		t.scratch = sets
		if len(sets) == 0 {
			return 0, Empty
		}
		return t.build(depth, sets)

	case r&leafFlag != 0:
		idx := uint32(r &^ leafFlag)
		l := t.leaves.at(idx)
		if len(ops) == 1 { // the common case, without the merge below
			op := &ops[0]
			switch {
			case op.Key == l.key && op.Delete:
				t.leaves.free(idx)
				return 0, Empty
			case op.Key == l.key:
				l.value = op.Value
				return r, LeafHash(l.key, l.value)
			case op.Delete:
				return r, LeafHash(l.key, l.value)
			}
		}
		// Merge the existing leaf into the sorted sets, unless an op
		// overrides it, and build the subtree afresh.
		old := Op{Key: l.key, Value: l.value}
		t.leaves.free(idx)
		sets := t.scratch[:0]
		placed := false
		for _, op := range ops {
			if !placed {
				if c := bytes.Compare(old.Key[:], op.Key[:]); c < 0 {
					sets = append(sets, old)
					placed = true
				} else if c == 0 {
					placed = true // overridden by op
				}
			}
			if !op.Delete {
				sets = append(sets, op)
			}
		}
		if !placed {
			sets = append(sets, old)
		}
		t.scratch = sets
		if len(sets) == 0 {
			return 0, Empty
		}
		return t.build(depth, sets)

	default:
		n := t.inners.at(uint32(r))
		s := split(ops, depth)
		c := n.child
		var h [2]Hash
		if s > 0 {
			c[0], h[0] = t.update(c[0], depth+1, ops[:s])
		} else {
			h[0] = t.hashOf(c[0])
		}
		if s < len(ops) {
			c[1], h[1] = t.update(c[1], depth+1, ops[s:])
		} else {
			h[1] = t.hashOf(c[1])
		}
		// n stays valid across the recursion: arena pages never move.
		switch {
		case c[0] == 0 && c[1] == 0:
			t.inners.free(uint32(r))
			return 0, Empty
		case c[0] == 0 && c[1]&leafFlag != 0:
			t.inners.free(uint32(r))
			return c[1], h[1] // a lone leaf moves up: shortcut
		case c[1] == 0 && c[0]&leafFlag != 0:
			t.inners.free(uint32(r))
			return c[0], h[0]
		}
		n.child = c
		n.hash = InnerHash(h[0], h[1])
		return r, n.hash
	}
}

// build makes a fresh subtree at depth from sets (sorted, distinct,
// non-empty, no deletes).
func (t *Tree) build(depth int, sets []Op) (ref, Hash) {
	if len(sets) == 1 {
		idx := t.leaves.alloc()
		l := t.leaves.at(idx)
		l.key, l.value = sets[0].Key, sets[0].Value
		return ref(idx) | leafFlag, LeafHash(l.key, l.value)
	}
	// All keys share the prefix of the first and the last: the subtree
	// branches at depth d ≥ depth, above which is a chain of inner nodes
	// with one empty child.
	d := commonPrefix(&sets[0].Key, &sets[len(sets)-1].Key)
	s := split(sets, d)
	lr, lh := t.build(d+1, sets[:s])
	rr, rh := t.build(d+1, sets[s:])
	r, h := t.newInner(lr, rr, InnerHash(lh, rh))
	for i := d - 1; i >= depth; i-- {
		if bit(&sets[0].Key, i) == 0 {
			r, h = t.newInner(r, 0, InnerHash(h, Empty))
		} else {
			r, h = t.newInner(0, r, InnerHash(Empty, h))
		}
	}
	return r, h
}

func (t *Tree) newInner(left, right ref, h Hash) (ref, Hash) {
	idx := t.inners.alloc()
	n := t.inners.at(idx)
	n.child = [2]ref{left, right}
	n.hash = h
	return ref(idx), h
}

// Prove returns the proof for key hash k: of its leaf if present, of its
// absence otherwise.
func (t *Tree) Prove(k Hash) Proof {
	var p Proof
	r := t.root
	for depth := 0; ; depth++ {
		switch {
		case r == 0:
			return p
		case r&leafFlag != 0:
			l := t.leaves.at(uint32(r &^ leafFlag))
			p.Leaf = &Leaf{Key: l.key, Value: l.value}
			return p
		}
		n := t.inners.at(uint32(r))
		b := bit(&k, depth)
		p.Siblings = append(p.Siblings, t.hashOf(n.child[1-b]))
		r = n.child[b]
	}
}

const (
	pageBits = 12
	pageSize = 1 << pageBits
)

// arena stores values in fixed pages so that growing never copies (a
// doubling slice would briefly need twice the memory of a million-key
// tree) and slack is at most one page. Freed slots are reused first.
type arena[T any] struct {
	pages [][]T
	n     uint32   // slots handed out so far
	freed []uint32 // free slots, reused LIFO
}

func (a *arena[T]) alloc() uint32 {
	if k := len(a.freed); k > 0 {
		i := a.freed[k-1]
		a.freed = a.freed[:k-1]
		return i
	}
	i := a.n
	if int(i>>pageBits) == len(a.pages) {
		if i >= uint32(leafFlag) {
			panic("merkle: more than 2^31 nodes")
		}
		a.pages = append(a.pages, make([]T, pageSize))
	}
	a.n++
	return i
}

func (a *arena[T]) free(i uint32) {
	var zero T
	*a.at(i) = zero
	a.freed = append(a.freed, i)
}

func (a *arena[T]) at(i uint32) *T { return &a.pages[i>>pageBits][i&(pageSize-1)] }

func (a *arena[T]) live() int { return int(a.n) - len(a.freed) }

// memory is the bytes the arena holds, for tests and benchmarks.
func (a *arena[T]) memory(elem int) int {
	return len(a.pages)*pageSize*elem + cap(a.freed)*4
}

// MemoryBytes approximates the memory the tree holds (node arenas and free
// lists), for measuring the per-key overhead.
func (t *Tree) MemoryBytes() int {
	return t.inners.memory(40) + t.leaves.memory(64)
}
