package account

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/floe-bft/floe/codec"
)

// seeded is a deterministic randomness source for keys.
func seeded(n uint64) *rand.ChaCha8 {
	var seed [32]byte
	seed[0] = byte(n)
	seed[1] = byte(n >> 8)
	return rand.NewChaCha8(seed)
}

type algoCase struct {
	name string
	sig  SigAlgo
	hash HashAlgo
}

var algos = []algoCase{
	{"ecdsa-p256-sha2", ECDSA_P256, SHA2_256},
	{"ecdsa-p256-sha3", ECDSA_P256, SHA3_256},
	{"ed25519", Ed25519, HashNone},
}

func testKey(t testing.TB, c algoCase, n uint64) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(c.sig, c.hash, seeded(n))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyEncodingRoundTrip(t *testing.T) {
	for i, c := range algos {
		k := testKey(t, c, uint64(i))
		key := k.PublicKey()
		key.Weight, key.Revoked, key.SeqNum = 500, true, 1<<40+7
		b := key.Encode()
		got, err := DecodeKey(b)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(key) {
			t.Fatalf("%s: round trip %+v != %+v", c.name, got, key)
		}
		if !bytes.Equal(got.Encode(), b) {
			t.Fatal("re-encoding differs")
		}
		if _, err := DecodeKey(append(b, 0)); !errors.Is(err, codec.ErrMalformed) {
			t.Fatalf("trailing byte: %v", err)
		}
		for n := range len(b) {
			if _, err := DecodeKey(b[:n]); err == nil {
				t.Fatalf("truncated to %d decoded", n)
			}
		}
	}
}

func TestKeyValidation(t *testing.T) {
	ec := testKey(t, algos[0], 1).PublicKey()
	ed := testKey(t, algos[2], 2).PublicKey()
	mod := func(k Key, f func(*Key)) Key {
		k.PublicKey = append([]byte(nil), k.PublicKey...)
		f(&k)
		return k
	}
	// A small-order Ed25519 point (order 4: y = 0) and the identity.
	smallOrder := make([]byte, 32)
	identity := make([]byte, 32)
	identity[0] = 1
	// A non-canonical encoding: y = p + 3 (≡ 3), a point of large order
	// whose canonical encoding is a valid key (checked below).
	nonCanonical := []byte{0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
	notOnCurve := mod(ec, func(k *Key) { k.PublicKey[63] ^= 1 })
	cases := map[string]Key{
		"unknown sig algo":     mod(ec, func(k *Key) { k.SigAlgo = 9 }),
		"zero sig algo":        mod(ec, func(k *Key) { k.SigAlgo = 0 }),
		"ecdsa without hash":   mod(ec, func(k *Key) { k.HashAlgo = HashNone }),
		"ecdsa unknown hash":   mod(ec, func(k *Key) { k.HashAlgo = 7 }),
		"ed25519 with hash":    mod(ed, func(k *Key) { k.HashAlgo = SHA2_256 }),
		"weight above 1000":    mod(ec, func(k *Key) { k.Weight = Threshold + 1 }),
		"ecdsa short key":      mod(ec, func(k *Key) { k.PublicKey = k.PublicKey[:63] }),
		"ecdsa off curve":      notOnCurve,
		"ecdsa zero point":     mod(ec, func(k *Key) { k.PublicKey = make([]byte, 64) }),
		"ed25519 short key":    mod(ed, func(k *Key) { k.PublicKey = k.PublicKey[:31] }),
		"ed25519 small order":  mod(ed, func(k *Key) { k.PublicKey = smallOrder }),
		"ed25519 identity":     mod(ed, func(k *Key) { k.PublicKey = identity }),
		"ed25519 noncanonical": mod(ed, func(k *Key) { k.PublicKey = nonCanonical }),
		"ecdsa key as ed25519": mod(ec, func(k *Key) { k.SigAlgo, k.HashAlgo = Ed25519, HashNone }),
	}
	for name, k := range cases {
		if err := k.Validate(); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: Validate = %v", name, err)
		}
		if _, err := DecodeKey(k.Encode()); !errors.Is(err, ErrInvalidKey) || !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("%s: DecodeKey = %v", name, err)
		}
	}
	for _, k := range []Key{ec, ed, mod(ec, func(k *Key) { k.Weight = 0 })} {
		if err := k.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	canonical := make([]byte, 32)
	canonical[0] = 3
	if err := checkEd25519(canonical); err != nil {
		t.Fatalf("y=3 is a valid key, but: %v", err)
	}
	// A point with y not on the curve at all (no x solves it).
	bad := make([]byte, 32)
	bad[0] = 2
	if err := checkEd25519(bad); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("y=2: %v", err)
	}
}

func TestAlgoNames(t *testing.T) {
	for _, c := range algos {
		if a, err := ParseSigAlgo(c.sig.String()); err != nil || a != c.sig {
			t.Fatal(c.sig, err)
		}
		if h, err := ParseHashAlgo(c.hash.String()); err != nil || h != c.hash {
			t.Fatal(c.hash, err)
		}
	}
	if _, err := ParseSigAlgo("RSA"); !errors.Is(err, ErrInvalidKey) {
		t.Fatal(err)
	}
	if _, err := ParseHashAlgo("MD5"); !errors.Is(err, ErrInvalidKey) {
		t.Fatal(err)
	}
}

func FuzzDecodeKey(f *testing.F) {
	for i, c := range algos {
		k, err := GenerateKey(c.sig, c.hash, seeded(uint64(i)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(k.PublicKey().Encode())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(k.Encode(), b) {
			t.Fatalf("non-canonical: %x re-encodes as %x", b, k.Encode())
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("decoded an invalid key: %v", err)
		}
	})
}

// DecodeStoredKey reads what DecodeKey reads, with the same structural
// checks, but does not re-check the public key on its curve.
func TestDecodeStoredKey(t *testing.T) {
	k, err := GenerateKey(Ed25519, HashNone, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKey()
	pub.Weight, pub.SeqNum = 600, 9
	got, err := DecodeStoredKey(pub.Encode())
	if err != nil || !got.Equal(pub) {
		t.Fatalf("stored key: %+v, %v", got, err)
	}
	bad := pub
	bad.PublicKey = bytes.Repeat([]byte{0xff}, Ed25519PublicKeySize) // not a canonical point
	if _, err := DecodeKey(bad.Encode()); err == nil {
		t.Fatal("DecodeKey took a public key off the curve")
	}
	if _, err := DecodeStoredKey(bad.Encode()); err != nil {
		t.Fatalf("DecodeStoredKey re-checked the curve: %v", err)
	}
	for name, k := range map[string]Key{
		"short key":    {PublicKey: pub.PublicKey[:31], SigAlgo: Ed25519, HashAlgo: HashNone, Weight: 1},
		"heavy":        {PublicKey: pub.PublicKey, SigAlgo: Ed25519, HashAlgo: HashNone, Weight: Threshold + 1},
		"unknown algo": {PublicKey: pub.PublicKey, SigAlgo: 9, HashAlgo: HashNone},
	} {
		if _, err := DecodeStoredKey(k.Encode()); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}
