package account

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
)

// Signer signs for one account key. Local keys (PrivateKey) implement it;
// a hardware or remote signer can too.
type Signer interface {
	// Sign returns a signature over msg in the format VerifySignature
	// checks (64 bytes; ECDSA low-s).
	Sign(msg []byte) ([]byte, error)
	// PublicKey returns the account key this signer signs for, with weight
	// Threshold, not revoked, sequence number 0: what to register when
	// creating an account; change Weight for a partial key.
	PublicKey() Key
}

// PrivateKey is a local private key. It is for tests, the CLI and the
// client library; nodes never hold account keys.
type PrivateKey struct {
	sigAlgo  SigAlgo
	hashAlgo HashAlgo
	ec       *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	pub      []byte
}

// PrivateKeySize is the size of an encoded private key: the P-256 scalar or
// the Ed25519 seed.
const PrivateKeySize = 32

// GenerateKey makes a key pair for algo and hash from rand's bytes (nil
// means crypto/rand). Keys are derived from the bytes read, so a seeded
// reader gives the same key every time (tests depend on that; the standard
// library's GenerateKey ignores its reader since Go 1.26).
func GenerateKey(algo SigAlgo, hash HashAlgo, rnd io.Reader) (*PrivateKey, error) {
	if err := checkAlgos(algo, hash); err != nil {
		return nil, err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var seed [PrivateKeySize]byte
	switch algo {
	case ECDSA_P256:
		// Rejection sampling: a scalar in [1, n−1]. Fewer than one draw in
		// 2³² is rejected; the bound only stops a broken reader.
		for range 64 {
			if _, err := io.ReadFull(rnd, seed[:]); err != nil {
				return nil, fmt.Errorf("generate key: %w", err)
			}
			if k, err := NewPrivateKey(algo, hash, seed[:]); err == nil {
				return k, nil
			}
		}
		return nil, fmt.Errorf("generate key: random source gave no valid P-256 scalar in 64 draws")
	default:
		if _, err := io.ReadFull(rnd, seed[:]); err != nil {
			return nil, fmt.Errorf("generate key: %w", err)
		}
		return NewPrivateKey(algo, hash, seed[:])
	}
}

// NewPrivateKey decodes a private key: the 32-byte big-endian P-256 scalar
// (in [1, n−1]) or the 32-byte Ed25519 seed.
func NewPrivateKey(algo SigAlgo, hash HashAlgo, b []byte) (*PrivateKey, error) {
	if err := checkAlgos(algo, hash); err != nil {
		return nil, err
	}
	if len(b) != PrivateKeySize {
		return nil, fmt.Errorf("%w: private key is %d bytes, want %d", ErrInvalidKey, len(b), PrivateKeySize)
	}
	k := &PrivateKey{sigAlgo: algo, hashAlgo: hash}
	switch algo {
	case ECDSA_P256:
		ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b)
		if err != nil {
			return nil, fmt.Errorf("%w: P-256 private key: %v", ErrInvalidKey, err)
		}
		pub, err := ec.PublicKey.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: P-256 public key: %v", ErrInvalidKey, err)
		}
		k.ec, k.pub = ec, pub[1:] // drop the 0x04 prefix
	default:
		k.ed = ed25519.NewKeyFromSeed(b)
		k.pub = []byte(k.ed.Public().(ed25519.PublicKey))
		// A seed whose public key is of small order cannot happen (the
		// scalar is clamped to a multiple of 8 of a prime-order point),
		// but the key must pass the same check every account key passes.
		if err := checkEd25519(k.pub); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Bytes returns the encoded private key (see NewPrivateKey).
func (k *PrivateKey) Bytes() []byte {
	if k.sigAlgo == ECDSA_P256 {
		b, err := k.ec.Bytes()
		if err != nil { // only for curves other than the NIST ones
			return nil
		}
		return b
	}
	return append([]byte(nil), k.ed.Seed()...)
}

// SigAlgo is the key's signature algorithm.
func (k *PrivateKey) SigAlgo() SigAlgo { return k.sigAlgo }

// HashAlgo is the key's hash algorithm.
func (k *PrivateKey) HashAlgo() HashAlgo { return k.hashAlgo }

// PublicKey implements Signer.
func (k *PrivateKey) PublicKey() Key {
	return Key{
		PublicKey: append([]byte(nil), k.pub...),
		SigAlgo:   k.sigAlgo,
		HashAlgo:  k.hashAlgo,
		Weight:    Threshold,
	}
}

// Sign implements Signer. ECDSA signatures are randomized (the standard
// library always uses a secure source) and normalized to low s.
func (k *PrivateKey) Sign(msg []byte) ([]byte, error) {
	if k.sigAlgo == Ed25519 {
		return ed25519.Sign(k.ed, msg), nil
	}
	d, err := digest(k.hashAlgo, msg)
	if err != nil {
		return nil, err
	}
	r, s, err := ecdsa.Sign(rand.Reader, k.ec, d)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if s.Cmp(p256HalfOrder()) > 0 {
		s = new(big.Int).Sub(elliptic.P256().Params().N, s)
	}
	sig := make([]byte, SignatureSize)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}
