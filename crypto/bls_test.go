package crypto

import (
	"errors"
	"math/rand/v2"
	"testing"

	blst "github.com/supranational/blst/bindings/go"
)

// randomCompressed returns size bytes with the compression flag set, the
// infinity and sign flags clear, and every field element's top byte small
// enough that it is below the field modulus, so the result only fails to
// decode if x is not on the curve.
func randomCompressed(rng *rand.Rand, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for i := 0; i < size; i += 48 {
		b[i] &= 0x0f
	}
	b[0] |= 0x80
	return b
}

// notInG1 finds a compressed point on the G1 curve outside the prime-order
// subgroup; almost every curve point is one, since the cofactor is large.
func notInG1() []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	for {
		b := randomCompressed(rng, BLSPublicKeySize)
		if p := new(blst.P1Affine).Uncompress(b); p != nil && !p.InG1() {
			return b
		}
	}
}

// notOnG1Curve finds a well-formed encoding whose x has no curve point.
func notOnG1Curve() []byte {
	rng := rand.New(rand.NewPCG(5, 6))
	for {
		b := randomCompressed(rng, BLSPublicKeySize)
		if new(blst.P1Affine).Uncompress(b) == nil {
			return b
		}
	}
}

// notInG2 is notInG1 for signatures: a small-subgroup-style point that
// decompresses fine and must be caught by the subgroup check.
func notInG2() []byte {
	rng := rand.New(rand.NewPCG(7, 8))
	for {
		b := randomCompressed(rng, BLSSignatureSize)
		if p := new(blst.P2Affine).Uncompress(b); p != nil && !p.InG2() {
			return b
		}
	}
}

func TestBLSSizes(t *testing.T) {
	s := BLS()
	if s.PublicKeySize() != 48 || s.SignatureSize() != 96 {
		t.Fatalf("sizes %d/%d, want 48/96 (keys in G1, signatures in G2)", s.PublicKeySize(), s.SignatureSize())
	}
	sk, err := s.KeyFromSeed(seed(0))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sk.Bytes()); n != BLSPrivateKeySize {
		t.Errorf("private key %d bytes, want %d", n, BLSPrivateKeySize)
	}
}

// sentinels are the errors callers may branch on; a fuzzed input must only
// ever produce one of these.
var sentinels = []error{ErrInvalidSignature, ErrMalformedKey, ErrMalformedSignature, ErrInvalidPossession, ErrEmptyAggregate, ErrInvalidDomain}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzBLSDecodePublicKey(f *testing.F) {
	s := BLS()
	_, pks := testKeys(f, s, 1)
	inf := make([]byte, BLSPublicKeySize)
	inf[0] = 0xc0
	f.Add(pks[0].Bytes())
	f.Add(inf)
	f.Add(notInG1())
	f.Add(notOnG1Curve())
	f.Add([]byte{})
	f.Add(make([]byte, BLSPublicKeySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := s.DecodePublicKey(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedKey) {
				t.Fatalf("error %v does not wrap ErrMalformedKey", err)
			}
			return
		}
		p := new(blst.P1Affine).Uncompress(b)
		if p == nil || !p.KeyValidate() {
			t.Fatalf("accepted a key blst rejects: %x", b)
		}
		if got := pk.Bytes(); string(got) != string(b) {
			t.Fatalf("accepted a non-canonical encoding %x (re-encodes as %x)", b, got)
		}
		// Must not panic; a random key verifying anything would be a break.
		if err := pk.Verify(DomainVote, b, make([]byte, BLSSignatureSize)); err == nil {
			t.Fatalf("zero signature verified")
		}
	})
}

func FuzzBLSVerify(f *testing.F) {
	s := BLS()
	sks, pks := testKeys(f, s, 2)
	msg := []byte("fuzz")
	good, err := sks[0].Sign(DomainVote, msg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pks[0].Bytes(), good, msg, uint8(DomainVote))
	f.Add(pks[1].Bytes(), good, msg, uint8(DomainVote))
	f.Add(pks[0].Bytes(), notInG2(), msg, uint8(DomainVote))
	f.Add([]byte{}, []byte{}, []byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, key, sig, m []byte, d uint8) {
		pk, err := s.DecodePublicKey(key)
		if err != nil {
			pk = pks[0]
		}
		check := func(what string, err error) {
			if err != nil && !wrapsSentinel(err) {
				t.Fatalf("%s: error %v wraps no sentinel", what, err)
			}
		}
		err = pk.Verify(Domain(d), m, sig)
		check("Verify", err)
		if err == nil && !(string(pk.Bytes()) == string(pks[0].Bytes()) && Domain(d) == DomainVote && string(m) == string(msg) && string(sig) == string(good)) {
			// Only the seeded signature can verify unless BLS is broken.
			t.Fatalf("unexpected valid signature: key %x domain %d msg %x sig %x", key, d, m, sig)
		}
		check("VerifyPossession", pk.VerifyPossession(sig))
		check("VerifyAggregate", s.VerifyAggregate(Domain(d), []PublicKey{pk, pks[1]}, [][]byte{m, msg}, sig))
		_, err = s.AggregateSignatures([][]byte{good, sig})
		check("AggregateSignatures", err)
		if _, err := s.AggregatePublicKeys([]PublicKey{pk, pks[1]}); err != nil {
			check("AggregatePublicKeys", err)
		}
	})
}
