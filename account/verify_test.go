package account

import (
	"crypto/elliptic"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"
	"testing"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

func TestSignVerify(t *testing.T) {
	for i, c := range algos {
		k := testKey(t, c, uint64(10+i))
		key := k.PublicKey()
		msg := []byte("transfer 10 to 0x1234")
		sig, err := k.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifySignature(key, msg, sig); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		other := testKey(t, c, uint64(20+i)).PublicKey()
		flipped := append([]byte(nil), sig...)
		flipped[5] ^= 0x10
		bad := map[string]func() error{
			"other message": func() error { return VerifySignature(key, []byte("transfer 99 to 0x1234"), sig) },
			"other key":     func() error { return VerifySignature(other, msg, sig) },
			"flipped bit":   func() error { return VerifySignature(key, msg, flipped) },
			"short":         func() error { return VerifySignature(key, msg, sig[:63]) },
			"long":          func() error { return VerifySignature(key, msg, append(sig, 0)) },
			"zero":          func() error { return VerifySignature(key, msg, make([]byte, 64)) },
		}
		for name, f := range bad {
			if err := f(); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("%s/%s: %v", c.name, name, err)
			}
		}
		broken := key
		broken.SigAlgo = 7
		if err := VerifySignature(broken, msg, sig); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: unknown algo: %v", c.name, err)
		}
	}
}

func TestECDSAHashMatters(t *testing.T) {
	k := testKey(t, algos[0], 30) // SHA2_256
	msg := []byte("m")
	sig, err := k.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	key := k.PublicKey()
	key.HashAlgo = SHA3_256
	if err := VerifySignature(key, msg, sig); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("SHA2 signature verified as SHA3: %v", err)
	}
}

// TestECDSALowS: signatures are normalized to s ≤ n/2, and the other
// member of the pair, (r, n−s), which the curve equation also accepts, is
// refused, so nobody can change a signature without the key.
func TestECDSALowS(t *testing.T) {
	k := testKey(t, algos[1], 31)
	key := k.PublicKey()
	n := elliptic.P256().Params().N
	for i := range 40 {
		msg := fmt.Appendf(nil, "msg %d", i)
		sig, err := k.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		s := new(big.Int).SetBytes(sig[32:])
		if s.Cmp(p256HalfOrder()) > 0 {
			t.Fatal("high s produced")
		}
		high := append([]byte(nil), sig...)
		new(big.Int).Sub(n, s).FillBytes(high[32:])
		if err := VerifySignature(key, msg, high); !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("high-s twin accepted: %v", err)
		}
	}
}

// TestEd25519NonCanonicalS: S + L satisfies the equation but is refused.
func TestEd25519NonCanonicalS(t *testing.T) {
	k := testKey(t, algos[2], 32)
	msg := []byte("m")
	sig, err := k.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	le := func(b []byte) []byte { // little-endian <-> big-endian
		out := make([]byte, len(b))
		for i := range b {
			out[len(b)-1-i] = b[i]
		}
		return out
	}
	s := new(big.Int).SetBytes(le(sig[32:]))
	s.Add(s, l)
	if s.BitLen() > 256 {
		t.Skip("S + L does not fit")
	}
	mal := append([]byte(nil), sig[:32]...)
	mal = append(mal, le(s.FillBytes(make([]byte, 32)))...)
	if err := VerifySignature(k.PublicKey(), msg, mal); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("S+L accepted: %v", err)
	}
	if errs := VerifyBatch([]Item{{k.PublicKey(), msg, mal}, {k.PublicKey(), msg, mal}, {k.PublicKey(), msg, sig}, {k.PublicKey(), msg, sig}}, 1); !errors.Is(errs[0], ErrInvalidSignature) || errs[2] != nil {
		t.Fatalf("batch: %v", errs)
	}
}

// batchItems makes n items cycling through the algorithms; bad[i] items
// get a corrupted signature, message or key.
func batchItems(t testing.TB, n int, onlyAlgo int, bad map[int]string) []Item {
	t.Helper()
	keys := make([]*PrivateKey, len(algos))
	for i, c := range algos {
		keys[i] = testKey(t, c, uint64(40+i))
	}
	items := make([]Item, n)
	for i := range items {
		a := i % len(algos)
		if onlyAlgo >= 0 {
			a = onlyAlgo
		}
		msg := fmt.Appendf(nil, "item %d", i)
		sig, err := keys[a].Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		items[i] = Item{Key: keys[a].PublicKey(), Msg: msg, Sig: sig}
		switch bad[i] {
		case "sig":
			items[i].Sig = append([]byte(nil), sig...)
			items[i].Sig[40] ^= 1
		case "msg":
			items[i].Msg = []byte("other")
		case "short":
			items[i].Sig = sig[:10]
		case "key":
			items[i].Key.PublicKey = make([]byte, len(items[i].Key.PublicKey))
		}
	}
	return items
}

func TestVerifyBatchMatchesSingle(t *testing.T) {
	bad := map[int]string{3: "sig", 7: "msg", 8: "sig", 11: "short", 14: "key", 20: "key", 29: "sig"}
	for _, only := range []int{-1, 2} {
		for _, n := range []int{0, 1, 3, 5, 33} {
			items := batchItems(t, n, only, bad)
			for _, workers := range []int{0, 1, 2, 5} {
				got := VerifyBatch(items, workers)
				if len(got) != n {
					t.Fatalf("%d results for %d items", len(got), n)
				}
				for i, it := range items {
					want := VerifySignature(it.Key, it.Msg, it.Sig)
					same := (want == nil) == (got[i] == nil) &&
						errors.Is(want, ErrInvalidSignature) == errors.Is(got[i], ErrInvalidSignature) &&
						errors.Is(want, ErrInvalidKey) == errors.Is(got[i], ErrInvalidKey)
					if !same {
						t.Fatalf("only=%d n=%d workers=%d item %d (%q): batch %v, single %v", only, n, workers, i, bad[i], got[i], want)
					}
					if _, isBad := bad[i]; isBad != (got[i] != nil) {
						t.Fatalf("item %d (%q): %v", i, bad[i], got[i])
					}
				}
			}
		}
	}
}

func TestVerifyBatchBound(t *testing.T) {
	errs := VerifyBatch(make([]Item, MaxBatchItems+1), 2)
	if !errors.Is(errs[0], ErrInvalidSignature) {
		t.Fatal(errs[0])
	}
}

func TestGenerateKeyDeterministic(t *testing.T) {
	for _, c := range algos {
		a, b := testKey(t, c, 50), testKey(t, c, 50)
		if string(a.Bytes()) != string(b.Bytes()) || string(a.PublicKey().PublicKey) != string(b.PublicKey().PublicKey) {
			t.Fatalf("%s: same seed, different keys", c.name)
		}
		again, err := NewPrivateKey(c.sig, c.hash, a.Bytes())
		if err != nil || !again.PublicKey().Equal(a.PublicKey()) {
			t.Fatalf("%s: NewPrivateKey(Bytes()) = %v", c.name, err)
		}
		if got := a.PublicKey(); got.Weight != Threshold || got.Revoked || got.SeqNum != 0 || got.Validate() != nil {
			t.Fatalf("%s: PublicKey %+v", c.name, got)
		}
	}
	if _, err := GenerateKey(Ed25519, SHA2_256, nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatal(err)
	}
	if _, err := NewPrivateKey(ECDSA_P256, SHA2_256, make([]byte, 32)); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("zero scalar: %v", err)
	}
	if _, err := GenerateKey(ECDSA_P256, SHA2_256, nil); err != nil {
		t.Fatal(err)
	}
}

// TestEd25519SmallOrderR: a signature whose R is the identity (small order)
// can be made by the key's owner and satisfies the cofactored equation;
// ZIP-215 would accept it. floe's strict rule refuses it in single and
// batch verification alike, so there is one rule everywhere.
func TestEd25519SmallOrderR(t *testing.T) {
	k := testKey(t, algos[2], 33)
	pub := k.PublicKey().PublicKey
	msg := []byte("m")
	le := func(b []byte) *big.Int { // little-endian bytes to an integer
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(r)
	}
	toLE := func(x *big.Int) []byte {
		b := x.FillBytes(make([]byte, 32))
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return b
	}
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	h := sha512.Sum512(k.Bytes())
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	a := le(h[:32])
	r := make([]byte, 32)
	r[0] = 1 // the identity
	kh := sha512.Sum512(append(append(append([]byte(nil), r...), pub...), msg...))
	s := new(big.Int).Mul(le(kh[:]), a)
	s.Mod(s, l)
	sig := append(r, toLE(s)...)
	if !voi.VerifyWithOptions(pub, msg, sig, &voi.Options{Verify: voi.VerifyOptionsZIP_215}) {
		t.Fatal("construction wrong: ZIP-215 should accept")
	}
	if err := VerifySignature(k.PublicKey(), msg, sig); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("single: %v", err)
	}
	good, _ := k.Sign(msg)
	item := Item{k.PublicKey(), msg, sig}
	errs := VerifyBatch([]Item{item, {k.PublicKey(), msg, good}, item, {k.PublicKey(), msg, good}}, 1)
	if !errors.Is(errs[0], ErrInvalidSignature) || errs[1] != nil {
		t.Fatalf("batch: %v", errs)
	}
}
