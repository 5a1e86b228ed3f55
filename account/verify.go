package account

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha3"
	"fmt"
	"math/big"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// p256HalfOrder is ⌊n/2⌋ of P-256. Signatures must have s ≤ n/2 ("low s"):
// otherwise (r, n−s) would be a second valid signature of the same message,
// and anybody could change a signed transaction's ID without its key.
// Computed per call (a shift, nothing next to a verification) rather than
// kept in a package variable somebody could modify.
func p256HalfOrder() *big.Int { return new(big.Int).Rsh(elliptic.P256().Params().N, 1) }

// ed25519Options is the one Ed25519 rule floe uses, for single and batch
// verification alike: the cofactored equation (batch verification needs
// it, and with it a batch accepts exactly what single checks accept),
// canonical encodings of A and R, no small-order A or R. Strict encodings
// make a signature non-malleable. A fresh value per call keeps the package
// free of shared mutable state.
func ed25519Options() *voi.Options {
	return &voi.Options{Verify: &voi.VerifyOptions{}}
}

// digest hashes msg for an ECDSA key.
func digest(h HashAlgo, msg []byte) ([]byte, error) {
	switch h {
	case SHA2_256:
		d := sha256.Sum256(msg)
		return d[:], nil
	case SHA3_256:
		d := sha3.Sum256(msg)
		return d[:], nil
	}
	return nil, fmt.Errorf("%w: no hash %s for ECDSA", ErrInvalidKey, h)
}

// VerifySignature checks sig over msg under key. It checks the
// cryptography only: revocation and weights are authorization rules (see
// package transaction). It returns nil, an error wrapping ErrInvalidKey
// (the key itself is unusable), or one wrapping ErrInvalidSignature.
func VerifySignature(key Key, msg, sig []byte) error {
	if err := checkAlgos(key.SigAlgo, key.HashAlgo); err != nil {
		return err
	}
	if len(sig) != SignatureSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrInvalidSignature, len(sig), SignatureSize)
	}
	switch key.SigAlgo {
	case ECDSA_P256:
		return verifyECDSA(key, msg, sig)
	default: // Ed25519, by checkAlgos
		if err := checkEd25519(key.PublicKey); err != nil {
			return err
		}
		if !voi.VerifyWithOptions(voi.PublicKey(key.PublicKey), msg, sig, ed25519Options()) {
			return ErrInvalidSignature
		}
		return nil
	}
}

func verifyECDSA(key Key, msg, sig []byte) error {
	pub, err := parseECDSA(key.PublicKey)
	if err != nil {
		return err
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(p256HalfOrder()) > 0 {
		return fmt.Errorf("%w: ECDSA s above n/2 (not low-s)", ErrInvalidSignature)
	}
	d, err := digest(key.HashAlgo, msg)
	if err != nil {
		return err
	}
	// ecdsa.Verify refuses r or s outside [1, n−1].
	if !ecdsa.Verify(pub, d, r, s) {
		return ErrInvalidSignature
	}
	return nil
}
