package merkle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// refRoot computes the root from scratch with the definition in the
// package comment, one level at a time and without shortcuts in the
// recursion itself: the reference the tree is checked against.
func refRoot(state map[Hash]Hash) Hash {
	leaves := make([]Leaf, 0, len(state))
	for k, v := range state {
		leaves = append(leaves, Leaf{k, v})
	}
	slices.SortFunc(leaves, func(a, b Leaf) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	return refSubtree(0, leaves)
}

func refSubtree(depth int, leaves []Leaf) Hash {
	switch len(leaves) {
	case 0:
		return Empty
	case 1:
		return LeafHash(leaves[0].Key, leaves[0].Value)
	}
	var left, right []Leaf
	for _, l := range leaves {
		if bit(&l.Key, depth) == 0 {
			left = append(left, l)
		} else {
			right = append(right, l)
		}
	}
	return InnerHash(refSubtree(depth+1, left), refSubtree(depth+1, right))
}

// checkTree walks the whole tree and checks every cached hash and the
// shape: every inner node holds at least two leaves, every leaf lies on its
// own path. It returns the number of leaves.
func checkTree(t *testing.T, tr *Tree) {
	t.Helper()
	var prefix Hash
	var walk func(r ref, depth int) (Hash, int)
	walk = func(r ref, depth int) (Hash, int) {
		switch {
		case r == 0:
			return Empty, 0
		case r&leafFlag != 0:
			l := tr.leaves.at(uint32(r &^ leafFlag))
			if commonPrefix(&l.key, &prefix) < depth {
				t.Fatalf("leaf %x at depth %d off its path", l.key[:4], depth)
			}
			return LeafHash(l.key, l.value), 1
		}
		n := tr.inners.at(uint32(r))
		prefix[depth>>3] &^= 0x80 >> uint(depth&7)
		lh, ln := walk(n.child[0], depth+1)
		prefix[depth>>3] |= 0x80 >> uint(depth&7)
		rh, rn := walk(n.child[1], depth+1)
		prefix[depth>>3] &^= 0x80 >> uint(depth&7)
		if ln+rn < 2 {
			t.Fatalf("inner node at depth %d holds %d leaves", depth, ln+rn)
		}
		if h := InnerHash(lh, rh); h != n.hash {
			t.Fatalf("stale hash at depth %d", depth)
		}
		return n.hash, ln + rn
	}
	h, n := walk(tr.root, 0)
	if h != tr.Root() {
		t.Fatalf("root hash %x, tree hashes to %x", tr.Root(), h)
	}
	if n != tr.Len() {
		t.Fatalf("Len %d, tree holds %d leaves", tr.Len(), n)
	}
}

func h(s string) Hash { return KeyHash([]byte(s)) }

func TestEmptyTree(t *testing.T) {
	tr := New()
	if tr.Root() != Empty || tr.Len() != 0 {
		t.Fatal("empty tree")
	}
	p := tr.Prove(h("x"))
	if err := Verify(Empty, []byte("x"), nil, p.Encode()); err != nil {
		t.Fatal(err)
	}
	if err := Verify(Empty, []byte("x"), []byte("v"), p.Encode()); err == nil {
		t.Fatal("membership in the empty tree")
	}
	// Deleting from an empty tree is a no-op.
	if tr.Update([]Op{{Key: h("x"), Delete: true}}) != Empty {
		t.Fatal("delete changed the empty root")
	}
}

func TestSingleLeafRootIsLeafHash(t *testing.T) {
	tr := New()
	root := tr.Update([]Op{{Key: h("a"), Value: ValueHash([]byte("1"))}})
	if root != LeafHash(h("a"), ValueHash([]byte("1"))) {
		t.Fatal("a one-leaf tree's root is its leaf hash")
	}
	if tr.InnerNodes() != 0 {
		t.Fatal("inner node in a one-leaf tree")
	}
}

func kv(i int) (key, value []byte) {
	return []byte("key-" + string(rune('a'+i%26)) + string(binary.BigEndian.AppendUint32(nil, uint32(i)))),
		[]byte("value-" + string(binary.BigEndian.AppendUint32(nil, uint32(i*7))))
}

func TestProofs(t *testing.T) {
	tr := New()
	var ops []Op
	for i := 0; i < 500; i++ {
		k, v := kv(i)
		ops = append(ops, Op{Key: KeyHash(k), Value: ValueHash(v)})
	}
	root := tr.Update(ops)
	checkTree(t, tr)
	for i := 0; i < 600; i++ {
		k, v := kv(i)
		p := tr.Prove(KeyHash(k))
		enc := p.Encode()
		if i < 500 {
			if err := Verify(root, k, v, enc); err != nil {
				t.Fatalf("member %d: %v", i, err)
			}
			if err := Verify(root, k, nil, enc); err == nil {
				t.Fatalf("member %d proved absent", i)
			}
			if err := Verify(root, k, append(v, 'x'), enc); err == nil {
				t.Fatalf("member %d: wrong value accepted", i)
			}
			if err := Verify(root, []byte("other"), v, enc); err == nil {
				t.Fatalf("member %d: proof accepted for another key", i)
			}
		} else {
			if err := Verify(root, k, nil, enc); err != nil {
				t.Fatalf("absent %d: %v", i, err)
			}
			if err := Verify(root, k, v, enc); err == nil {
				t.Fatalf("absent %d proved present", i)
			}
		}
		bad := root
		bad[5] ^= 1
		if err := Verify(bad, k, nil, enc); err == nil {
			t.Fatal("accepted against a wrong root")
		}
		if err := Verify(bad, k, v, enc); err == nil {
			t.Fatal("accepted against a wrong root")
		}
		// Canonical: decoding and re-encoding gives the same bytes.
		d, err := DecodeProof(enc)
		if err != nil || !bytes.Equal(d.Encode(), enc) {
			t.Fatalf("proof %d does not round-trip: %v", i, err)
		}
		// Every strict prefix and every one-byte extension is rejected.
		for n := 0; n < len(enc); n++ {
			if _, err := DecodeProof(enc[:n]); err == nil {
				t.Fatalf("truncated proof (%d of %d bytes) decoded", n, len(enc))
			}
		}
		if _, err := DecodeProof(append(slices.Clone(enc), 0)); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
}

func TestProofForKeyUsedAsOtherLeaf(t *testing.T) {
	// A non-membership proof that ends at another key's leaf must not
	// verify for a key off that leaf's path.
	tr := New()
	root := tr.Update([]Op{{Key: h("a"), Value: ValueHash([]byte("1"))}, {Key: h("b"), Value: ValueHash([]byte("2"))}})
	for i := 0; i < 200; i++ {
		k := []byte{byte(i)}
		if string(k) == "a" || string(k) == "b" {
			continue
		}
		p := tr.Prove(KeyHash(k))
		if err := p.Verify(root, k, nil); err != nil {
			t.Fatal(err)
		}
		if p.Leaf == nil {
			continue
		}
		// Re-use the proof for a key on the other side of the root.
		for j := 0; j < 200; j++ {
			k2 := []byte{byte(j), 1}
			kh := KeyHash(k2)
			if commonPrefix(&kh, &p.Leaf.Key) >= len(p.Siblings) || kh == p.Leaf.Key {
				continue
			}
			if err := p.Verify(root, k2, nil); err == nil {
				t.Fatal("absence proved with a leaf off the key's path")
			}
		}
	}
}

func TestOrderIndependenceAndBatchEqualsSequential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ops []Op
	for i := 0; i < 2000; i++ {
		var k Hash
		binary.BigEndian.PutUint64(k[:], rng.Uint64())
		binary.BigEndian.PutUint64(k[24:], rng.Uint64())
		ops = append(ops, Op{Key: k, Value: ValueHash(k[:8])})
	}
	batch := New()
	want := batch.Update(slices.Clone(ops))
	seq := New()
	for _, op := range ops {
		seq.Update([]Op{op})
	}
	if seq.Root() != want {
		t.Fatal("sequential updates differ from one batch")
	}
	shuffled := slices.Clone(ops)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	other := New()
	for i := 0; i < len(shuffled); i += 37 {
		other.Update(slices.Clone(shuffled[i:min(i+37, len(shuffled))]))
	}
	if other.Root() != want {
		t.Fatal("root depends on insertion order")
	}
	checkTree(t, batch)
	checkTree(t, seq)
	checkTree(t, other)
}

func TestDeleteRestoresRoot(t *testing.T) {
	tr := New()
	var base []Op
	for i := 0; i < 300; i++ {
		k, v := kv(i)
		base = append(base, Op{Key: KeyHash(k), Value: ValueHash(v)})
	}
	before := tr.Update(base)
	inners := tr.InnerNodes()
	var extra, del []Op
	for i := 300; i < 400; i++ {
		k, v := kv(i)
		extra = append(extra, Op{Key: KeyHash(k), Value: ValueHash(v)})
		del = append(del, Op{Key: KeyHash(k), Delete: true})
	}
	if tr.Update(extra) == before {
		t.Fatal("insert did not change the root")
	}
	if tr.Update(del) != before {
		t.Fatal("deleting the inserted keys did not restore the root")
	}
	if tr.InnerNodes() != inners || tr.Len() != 300 {
		t.Fatalf("shape not restored: %d inner nodes (was %d), %d leaves", tr.InnerNodes(), inners, tr.Len())
	}
	checkTree(t, tr)
	// Delete everything, one at a time.
	for _, op := range base {
		tr.Update([]Op{{Key: op.Key, Delete: true}})
	}
	if tr.Root() != Empty || tr.Len() != 0 || tr.InnerNodes() != 0 {
		t.Fatal("deleting every key did not empty the tree")
	}
}

func TestLastOpPerKeyWins(t *testing.T) {
	a, b := New(), New()
	k := h("k")
	a.Update([]Op{{Key: k, Value: h("1")}, {Key: h("z"), Value: h("z")}, {Key: k, Delete: true}, {Key: k, Value: h("2")}})
	b.Update([]Op{{Key: h("z"), Value: h("z")}, {Key: k, Value: h("2")}})
	if a.Root() != b.Root() {
		t.Fatal("last op per key must win")
	}
	a.Update([]Op{{Key: k, Value: h("3")}, {Key: k, Delete: true}})
	b.Update([]Op{{Key: k, Delete: true}})
	if a.Root() != b.Root() {
		t.Fatal("set then delete in one batch must delete")
	}
}

// keyWithPrefix returns a key hash that shares exactly n leading bits with
// base (n < 256), with the rest of base's bits after bit n.
func keyWithPrefix(base Hash, n int) Hash {
	k := base
	k[n>>3] ^= 0x80 >> uint(n&7)
	return k
}

func TestDeepPaths(t *testing.T) {
	// Keys that share long prefixes make long chains of inner nodes with
	// one empty child, down to depth 256.
	var base Hash
	for i := range base {
		base[i] = byte(i * 37)
	}
	state := map[Hash]Hash{base: h("base")}
	tr := New()
	tr.Update([]Op{{Key: base, Value: h("base")}})
	for _, n := range []int{255, 254, 200, 128, 9, 8, 7, 1, 0} {
		k := keyWithPrefix(base, n)
		state[k] = h("v")
		tr.Update([]Op{{Key: k, Value: h("v")}})
		if tr.Root() != refRoot(state) {
			t.Fatalf("root differs from the reference after a key sharing %d bits", n)
		}
		checkTree(t, tr)
	}
	p := tr.Prove(base)
	if len(p.Siblings) != 256 {
		t.Fatalf("depth %d, want 256", len(p.Siblings))
	}
	if err := p.VerifyHashed(tr.Root(), base, nil); err == nil {
		t.Fatal("member proved absent")
	}
	enc := p.Encode()
	d, err := DecodeProof(enc)
	if err != nil || !bytes.Equal(d.Encode(), enc) {
		t.Fatalf("depth-256 proof does not round-trip: %v", err)
	}
	// A key sharing 100 bits with base is absent; its path ends in the
	// chain's empty side.
	absent := keyWithPrefix(base, 100)
	pa := tr.Prove(absent)
	if err := pa.VerifyHashed(tr.Root(), absent, nil); err != nil {
		t.Fatal(err)
	}
	// Remove the deep keys again: the chains must collapse.
	for k := range state {
		if k != base {
			tr.Update([]Op{{Key: k, Delete: true}})
		}
	}
	if tr.InnerNodes() != 0 || tr.Root() != LeafHash(base, h("base")) {
		t.Fatal("chains did not collapse to the remaining leaf")
	}
}

// TestDifferential runs thousands of random batches of sets, overwrites
// and deletes (present and absent keys) against a map and the reference
// root, checking proofs for random keys along the way.
func TestDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	tr := New()
	state := map[Hash]Hash{}
	const keySpace = 3000 // small enough that overwrites and deletes hit
	key := func() Hash {
		var k Hash
		binary.BigEndian.PutUint32(k[:], uint32(rng.IntN(keySpace)))
		return KeyHash(k[:4])
	}
	rounds := 400
	if testing.Short() {
		rounds = 100
	}
	totalOps := 0
	for round := 0; round < rounds; round++ {
		n := 1 + rng.IntN(40)
		if round%50 == 0 {
			n = 500
		}
		ops := make([]Op, n)
		for i := range ops {
			ops[i].Key = key()
			if rng.IntN(3) == 0 {
				ops[i].Delete = true
			} else {
				binary.BigEndian.PutUint64(ops[i].Value[:], rng.Uint64())
			}
		}
		for _, op := range ops {
			if op.Delete {
				delete(state, op.Key)
			} else {
				state[op.Key] = op.Value
			}
		}
		totalOps += n
		if tr.Update(ops) != refRoot(state) {
			t.Fatalf("round %d: root differs from the reference", round)
		}
		if tr.Len() != len(state) {
			t.Fatalf("round %d: %d leaves, want %d", round, tr.Len(), len(state))
		}
		if round%20 == 0 {
			checkTree(t, tr)
		}
		for i := 0; i < 5; i++ {
			k := key()
			v, ok := tr.Get(k)
			want, wok := state[k]
			if ok != wok || v != want {
				t.Fatal("Get differs from the reference")
			}
			p := tr.Prove(k)
			if (p.Leaf != nil && p.Leaf.Key == k) != wok {
				t.Fatal("proof disagrees with membership")
			}
			q, err := DecodeProof(p.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if wok {
				if p.Leaf.Value != want {
					t.Fatal("proof carries the wrong value hash")
				}
			} else if err := q.VerifyHashed(tr.Root(), k, nil); err != nil {
				t.Fatalf("round %d: absence proof: %v", round, err)
			}
		}
	}
	if totalOps < 5000 {
		t.Fatalf("only %d ops", totalOps)
	}
}

func TestDecodeProofRejects(t *testing.T) {
	sib := h("s")
	valid := (&Proof{Siblings: []Hash{sib}}).Encode()
	if _, err := DecodeProof(valid); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":             nil,
		"depth too large":   {0x01, 0x01, 0},
		"padding bit":       append([]byte{0, 1, 0xc0}, append(sib[:], 0)...),
		"zero sibling hash": append([]byte{0, 1, 0x80}, make([]byte, 33)...),
		"end marker 2":      append([]byte{0, 1, 0x80}, append(sib[:], 2)...),
		"empty last":        {0, 1, 0x00, 0},
		"truncated leaf":    {0, 0, 1, 1, 2, 3},
		"oversized":         make([]byte, MaxProofSize+1),
	}
	for name, b := range cases {
		if _, err := DecodeProof(b); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
