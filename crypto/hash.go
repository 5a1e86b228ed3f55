package crypto

import "crypto/sha256"

// HashSize is the length of a Sum digest in bytes.
const HashSize = sha256.Size

// Sum returns SHA-256 over the concatenation of parts. It exists so that every
// package derives IDs (block IDs, message digests) the same way without
// building a temporary concatenated buffer: the parts are streamed into one
// hasher that the compiler keeps on the stack, so Sum does not allocate.
//
// Concatenation is not injective on its own ("ab"+"c" == "a"+"bc"); callers
// that hash variable-length fields must length-prefix them or fix their sizes.
func Sum(parts ...[]byte) [HashSize]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p) // never fails for hash.Hash
	}
	var out [HashSize]byte
	h.Sum(out[:0])
	return out
}
