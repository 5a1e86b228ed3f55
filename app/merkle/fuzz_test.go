package merkle

import (
	"bytes"
	"fmt"
	"testing"
)

// fuzzTree is a fixed tree the fuzzer attacks: keys "k0".."k39" with values
// "v0".."v39".
func fuzzTree() (*Tree, map[string]string) {
	tr := New()
	truth := map[string]string{}
	var ops []Op
	for i := 0; i < 40; i++ {
		k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		truth[k] = v
		ops = append(ops, Op{Key: KeyHash([]byte(k)), Value: ValueHash([]byte(v))})
	}
	tr.Update(ops)
	return tr, truth
}

// FuzzVerifyProof feeds arbitrary proofs, keys and values to Verify against
// a fixed root. Verify must never panic, and whatever it accepts must be
// true of the tree: never a different value, never absence of a present
// key, never presence of an absent one. Accepted proofs must also be
// canonical (decode and re-encode to the same bytes).
func FuzzVerifyProof(f *testing.F) {
	tr, truth := fuzzTree()
	for _, k := range []string{"k0", "k7", "k39", "absent", ""} {
		p := tr.Prove(KeyHash([]byte(k))).Encode()
		f.Add([]byte(k), []byte(truth[k]), truth[k] != "", p)
		f.Add([]byte(k), []byte("v1"), true, p)
		f.Add([]byte(k), []byte(nil), false, p)
	}
	root := tr.Root()
	f.Fuzz(func(t *testing.T, key, value []byte, present bool, proof []byte) {
		if !present {
			value = nil
		} else if value == nil {
			value = []byte{}
		}
		err := Verify(root, key, value, proof)
		if p, derr := DecodeProof(proof); derr == nil {
			if !bytes.Equal(p.Encode(), proof) {
				t.Fatalf("non-canonical proof decoded: %x", proof)
			}
		} else if err == nil {
			t.Fatal("accepted an undecodable proof")
		}
		if err != nil {
			return
		}
		want, ok := truth[string(key)]
		if present && (!ok || want != string(value)) {
			t.Fatalf("accepted value %q for key %q (truth %q, %v)", value, key, want, ok)
		}
		if !present && ok {
			t.Fatalf("accepted absence of present key %q", key)
		}
	})
}
