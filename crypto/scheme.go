// Package crypto holds the signature schemes floe signs consensus messages with.
//
// The consensus core never touches a concrete scheme: it signs through a
// PrivateKey and the adapter verifies through PublicKey and Scheme. Two schemes
// implement the same interfaces:
//
//   - BLS (BLS12-381 via supranational/blst, public keys in G1, signatures in
//     G2, proof-of-possession ciphersuite) for real nodes, and
//   - Fast, a keyed-hash scheme with no security at all, so the deterministic
//     simulator can run millions of views. It must never be used by a node.
//
// Every signature is bound to a Domain so that a signature made for one kind
// of message can never be replayed as another kind.
package crypto

import (
	"errors"
	"fmt"
)

// Domain separates the message kinds floe signs. The domain is folded into the
// hash-to-curve domain separation tag (BLS) or the hashed input (Fast).
type Domain uint8

// The signing domains. Values are part of the wire format and must not change.
const (
	DomainVote        Domain = 1 // a vote for (view, block ID)
	DomainTimeout     Domain = 2 // a timeout for (view, newest QC view)
	DomainProposal    Domain = 3 // a leader's signature over a proposed block
	DomainPossession  Domain = 4 // proof of possession of a staking key
	DomainGuarantee   Domain = 5 // a collection guarantee share: (cluster chain, collection ID, reference block)
	DomainReceipt     Domain = 6 // an execution receipt: (main chain, block ID, height, state root)
	DomainPackRequest Domain = 7 // a request for a chunk data pack: (main chain, chunk ID, time)
)

// String names the domain for logs and errors.
func (d Domain) String() string {
	switch d {
	case DomainVote:
		return "vote"
	case DomainTimeout:
		return "timeout"
	case DomainProposal:
		return "proposal"
	case DomainPossession:
		return "possession"
	case DomainGuarantee:
		return "guarantee"
	case DomainReceipt:
		return "receipt"
	case DomainPackRequest:
		return "pack request"
	default:
		return fmt.Sprintf("domain(%d)", uint8(d))
	}
}

// Valid reports whether d is one of the defined domains.
func (d Domain) Valid() bool { return d >= DomainVote && d <= DomainPackRequest }

// Expected, benign errors. Anything else returned by this package is a bug.
var (
	// ErrInvalidSignature: a signature (single or aggregate) did not verify.
	ErrInvalidSignature = errors.New("invalid signature")
	// ErrMalformedKey: bytes that do not decode to a valid public or private key.
	ErrMalformedKey = errors.New("malformed key")
	// ErrMalformedSignature: bytes that do not decode to a valid signature.
	ErrMalformedSignature = errors.New("malformed signature")
	// ErrInvalidPossession: a proof of possession did not verify.
	ErrInvalidPossession = errors.New("invalid proof of possession")
	// ErrEmptyAggregate: nothing to aggregate or verify against.
	ErrEmptyAggregate = errors.New("empty aggregate")
	// ErrInvalidDomain: a domain value outside the defined set.
	ErrInvalidDomain = errors.New("invalid signing domain")
)

// PrivateKey signs messages. Signing is deterministic: the same key, domain
// and message always give the same signature.
type PrivateKey interface {
	// PublicKey returns the matching public key.
	PublicKey() PublicKey
	// Sign signs msg under domain d.
	Sign(d Domain, msg []byte) ([]byte, error)
	// ProvePossession signs the public key's own bytes under DomainPossession,
	// which is what protects aggregate verification against rogue keys.
	ProvePossession() ([]byte, error)
	// Bytes returns the secret key's canonical encoding (for key files).
	Bytes() []byte
}

// PublicKey verifies signatures by one signer, or by an aggregate of signers
// (see Scheme.AggregatePublicKeys).
type PublicKey interface {
	// Bytes returns the canonical compressed encoding.
	Bytes() []byte
	// Verify checks sig over msg under domain d. It returns nil or an error
	// wrapping ErrInvalidSignature / ErrMalformedSignature.
	Verify(d Domain, msg, sig []byte) error
	// VerifyPossession checks a proof of possession for this key.
	VerifyPossession(proof []byte) error
}

// Scheme is a signature scheme with aggregation.
type Scheme interface {
	// Name identifies the scheme ("bls12-381", "fast-insecure").
	Name() string
	// KeyFromSeed derives a private key deterministically from at least 32
	// bytes of seed (keygen, tests, the simulator).
	KeyFromSeed(seed []byte) (PrivateKey, error)
	// DecodePrivateKey decodes PrivateKey.Bytes().
	DecodePrivateKey(b []byte) (PrivateKey, error)
	// DecodePublicKey decodes and validates PublicKey.Bytes() (subgroup and
	// infinity checks for BLS).
	DecodePublicKey(b []byte) (PublicKey, error)
	// AggregateSignatures combines signatures into one. It checks that each
	// input decodes; it does not verify them. Order does not matter.
	AggregateSignatures(sigs [][]byte) ([]byte, error)
	// AggregatePublicKeys combines keys so that the result verifies an
	// aggregate of signatures over one common message.
	AggregatePublicKeys(keys []PublicKey) (PublicKey, error)
	// VerifyAggregate checks one aggregate signature over distinct messages:
	// keys[i] (typically itself an aggregate of everyone who signed msgs[i])
	// signed msgs[i] under domain d. len(keys) == len(msgs) > 0. This is one
	// multi-pairing whatever the number of signers: a TC is verified by
	// grouping its signers by newest-QC view, one key per distinct message.
	VerifyAggregate(d Domain, keys []PublicKey, msgs [][]byte, sig []byte) error
	// SignatureSize is the length of an encoded signature in bytes.
	SignatureSize() int
	// PublicKeySize is the length of an encoded public key in bytes.
	PublicKeySize() int
}
