package transaction

import (
	"bytes"
	"testing"
)

// FuzzCheck: no mutation of a validly signed transaction's bytes is
// authorized (every byte is covered by a signature, and signatures are not
// malleable), and Check never panics.
func FuzzCheck(f *testing.F) {
	w, tx, _, _, _ := multiParty(f)
	orig := tx.Encode()
	if v := Check(tx, chain, w.lookup, 1); !v.Authorized() {
		f.Fatal(v.Err)
	}
	f.Add(uint(0), byte(0), uint(0), byte(0))
	f.Add(uint(1), byte(1), uint(0), byte(0))
	f.Add(uint(len(orig)-1), byte(0x80), uint(40), byte(1))
	f.Add(uint(90), byte(0xff), uint(len(orig)-70), byte(4))
	f.Fuzz(func(t *testing.T, p1 uint, x1 byte, p2 uint, x2 byte) {
		b := bytes.Clone(orig)
		b[p1%uint(len(b))] ^= x1
		b[p2%uint(len(b))] ^= x2
		tx, err := Decode(b)
		if err != nil {
			return
		}
		v := Check(tx, chain, w.lookup, 2)
		if v.Authorized() && !bytes.Equal(b, orig) {
			t.Fatalf("mutated transaction authorized: bytes %d^%#x %d^%#x", p1%uint(len(b)), x1, p2%uint(len(b)), x2)
		}
		if v.PayerAuthorized && !bytes.Equal(b, orig) {
			t.Fatal("payer charged for a mutated transaction")
		}
	})
}
