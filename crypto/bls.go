package crypto

import (
	"errors"
	"fmt"

	blst "github.com/supranational/blst/bindings/go"
)

// Sizes of BLS encodings in the minimal-public-key-size variant: keys are
// compressed G1 points, signatures compressed G2 points. Keys go in the
// smaller, faster group because verifying every QC and TC aggregates up to n
// keys, while a certificate carries just one aggregate signature.
const (
	BLSPublicKeySize  = blst.BLST_P1_COMPRESS_BYTES // 48
	BLSSignatureSize  = blst.BLST_P2_COMPRESS_BYTES // 96
	BLSPrivateKeySize = blst.BLST_SCALAR_BYTES      // 32
)

// The DSTs follow the IETF BLS signature draft's proof-of-possession
// ciphersuites, prefixed with protocol and version so floe signatures never
// verify in another protocol, and (for signatures) suffixed with the domain so
// a vote never verifies as a timeout and vice versa. Possession proofs use the
// draft's separate BLS_POP_ tag so a proof is never a valid signature.
const (
	blsSigCiphersuite = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
	blsPopCiphersuite = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
	blsProtocolPrefix = "FLOE-V01-"
)

// blsDSTs is indexed by Domain. Built once so signing and verification do not
// allocate the tag each time.
var blsDSTs = [...][]byte{
	DomainVote:        []byte(blsProtocolPrefix + blsSigCiphersuite + "VOTE_"),
	DomainTimeout:     []byte(blsProtocolPrefix + blsSigCiphersuite + "TIMEOUT_"),
	DomainProposal:    []byte(blsProtocolPrefix + blsSigCiphersuite + "PROPOSAL_"),
	DomainPossession:  []byte(blsProtocolPrefix + blsPopCiphersuite),
	DomainGuarantee:   []byte(blsProtocolPrefix + blsSigCiphersuite + "GUARANTEE_"),
	DomainReceipt:     []byte(blsProtocolPrefix + blsSigCiphersuite + "RECEIPT_"),
	DomainPackRequest: []byte(blsProtocolPrefix + blsSigCiphersuite + "PACK_REQUEST_"),
}

// BLSDomainSeparationTag returns the hash-to-curve DST used for domain d, so
// that other implementations (and the docs) can be checked against this one.
// The returned slice is a copy.
func BLSDomainSeparationTag(d Domain) ([]byte, error) {
	dst, err := blsDST(d)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), dst...), nil
}

func blsDST(d Domain) ([]byte, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("bls: %v: %w", d, ErrInvalidDomain)
	}
	return blsDSTs[d], nil
}

// BLS returns the BLS12-381 scheme used by real nodes. The value is stateless
// and safe for concurrent use, as are all keys it produces.
func BLS() Scheme { return blsScheme{} }

type blsScheme struct{}

var _ Scheme = blsScheme{}

func (blsScheme) Name() string       { return "bls12-381" }
func (blsScheme) SignatureSize() int { return BLSSignatureSize }
func (blsScheme) PublicKeySize() int { return BLSPublicKeySize }

func (blsScheme) KeyFromSeed(seed []byte) (PrivateKey, error) {
	if len(seed) < 32 {
		return nil, fmt.Errorf("bls: seed of %d bytes, need at least 32: %w", len(seed), ErrMalformedKey)
	}
	sk := blst.KeyGen(seed)
	if sk == nil {
		return nil, fmt.Errorf("bls: key generation failed: %w", ErrMalformedKey)
	}
	return newBLSPrivateKey(sk), nil
}

func (blsScheme) DecodePrivateKey(b []byte) (PrivateKey, error) {
	if len(b) != BLSPrivateKeySize {
		return nil, fmt.Errorf("bls: private key of %d bytes, want %d: %w", len(b), BLSPrivateKeySize, ErrMalformedKey)
	}
	// Deserialize rejects zero and values >= the group order, so the
	// encoding is canonical and Bytes() round-trips exactly.
	sk := new(blst.SecretKey).Deserialize(b)
	if sk == nil {
		return nil, fmt.Errorf("bls: private key out of range: %w", ErrMalformedKey)
	}
	return newBLSPrivateKey(sk), nil
}

func (blsScheme) DecodePublicKey(b []byte) (PublicKey, error) {
	if len(b) != BLSPublicKeySize {
		return nil, fmt.Errorf("bls: public key of %d bytes, want %d: %w", len(b), BLSPublicKeySize, ErrMalformedKey)
	}
	p := new(blst.P1Affine).Uncompress(b)
	if p == nil {
		return nil, fmt.Errorf("bls: public key does not decode: %w", ErrMalformedKey)
	}
	// KeyValidate is the subgroup check plus rejection of the identity:
	// done once here so every later verification can skip it.
	if !p.KeyValidate() {
		return nil, fmt.Errorf("bls: public key is infinity or outside G1: %w", ErrMalformedKey)
	}
	k := &blsPublicKey{p: *p}
	copy(k.enc[:], b)
	return k, nil
}

func (blsScheme) AggregateSignatures(sigs [][]byte) ([]byte, error) {
	if len(sigs) == 0 {
		return nil, fmt.Errorf("bls: no signatures: %w", ErrEmptyAggregate)
	}
	// No subgroup check per input: the caller has normally verified each
	// signature already, and the aggregate is group-checked when verified.
	var agg blst.P2Aggregate
	if !agg.AggregateCompressed(sigs, false) {
		for i, s := range sigs {
			if len(s) != BLSSignatureSize || new(blst.P2Affine).Uncompress(s) == nil {
				return nil, fmt.Errorf("bls: signature %d does not decode: %w", i, ErrMalformedSignature)
			}
		}
		return nil, fmt.Errorf("bls: signatures do not decode: %w", ErrMalformedSignature)
	}
	return agg.ToAffine().Compress(), nil
}

func (blsScheme) AggregatePublicKeys(keys []PublicKey) (PublicKey, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("bls: no public keys: %w", ErrEmptyAggregate)
	}
	if len(keys) == 1 {
		k, err := asBLSKey(keys[0])
		if err != nil {
			return nil, err
		}
		return k, nil
	}
	pts := make([]*blst.P1Affine, len(keys))
	for i, key := range keys {
		k, err := asBLSKey(key)
		if err != nil {
			return nil, fmt.Errorf("bls: key %d: %w", i, err)
		}
		pts[i] = &k.p
	}
	// One batched cgo call (affine batch addition) rather than n calls.
	sum := blst.P1AffinesAdd(pts).ToAffine()
	// A sum of G1 points stays in G1, but could in principle be the
	// identity; proof of possession makes that unreachable for honest
	// key sets, and an identity key would verify nothing anyway.
	if sum.Equals(new(blst.P1Affine)) {
		return nil, fmt.Errorf("bls: aggregate public key is infinity: %w", ErrMalformedKey)
	}
	k := &blsPublicKey{p: *sum}
	copy(k.enc[:], sum.Compress())
	return k, nil
}

func (blsScheme) VerifyAggregate(d Domain, keys []PublicKey, msgs [][]byte, sig []byte) error {
	dst, err := blsDST(d)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("bls: no keys to verify against: %w", ErrEmptyAggregate)
	}
	if len(keys) != len(msgs) {
		// A caller bug, not a bad message: deliberately no sentinel.
		return fmt.Errorf("bls: %d keys for %d messages", len(keys), len(msgs))
	}
	pks := make([]*blst.P1Affine, len(keys))
	for i, key := range keys {
		k, err := asBLSKey(key)
		if err != nil {
			return fmt.Errorf("bls: key %d: %w", i, err)
		}
		pks[i] = &k.p
	}
	s, err := decodeBLSSignature(sig)
	if err != nil {
		return err
	}
	// Keys were validated when decoded or aggregated and the signature was
	// group-checked above, so blst is told to skip both checks. This is a
	// single multi-pairing however many messages there are; blst spreads
	// the per-message Miller loops over the available cores.
	if !s.AggregateVerify(false, pks, false, msgs, dst) {
		return fmt.Errorf("bls: aggregate %v signature over %d messages: %w", d, len(msgs), ErrInvalidSignature)
	}
	return nil
}

// decodeBLSSignature decompresses sig and checks it lies in G2. The subgroup
// check is what stops small-subgroup forgeries, so no verification path may
// skip it.
func decodeBLSSignature(sig []byte) (*blst.P2Affine, error) {
	if len(sig) != BLSSignatureSize {
		return nil, fmt.Errorf("bls: signature of %d bytes, want %d: %w", len(sig), BLSSignatureSize, ErrMalformedSignature)
	}
	s := new(blst.P2Affine).Uncompress(sig)
	if s == nil {
		return nil, fmt.Errorf("bls: signature does not decode: %w", ErrMalformedSignature)
	}
	if !s.SigValidate(false) {
		return nil, fmt.Errorf("bls: signature outside G2: %w", ErrMalformedSignature)
	}
	return s, nil
}

var errForeignKey = errors.New("not a BLS public key")

func asBLSKey(k PublicKey) (*blsPublicKey, error) {
	bk, ok := k.(*blsPublicKey)
	if !ok || bk == nil {
		return nil, fmt.Errorf("bls: %T: %w: %w", k, errForeignKey, ErrMalformedKey)
	}
	return bk, nil
}

// blsPublicKey is immutable after construction, which is what makes it safe
// to share between goroutines. The decompressed, validated point is cached so
// that verification never decompresses or subgroup-checks a key again.
type blsPublicKey struct {
	p   blst.P1Affine
	enc [BLSPublicKeySize]byte
}

var _ PublicKey = (*blsPublicKey)(nil)

func (k *blsPublicKey) Bytes() []byte {
	out := make([]byte, BLSPublicKeySize)
	copy(out, k.enc[:])
	return out
}

func (k *blsPublicKey) String() string { return fmt.Sprintf("bls:%x", k.enc[:6]) }

func (k *blsPublicKey) Verify(d Domain, msg, sig []byte) error {
	dst, err := blsDST(d)
	if err != nil {
		return err
	}
	s, err := decodeBLSSignature(sig)
	if err != nil {
		return err
	}
	if !s.Verify(false, &k.p, false, msg, dst) {
		return fmt.Errorf("bls: %v signature: %w", d, ErrInvalidSignature)
	}
	return nil
}

func (k *blsPublicKey) VerifyPossession(proof []byte) error {
	if err := k.Verify(DomainPossession, k.enc[:], proof); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPossession, err)
	}
	return nil
}

// blsPrivateKey holds the secret scalar and the derived public key; both are
// read-only after construction.
type blsPrivateKey struct {
	sk *blst.SecretKey
	pk *blsPublicKey
}

var _ PrivateKey = (*blsPrivateKey)(nil)

func newBLSPrivateKey(sk *blst.SecretKey) *blsPrivateKey {
	pk := &blsPublicKey{}
	pk.p.From(sk)
	copy(pk.enc[:], pk.p.Compress())
	return &blsPrivateKey{sk: sk, pk: pk}
}

func (k *blsPrivateKey) PublicKey() PublicKey { return k.pk }

func (k *blsPrivateKey) Bytes() []byte { return k.sk.Serialize() }

// String keeps the secret out of logs: without it %v would print the scalar.
func (k *blsPrivateKey) String() string { return "bls-private-key(" + k.pk.String() + ")" }

// Sign refuses DomainPossession: a possession proof is only ever over the
// signer's own key and must come from ProvePossession, so the key cannot be
// coaxed into producing possession-domain signatures over chosen bytes.
func (k *blsPrivateKey) Sign(d Domain, msg []byte) ([]byte, error) {
	if d == DomainPossession {
		return nil, fmt.Errorf("bls: sign with ProvePossession, not Sign(%v): %w", d, ErrInvalidDomain)
	}
	return k.sign(d, msg)
}

func (k *blsPrivateKey) sign(d Domain, msg []byte) ([]byte, error) {
	dst, err := blsDST(d)
	if err != nil {
		return nil, err
	}
	s := new(blst.P2Affine).Sign(k.sk, msg, dst)
	if s == nil {
		return nil, fmt.Errorf("bls: signing failed")
	}
	return s.Compress(), nil
}

func (k *blsPrivateKey) ProvePossession() ([]byte, error) {
	return k.sign(DomainPossession, k.pk.enc[:])
}
