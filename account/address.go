package account

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"strings"

	"github.com/floe-bft/floe/consensus/model"
)

// The address code is the extended binary BCH code [64,45,8]: BCH(63,45)
// corrects 3 errors (designed distance 7), and an overall parity bit makes
// every codeword's weight even, raising the minimum distance to 8. Two valid
// addresses of one chain therefore differ in at least 8 bits, and any
// address with 1 to 7 flipped bits is refused (Flow uses a [64,45,7] code
// for the same reason: a typo must not reach somebody else's account).
const (
	// bchGenerator is g(x) = m1(x)·m3(x)·m5(x) over GF(2), the minimal
	// polynomials of α, α³, α⁵ in GF(2⁶) = GF(2)[x]/(x⁶+x+1):
	// (x⁶+x+1)(x⁶+x⁴+x²+x+1)(x⁶+x⁵+x²+x+1). Degree 18. The tests derive it
	// again from the field.
	bchGenerator = 0x782cf
	// checkBits is the degree of g: the BCH parity bits of a codeword.
	checkBits = 18
	// IndexBits is the width of an account index.
	IndexBits = 45
	// MaxIndex is the largest account index an address can encode.
	MaxIndex = 1<<IndexBits - 1
	// ServiceIndex is the index of the service account, the first account
	// of every chain.
	ServiceIndex = 1
)

// Address names an account: 8 bytes, big-endian, a codeword of the address
// code XORed with the chain's constant.
type Address [8]byte

// ZeroAddress is never valid on any chain (its un-shifted word is the chain
// constant, which is not a codeword).
var ZeroAddress Address

// bchRemainder returns c(x) mod g(x) for a polynomial of degree < 63.
func bchRemainder(c uint64) uint64 {
	for i := 62; i >= checkBits; i-- {
		if c&(1<<i) != 0 {
			c ^= bchGenerator << (i - checkBits)
		}
	}
	return c
}

// encodeIndex is the systematic codeword of index: the index in the top 45
// bits of the 63-bit BCH word, its check bits below, then the overall parity
// in bit 0 so the 64-bit word has even weight.
func encodeIndex(index uint64) uint64 {
	c := index << checkBits
	c |= bchRemainder(c)
	return c<<1 | uint64(bits.OnesCount64(c)&1)
}

// isCodeword reports whether w is a codeword: zero BCH syndrome and even
// weight.
func isCodeword(w uint64) bool {
	return bits.OnesCount64(w)&1 == 0 && bchRemainder(w>>1) == 0
}

// chainConstant derives the 64-bit word that shifts chain's addresses. It is
// never a codeword, so no chain's zero index is a valid address, and two
// chains share valid addresses only if their constants differ by a codeword
// (probability 2⁻¹⁹ for two chain IDs; the tests check the chain names in
// use).
func chainConstant(chain model.ChainID) uint64 {
	const tag = "floe/address/chain\x00"
	var b [len(tag) + 32 + 1]byte
	n := copy(b[:], tag)
	n += copy(b[n:], chain[:])
	for ctr := 0; ; ctr++ {
		b[n] = byte(ctr)
		h := sha256.Sum256(b[:])
		if k := binary.BigEndian.Uint64(h[:8]); !isCodeword(k) {
			return k
		}
		// About one chain in 2¹⁹ hashes to a codeword; the next counter
		// value almost surely does not. 256 codewords in a row would be
		// a SHA-256 break, and the loop would then repeat counters.
	}
}

// AddressAt returns the address of account index on chain. Index 0 is
// reserved (the zero word) and indexes above MaxIndex do not fit.
func AddressAt(chain model.ChainID, index uint64) (Address, error) {
	if index == 0 || index > MaxIndex {
		return Address{}, fmt.Errorf("%w: index %d outside [1, %d]", ErrInvalidAddress, index, uint64(MaxIndex))
	}
	var a Address
	binary.BigEndian.PutUint64(a[:], encodeIndex(index)^chainConstant(chain))
	return a, nil
}

// ServiceAddress is the address of chain's service account (index 1).
func ServiceAddress(chain model.ChainID) Address {
	a, _ := AddressAt(chain, ServiceIndex) // index 1 is always in range
	return a
}

// Index returns the account index a encodes on chain, or ErrInvalidAddress
// if a is not a valid address of chain.
func (a Address) Index(chain model.ChainID) (uint64, error) {
	return a.indexWith(chainConstant(chain))
}

// indexWith is Index for the chain whose constant is k.
func (a Address) indexWith(k uint64) (uint64, error) {
	w := binary.BigEndian.Uint64(a[:]) ^ k
	if !isCodeword(w) {
		return 0, fmt.Errorf("%w: %s is not an address of this chain", ErrInvalidAddress, a.Hex())
	}
	index := w >> (checkBits + 1)
	if index == 0 {
		return 0, fmt.Errorf("%w: %s encodes the reserved index 0", ErrInvalidAddress, a.Hex())
	}
	return index, nil
}

// Valid reports whether a is an address of chain.
func (a Address) Valid(chain model.ChainID) bool {
	_, err := a.Index(chain)
	return err == nil
}

// Hex returns "0x" and 16 lowercase hex digits.
func (a Address) Hex() string { return fmt.Sprintf("0x%016x", binary.BigEndian.Uint64(a[:])) }

// String is Hex.
func (a Address) String() string { return a.Hex() }

// ParseAddress decodes 16 hex digits (with or without "0x") and refuses
// anything that is not a valid address of chain, so a typo fails here
// instead of sending funds into an account nobody owns.
func ParseAddress(s string, chain model.ChainID) (Address, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	var a Address
	if len(h) != 2*len(a) {
		return a, fmt.Errorf("%w: %q must be 16 hex digits", ErrInvalidAddress, s)
	}
	if _, err := hex.Decode(a[:], []byte(h)); err != nil {
		return Address{}, fmt.Errorf("%w: %q: %v", ErrInvalidAddress, s, err)
	}
	if _, err := a.Index(chain); err != nil {
		return Address{}, err
	}
	return a, nil
}
