package account

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"

	"github.com/oasisprotocol/curve25519-voi/curve"

	"github.com/floe-bft/floe/codec"
)

// SigAlgo is a signature algorithm an account key may use.
type SigAlgo uint8

// Signature algorithms. The zero value is invalid so a forgotten field
// fails validation instead of picking an algorithm.
const (
	// ECDSA_P256 is ECDSA over NIST P-256; the message is hashed with the
	// key's HashAlgo and the signature is r‖s, 32 bytes each.
	ECDSA_P256 SigAlgo = 1
	// Ed25519 signs the message itself (RFC 8032); its key's HashAlgo is
	// HashNone.
	Ed25519 SigAlgo = 2
)

// HashAlgo is the hash an ECDSA key signs.
type HashAlgo uint8

// Hash algorithms.
const (
	// HashNone is the HashAlgo of Ed25519 keys, which hash internally.
	HashNone HashAlgo = 0
	// SHA2_256 is SHA-256 (FIPS 180-4).
	SHA2_256 HashAlgo = 1
	// SHA3_256 is SHA3-256 (FIPS 202).
	SHA3_256 HashAlgo = 2
)

// Sizes of public keys and signatures, per algorithm.
const (
	// ECDSAPublicKeySize is an uncompressed P-256 point without the 0x04
	// prefix: X‖Y, 32 bytes each.
	ECDSAPublicKeySize = 64
	// Ed25519PublicKeySize is a compressed Edwards point.
	Ed25519PublicKeySize = 32
	// SignatureSize is the size of every signature: r‖s for ECDSA, R‖S for
	// Ed25519.
	SignatureSize = 64
	// MaxPublicKeySize bounds an encoded public key of any algorithm.
	MaxPublicKeySize = 64
)

// Threshold is the total key weight that authorizes an account, and the
// largest weight a single key may have.
const Threshold = 1000

// Key is an account key as the account state holds it.
type Key struct {
	// PublicKey is the encoded public key (ECDSAPublicKeySize or
	// Ed25519PublicKeySize bytes).
	PublicKey []byte
	SigAlgo   SigAlgo
	HashAlgo  HashAlgo
	// Weight counts toward Threshold when the key signs, 0..Threshold.
	Weight uint32
	// Revoked keys can never sign again; they keep their index so indexes
	// stay stable.
	Revoked bool
	// SeqNum is the sequence number the next transaction proposed with this
	// key must carry: it increments once per proposal, so a transaction
	// cannot be replayed.
	SeqNum uint64
}

// String names the algorithm.
func (a SigAlgo) String() string {
	switch a {
	case ECDSA_P256:
		return "ECDSA_P256"
	case Ed25519:
		return "Ed25519"
	}
	return fmt.Sprintf("SigAlgo(%d)", uint8(a))
}

// String names the hash.
func (h HashAlgo) String() string {
	switch h {
	case HashNone:
		return "NONE"
	case SHA2_256:
		return "SHA2_256"
	case SHA3_256:
		return "SHA3_256"
	}
	return fmt.Sprintf("HashAlgo(%d)", uint8(h))
}

// ParseSigAlgo is the inverse of SigAlgo.String.
func ParseSigAlgo(s string) (SigAlgo, error) {
	for _, a := range []SigAlgo{ECDSA_P256, Ed25519} {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown signature algorithm %q", ErrInvalidKey, s)
}

// ParseHashAlgo is the inverse of HashAlgo.String.
func ParseHashAlgo(s string) (HashAlgo, error) {
	for _, h := range []HashAlgo{HashNone, SHA2_256, SHA3_256} {
		if h.String() == s {
			return h, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown hash algorithm %q", ErrInvalidKey, s)
}

// checkAlgos checks that the pair of algorithms is one floe accepts.
func checkAlgos(sig SigAlgo, hash HashAlgo) error {
	switch sig {
	case ECDSA_P256:
		if hash != SHA2_256 && hash != SHA3_256 {
			return fmt.Errorf("%w: %s needs SHA2_256 or SHA3_256, not %s", ErrInvalidKey, sig, hash)
		}
	case Ed25519:
		if hash != HashNone {
			return fmt.Errorf("%w: %s signs the message itself; its hash must be NONE, not %s", ErrInvalidKey, sig, hash)
		}
	default:
		return fmt.Errorf("%w: unknown signature algorithm %d", ErrInvalidKey, uint8(sig))
	}
	return nil
}

// Validate checks everything a key must satisfy to be stored in an account:
// known and matching algorithms, a public key that decodes to a usable
// point, a weight in 0..Threshold.
func (k Key) Validate() error {
	if err := checkAlgos(k.SigAlgo, k.HashAlgo); err != nil {
		return err
	}
	if k.Weight > Threshold {
		return fmt.Errorf("%w: weight %d above %d", ErrInvalidKey, k.Weight, Threshold)
	}
	return checkPublicKey(k.SigAlgo, k.PublicKey)
}

// validateShape is Validate without the curve check: algorithms,
// weight, and the public key's length.
func (k Key) validateShape() error {
	if err := checkAlgos(k.SigAlgo, k.HashAlgo); err != nil {
		return err
	}
	if k.Weight > Threshold {
		return fmt.Errorf("%w: weight %d above %d", ErrInvalidKey, k.Weight, Threshold)
	}
	want := Ed25519PublicKeySize
	if k.SigAlgo == ECDSA_P256 {
		want = ECDSAPublicKeySize
	}
	if len(k.PublicKey) != want {
		return fmt.Errorf("%w: %v public key is %d bytes, want %d", ErrInvalidKey, k.SigAlgo, len(k.PublicKey), want)
	}
	return nil
}

// checkPublicKey checks that pk decodes under algo.
func checkPublicKey(algo SigAlgo, pk []byte) error {
	switch algo {
	case ECDSA_P256:
		_, err := parseECDSA(pk)
		return err
	case Ed25519:
		return checkEd25519(pk)
	}
	return fmt.Errorf("%w: unknown signature algorithm %d", ErrInvalidKey, uint8(algo))
}

// parseECDSA decodes X‖Y; the standard library checks the point is on the
// curve and not the point at infinity.
func parseECDSA(pk []byte) (*ecdsa.PublicKey, error) {
	if len(pk) != ECDSAPublicKeySize {
		return nil, fmt.Errorf("%w: ECDSA_P256 public key is %d bytes, want %d", ErrInvalidKey, len(pk), ECDSAPublicKeySize)
	}
	var b [1 + ECDSAPublicKeySize]byte
	b[0] = 4 // SEC 1 uncompressed point
	copy(b[1:], pk)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b[:])
	if err != nil {
		return nil, fmt.Errorf("%w: ECDSA_P256 public key: %v", ErrInvalidKey, err)
	}
	return pub, nil
}

// checkEd25519 refuses what would weaken a key: an encoding that is not a
// point, a non-canonical encoding (two keys for one point), and a point of
// small order, for which the cofactored equation accepts a forged signature
// on any message.
func checkEd25519(pk []byte) error {
	if len(pk) != Ed25519PublicKeySize {
		return fmt.Errorf("%w: Ed25519 public key is %d bytes, want %d", ErrInvalidKey, len(pk), Ed25519PublicKeySize)
	}
	compressed, err := curve.NewCompressedEdwardsYFromBytes(pk)
	if err != nil {
		return fmt.Errorf("%w: Ed25519 public key: %v", ErrInvalidKey, err)
	}
	var p curve.EdwardsPoint
	if _, err := p.SetCompressedY(compressed); err != nil {
		return fmt.Errorf("%w: Ed25519 public key is not a curve point", ErrInvalidKey)
	}
	var again curve.CompressedEdwardsY
	again.SetEdwardsPoint(&p)
	if again != *compressed {
		return fmt.Errorf("%w: Ed25519 public key is not canonically encoded", ErrInvalidKey)
	}
	if p.IsSmallOrder() {
		return fmt.Errorf("%w: Ed25519 public key has small order", ErrInvalidKey)
	}
	return nil
}

// EncodeTo appends the canonical encoding of k: SigAlgo u8, HashAlgo u8,
// PublicKey (u16 length + bytes), Weight u32, Revoked bool, SeqNum u64.
func (k Key) EncodeTo(w *codec.Writer) {
	w.Uint8(uint8(k.SigAlgo))
	w.Uint8(uint8(k.HashAlgo))
	w.Bytes16(k.PublicKey)
	w.Uint32(k.Weight)
	w.Bool(k.Revoked)
	w.Uint64(k.SeqNum)
}

// Encode returns the canonical encoding of k.
func (k Key) Encode() []byte {
	w := codec.NewWriter(2 + 2 + len(k.PublicKey) + 4 + 1 + 8)
	k.EncodeTo(w)
	return w.Bytes()
}

// ReadKey reads an encoded key from r and validates it. A structural error
// is recorded in r (wrapping codec.ErrMalformed); a key that decodes but is
// invalid is returned as an error wrapping ErrInvalidKey, and r is failed
// too so a caller reading on sees one error.
func ReadKey(r *codec.Reader) (Key, error) { return readKey(r, true) }

// readKey reads a key; validate checks its public key on its curve.
func readKey(r *codec.Reader, validate bool) (Key, error) {
	var k Key
	k.SigAlgo = SigAlgo(r.Uint8())
	k.HashAlgo = HashAlgo(r.Uint8())
	k.PublicKey = r.Bytes16(MaxPublicKeySize, "public key")
	k.Weight = r.Uint32()
	k.Revoked = r.Bool()
	k.SeqNum = r.Uint64()
	if err := r.Err(); err != nil {
		return Key{}, err
	}
	check := k.Validate
	if !validate {
		check = k.validateShape
	}
	if err := check(); err != nil {
		r.Fail("%v", err)
		return Key{}, fmt.Errorf("%w: %w", codec.ErrMalformed, err)
	}
	return k, nil
}

// DecodeKey decodes exactly one key, refusing trailing bytes.
func DecodeKey(b []byte) (Key, error) { return decodeKey(b, true) }

// DecodeStoredKey decodes a key the VM wrote to its state: the same
// encoding and checks as DecodeKey but for the public key's curve point,
// which the VM checked when it wrote the key (re-checking an Ed25519 key
// is a point decompression, ~40 µs, on every read of an account's keys).
// A key that somehow is not on its curve still never verifies a
// signature: verification parses the point.
func DecodeStoredKey(b []byte) (Key, error) { return decodeKey(b, false) }

func decodeKey(b []byte, validate bool) (Key, error) {
	r := codec.NewReader(b)
	k, err := readKey(r, validate)
	if err != nil {
		return Key{}, err
	}
	if err := r.Done(); err != nil {
		return Key{}, err
	}
	return k, nil
}

// Equal reports whether two keys are the same in every field.
func (k Key) Equal(o Key) bool {
	return string(k.PublicKey) == string(o.PublicKey) && k.SigAlgo == o.SigAlgo &&
		k.HashAlgo == o.HashAlgo && k.Weight == o.Weight && k.Revoked == o.Revoked && k.SeqNum == o.SeqNum
}
