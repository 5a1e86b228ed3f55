package committee

import (
	"crypto/sha256"
	"sync"

	"github.com/floe-bft/floe/crypto"
)

// Proofs of possession are checked every time a committee is built, and
// with epochs the same members appear in committee after committee: a light
// client fast-forwarding a year of weekly epochs would otherwise verify the
// same proofs 52 times (a BLS pairing each). Whether a proof verifies is a
// pure function of (key, proof), so successes are remembered, keyed by the
// hash of both, in a bounded set. Failures are never cached.
var possessionCache = struct {
	sync.Mutex
	ok    map[[32]byte]struct{}
	order [][32]byte
}{ok: make(map[[32]byte]struct{})}

// possessionCacheSize bounds the remembered proofs (32 bytes each).
const possessionCacheSize = 4096

// VerifyPossession checks a proof of possession of key, through the same
// cache as committee construction. Identity tables call it for members
// outside the committee (collectors and the other roles), whose keys sign
// elsewhere and need the same protection against rogue keys.
func VerifyPossession(key crypto.PublicKey, possession []byte) error {
	h := sha256.New()
	kb := key.Bytes()
	h.Write([]byte{byte(len(kb) >> 8), byte(len(kb))})
	h.Write(kb)
	h.Write(possession)
	var k [32]byte
	h.Sum(k[:0])
	possessionCache.Lock()
	_, seen := possessionCache.ok[k]
	possessionCache.Unlock()
	if seen {
		return nil
	}
	if err := key.VerifyPossession(possession); err != nil {
		return err
	}
	possessionCache.Lock()
	defer possessionCache.Unlock()
	if _, seen := possessionCache.ok[k]; !seen {
		if len(possessionCache.order) >= possessionCacheSize {
			delete(possessionCache.ok, possessionCache.order[0])
			possessionCache.order = possessionCache.order[1:]
		}
		possessionCache.ok[k] = struct{}{}
		possessionCache.order = append(possessionCache.order, k)
	}
	return nil
}

// ForgetVerifiedPossessions empties the cache of verified proofs of
// possession. Benchmarks call it so that the verification they measure
// starts cold, as in a fresh light client process.
func ForgetVerifiedPossessions() {
	possessionCache.Lock()
	defer possessionCache.Unlock()
	possessionCache.ok = make(map[[32]byte]struct{})
	possessionCache.order = nil
}
