package crypto

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// Sizes of Fast encodings. An aggregate Fast public key encodes as the
// concatenation of its members, so only single keys have FastPublicKeySize.
const (
	FastPublicKeySize  = 32
	FastSignatureSize  = 32
	FastPrivateKeySize = 32
)

// Hash prefixes keep Fast's three derivations from ever colliding.
const (
	fastSKPrefix  = "floe-fast-sk"
	fastPKPrefix  = "floe-fast-pk"
	fastSigPrefix = "floe-fast-sig"
)

// Fast returns a keyed-hash "signature" scheme that is INSECURE BY DESIGN.
//
// WARNING: a Fast signature is SHA-256("floe-fast-sig" || pk || domain || msg).
// It depends only on public data, so ANYONE CAN FORGE ANY SIGNATURE FOR ANY
// KEY. The secret key plays no part in signing. Fast exists only so the
// deterministic simulator can push millions of messages through the real
// consensus code, exercising every verification and aggregation path at the
// cost of a few hashes instead of pairings. It must never be used by a node,
// in a test of Byzantine signature forgery, or anywhere an adversary exists.
//
// Aggregation XORs signatures, which keeps it order independent but means a
// signature (and a key) counted twice cancels out: an aggregate key listing
// the same member twice verifies as if that member had not signed at all.
// Callers must deduplicate signers, which consensus does anyway via signer
// bitmaps; BLS has no such cancellation, so a bug here would hide one there.
//
// The scheme and its keys are immutable and safe for concurrent use.
func Fast() Scheme { return fastScheme{} }

type fastScheme struct{}

var _ Scheme = fastScheme{}

func (fastScheme) Name() string       { return "fast-insecure" }
func (fastScheme) SignatureSize() int { return FastSignatureSize }
func (fastScheme) PublicKeySize() int { return FastPublicKeySize }

func (fastScheme) KeyFromSeed(seed []byte) (PrivateKey, error) {
	if len(seed) < 32 {
		return nil, fmt.Errorf("fast: seed of %d bytes, need at least 32: %w", len(seed), ErrMalformedKey)
	}
	return newFastPrivateKey(Sum([]byte(fastSKPrefix), seed)), nil
}

func (fastScheme) DecodePrivateKey(b []byte) (PrivateKey, error) {
	if len(b) != FastPrivateKeySize {
		return nil, fmt.Errorf("fast: private key of %d bytes, want %d: %w", len(b), FastPrivateKeySize, ErrMalformedKey)
	}
	return newFastPrivateKey([FastPrivateKeySize]byte(b)), nil
}

func (fastScheme) DecodePublicKey(b []byte) (PublicKey, error) {
	if len(b) != FastPublicKeySize {
		return nil, fmt.Errorf("fast: public key of %d bytes, want %d: %w", len(b), FastPublicKeySize, ErrMalformedKey)
	}
	return newFastPublicKey([FastPublicKeySize]byte(b)), nil
}

func (fastScheme) AggregateSignatures(sigs [][]byte) ([]byte, error) {
	if len(sigs) == 0 {
		return nil, fmt.Errorf("fast: no signatures: %w", ErrEmptyAggregate)
	}
	out := make([]byte, FastSignatureSize)
	for i, s := range sigs {
		if len(s) != FastSignatureSize {
			return nil, fmt.Errorf("fast: signature %d of %d bytes, want %d: %w", i, len(s), FastSignatureSize, ErrMalformedSignature)
		}
		subtle.XORBytes(out, out, s)
	}
	return out, nil
}

func (fastScheme) AggregatePublicKeys(keys []PublicKey) (PublicKey, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("fast: no public keys: %w", ErrEmptyAggregate)
	}
	n := 0
	for i, key := range keys {
		k, err := asFastKey(key)
		if err != nil {
			return nil, fmt.Errorf("fast: key %d: %w", i, err)
		}
		n += len(k.members)
	}
	if len(keys) == 1 {
		return keys[0], nil
	}
	members := make([][FastPublicKeySize]byte, 0, n)
	for _, key := range keys {
		members = append(members, key.(*fastPublicKey).members...)
	}
	return &fastPublicKey{members: members}, nil
}

func (fastScheme) VerifyAggregate(d Domain, keys []PublicKey, msgs [][]byte, sig []byte) error {
	if !d.Valid() {
		return fmt.Errorf("fast: %v: %w", d, ErrInvalidDomain)
	}
	if len(keys) == 0 {
		return fmt.Errorf("fast: no keys to verify against: %w", ErrEmptyAggregate)
	}
	if len(keys) != len(msgs) {
		// A caller bug, not a bad message: deliberately no sentinel.
		return fmt.Errorf("fast: %d keys for %d messages", len(keys), len(msgs))
	}
	if len(sig) != FastSignatureSize {
		return fmt.Errorf("fast: signature of %d bytes, want %d: %w", len(sig), FastSignatureSize, ErrMalformedSignature)
	}
	var acc [FastSignatureSize]byte
	for i, key := range keys {
		k, err := asFastKey(key)
		if err != nil {
			return fmt.Errorf("fast: key %d: %w", i, err)
		}
		k.xorSigs(&acc, d, msgs[i])
	}
	if [FastSignatureSize]byte(sig) != acc {
		return fmt.Errorf("fast: aggregate %v signature over %d messages: %w", d, len(msgs), ErrInvalidSignature)
	}
	return nil
}

func asFastKey(k PublicKey) (*fastPublicKey, error) {
	fk, ok := k.(*fastPublicKey)
	if !ok || fk == nil || len(fk.members) == 0 {
		return nil, fmt.Errorf("fast: %T is not a Fast public key: %w", k, ErrMalformedKey)
	}
	return fk, nil
}

// fastSign is the whole "signature scheme". The hasher is devirtualized and
// kept on the stack, so this does not allocate.
func fastSign(out *[FastSignatureSize]byte, pk *[FastPublicKeySize]byte, d Domain, msg []byte) {
	h := sha256.New()
	h.Write([]byte(fastSigPrefix))
	h.Write(pk[:])
	h.Write([]byte{byte(d)})
	h.Write(msg)
	h.Sum(out[:0])
}

// fastPublicKey is one key (one member) or an aggregate (several). A single
// key points members at its own storage so both cases share one code path
// without a second allocation.
type fastPublicKey struct {
	members [][FastPublicKeySize]byte
	one     [1][FastPublicKeySize]byte
}

var _ PublicKey = (*fastPublicKey)(nil)

func newFastPublicKey(pk [FastPublicKeySize]byte) *fastPublicKey {
	k := &fastPublicKey{}
	k.one[0] = pk
	k.members = k.one[:]
	return k
}

// xorSigs folds every member's signature over msg into acc.
func (k *fastPublicKey) xorSigs(acc *[FastSignatureSize]byte, d Domain, msg []byte) {
	var s [FastSignatureSize]byte
	for i := range k.members {
		fastSign(&s, &k.members[i], d, msg)
		subtle.XORBytes(acc[:], acc[:], s[:])
	}
}

// Bytes of an aggregate is the concatenation of its members; it is meant for
// logs and map keys and does not decode with DecodePublicKey.
func (k *fastPublicKey) Bytes() []byte {
	out := make([]byte, 0, len(k.members)*FastPublicKeySize)
	for i := range k.members {
		out = append(out, k.members[i][:]...)
	}
	return out
}

func (k *fastPublicKey) String() string {
	if len(k.members) == 1 {
		return fmt.Sprintf("fast:%x", k.members[0][:6])
	}
	return fmt.Sprintf("fast:aggregate(%d)", len(k.members))
}

func (k *fastPublicKey) Verify(d Domain, msg, sig []byte) error {
	if !d.Valid() {
		return fmt.Errorf("fast: %v: %w", d, ErrInvalidDomain)
	}
	if len(sig) != FastSignatureSize {
		return fmt.Errorf("fast: signature of %d bytes, want %d: %w", len(sig), FastSignatureSize, ErrMalformedSignature)
	}
	var acc [FastSignatureSize]byte
	k.xorSigs(&acc, d, msg)
	if [FastSignatureSize]byte(sig) != acc {
		return fmt.Errorf("fast: %v signature: %w", d, ErrInvalidSignature)
	}
	return nil
}

func (k *fastPublicKey) VerifyPossession(proof []byte) error {
	if err := k.Verify(DomainPossession, k.Bytes(), proof); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPossession, err)
	}
	return nil
}

type fastPrivateKey struct {
	sk [FastPrivateKeySize]byte
	pk *fastPublicKey
}

var _ PrivateKey = (*fastPrivateKey)(nil)

func newFastPrivateKey(sk [FastPrivateKeySize]byte) *fastPrivateKey {
	return &fastPrivateKey{sk: sk, pk: newFastPublicKey(Sum([]byte(fastPKPrefix), sk[:]))}
}

func (k *fastPrivateKey) PublicKey() PublicKey { return k.pk }

func (k *fastPrivateKey) Bytes() []byte { return append([]byte(nil), k.sk[:]...) }

// String keeps the secret out of logs, for symmetry with BLS.
func (k *fastPrivateKey) String() string { return "fast-private-key(" + k.pk.String() + ")" }

// Sign refuses DomainPossession for the same reason as the BLS key: proofs of
// possession come only from ProvePossession.
func (k *fastPrivateKey) Sign(d Domain, msg []byte) ([]byte, error) {
	if d == DomainPossession {
		return nil, fmt.Errorf("fast: sign with ProvePossession, not Sign(%v): %w", d, ErrInvalidDomain)
	}
	if !d.Valid() {
		return nil, fmt.Errorf("fast: %v: %w", d, ErrInvalidDomain)
	}
	var s [FastSignatureSize]byte
	fastSign(&s, &k.pk.members[0], d, msg)
	return s[:], nil
}

func (k *fastPrivateKey) ProvePossession() ([]byte, error) {
	var s [FastSignatureSize]byte
	fastSign(&s, &k.pk.members[0], DomainPossession, k.pk.members[0][:])
	return s[:], nil
}
