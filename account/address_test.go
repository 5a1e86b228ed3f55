package account

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
)

var (
	chainA = model.MainChain("test")
	chainB = model.MainChain("other")
)

// gf64 is GF(2⁶) = GF(2)[x]/(x⁶+x+1), by exp/log tables.
type gf64 struct{ exp, log [64]int }

func newGF64() *gf64 {
	f := &gf64{}
	x := 1
	for i := range 63 {
		f.exp[i] = x
		f.log[x] = i
		x <<= 1
		if x&64 != 0 {
			x ^= 0b1000011
		}
	}
	return f
}

func (f *gf64) mul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	return f.exp[(f.log[a]+f.log[b])%63]
}

// minimalPoly returns the minimal polynomial of α^r over GF(2) as a bit
// mask: the product of (x − α^e) over the cyclotomic coset of r.
func (f *gf64) minimalPoly(t *testing.T, r int) uint64 {
	poly := []int{1} // coefficients in GF(64), low degree first
	seen := map[int]bool{}
	for e := r; !seen[e]; e = e * 2 % 63 {
		seen[e] = true
		root := f.exp[e]
		next := make([]int, len(poly)+1)
		for i, c := range poly {
			next[i+1] ^= c
			next[i] ^= f.mul(c, root)
		}
		poly = next
	}
	var m uint64
	for i, c := range poly {
		if c > 1 {
			t.Fatalf("minimal polynomial of α^%d has a coefficient outside GF(2)", r)
		}
		m |= uint64(c) << i
	}
	return m
}

func polyMul(a, b uint64) uint64 {
	var r uint64
	for ; b != 0; b >>= 1 {
		if b&1 != 0 {
			r ^= a
		}
		a <<= 1
	}
	return r
}

func TestGeneratorIsLCMOfMinimalPolynomials(t *testing.T) {
	f := newGF64()
	m1, m3, m5 := f.minimalPoly(t, 1), f.minimalPoly(t, 3), f.minimalPoly(t, 5)
	if m1 == m3 || m1 == m5 || m3 == m5 {
		t.Fatal("minimal polynomials not distinct: lcm is not the product")
	}
	if g := polyMul(polyMul(m1, m3), m5); g != bchGenerator {
		t.Fatalf("generator %#x, derived %#x", bchGenerator, g)
	}
	// g divides x⁶³ − 1 (x⁶³ mod g == 1), so the code is cyclic of length
	// 63. bchRemainder takes degree < 63: reduce x⁶² · x by hand.
	r := bchRemainder(1 << 62)
	r <<= 1
	if r&(1<<checkBits) != 0 {
		r ^= bchGenerator
	}
	if r != 1 {
		t.Fatalf("x^63 mod g = %#x, want 1", r)
	}
}

// TestMinimumDistanceEight proves d ≥ 8 exhaustively: all 41,728 error
// patterns of weight ≤ 3 on the 63 BCH bits have distinct syndromes, so no
// nonzero BCH codeword has weight ≤ 6 (d ≥ 7); the parity bit makes every
// extended codeword's weight even, so d ≥ 8.
func TestMinimumDistanceEight(t *testing.T) {
	seen := make(map[uint64]uint64, 41728)
	add := func(e uint64) {
		s := bchRemainder(e)
		if prev, ok := seen[s]; ok {
			t.Fatalf("patterns %#x and %#x share syndrome %#x", prev, e, s)
		}
		seen[s] = e
	}
	add(0)
	for i := range 63 {
		add(1 << i)
		for j := range i {
			add(1<<i | 1<<j)
			for k := range j {
				add(1<<i | 1<<j | 1<<k)
			}
		}
	}
	if len(seen) != 1+63+1953+39711 {
		t.Fatalf("%d patterns", len(seen))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		w := encodeIndex(rng.Uint64N(MaxIndex) + 1)
		if !isCodeword(w) || bits.OnesCount64(w)%2 != 0 {
			t.Fatalf("encodeIndex gave non-codeword %#x", w)
		}
		if bits.OnesCount64(w) < 8 {
			t.Fatalf("codeword %#x of weight %d", w, bits.OnesCount64(w))
		}
	}
}

func TestDetectsAllErrorsUpToWeight4(t *testing.T) {
	for _, index := range []uint64{1, 2, MaxIndex} {
		a, err := AddressAt(chainA, index)
		if err != nil {
			t.Fatal(err)
		}
		w := binary.BigEndian.Uint64(a[:])
		// Weights 1 and 2 go through Valid; all weights through the
		// codeword test Valid rests on, without re-deriving the chain
		// constant and formatting an error 680k times.
		k := chainConstant(chainA)
		try := func(e uint64) {
			var b Address
			binary.BigEndian.PutUint64(b[:], w^e)
			if isCodeword(w^e^k) || bits.OnesCount64(e) <= 2 && b.Valid(chainA) {
				t.Fatalf("address %s with error %#x (weight %d) accepted", a, e, bits.OnesCount64(e))
			}
		}
		n := 0
		for i := range 64 {
			try(1 << i)
			n++
			for j := range i {
				try(1<<i | 1<<j)
				n++
				for k := range j {
					try(1<<i | 1<<j | 1<<k)
					n++
					for l := range k {
						try(1<<i | 1<<j | 1<<k | 1<<l)
						n++
					}
				}
			}
		}
		if n != 64+2016+41664+635376 {
			t.Fatalf("%d patterns", n)
		}
	}
}

func TestDetectsSampledErrorsOfWeight5To7(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a := ServiceAddress(chainA)
	w := binary.BigEndian.Uint64(a[:])
	for weight := 5; weight <= 7; weight++ {
		for range 20000 {
			var e uint64
			for bits.OnesCount64(e) < weight {
				e |= 1 << rng.IntN(64)
			}
			var b Address
			binary.BigEndian.PutUint64(b[:], w^e)
			if b.Valid(chainA) {
				t.Fatalf("error %#x of weight %d accepted", e, weight)
			}
		}
	}
}

func TestAddressRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	indexes := []uint64{1, 2, 3, 1000, MaxIndex}
	for range 200 {
		indexes = append(indexes, rng.Uint64N(MaxIndex)+1)
	}
	for _, i := range indexes {
		a, err := AddressAt(chainA, i)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := a.Index(chainA); err != nil || got != i {
			t.Fatalf("index %d: Index = %d, %v", i, got, err)
		}
		s := a.Hex()
		if len(s) != 18 || !strings.HasPrefix(s, "0x") {
			t.Fatalf("Hex %q", s)
		}
		for _, form := range []string{s, s[2:], strings.ToUpper(s[2:])} {
			if b, err := ParseAddress(form, chainA); err != nil || b != a {
				t.Fatalf("ParseAddress(%q) = %s, %v", form, b, err)
			}
		}
	}
	if ServiceAddress(chainA) != must(AddressAt(chainA, 1)) {
		t.Fatal("service address is not index 1")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestAddressRefusals(t *testing.T) {
	for _, i := range []uint64{0, MaxIndex + 1, 1 << 63} {
		if _, err := AddressAt(chainA, i); !errors.Is(err, ErrInvalidAddress) {
			t.Fatalf("AddressAt(%d) error %v", i, err)
		}
	}
	if ZeroAddress.Valid(chainA) || ZeroAddress.Valid(chainB) {
		t.Fatal("zero address valid")
	}
	// The chain constant alone encodes index 0: refused.
	var zero Address
	binary.BigEndian.PutUint64(zero[:], chainConstant(chainA))
	if zero.Valid(chainA) {
		t.Fatal("index 0 valid")
	}
	s := ServiceAddress(chainA).Hex()
	// Every one-character typo is refused.
	for i := 2; i < len(s); i++ {
		for _, c := range "0123456789abcdef" {
			if byte(c) == s[i] {
				continue
			}
			typo := s[:i] + string(c) + s[i+1:]
			if _, err := ParseAddress(typo, chainA); !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("typo %s accepted (%v)", typo, err)
			}
		}
	}
	for _, bad := range []string{"", "0x", s[:17], s + "0", "0xzz" + s[4:], " " + s[1:]} {
		if _, err := ParseAddress(bad, chainA); !errors.Is(err, ErrInvalidAddress) {
			t.Fatalf("ParseAddress(%q) error %v", bad, err)
		}
	}
}

func TestAddressesAreChainSpecific(t *testing.T) {
	names := []string{"test", "other", "testchain", "floe-sim", "localnet", "mainnet", "testnet", "devnet", "emulator"}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, x := range names {
		for _, y := range names {
			if x == y {
				continue
			}
			cx, cy := model.MainChain(x), model.MainChain(y)
			for _, i := range []uint64{1, 2, rng.Uint64N(MaxIndex) + 1} {
				a := must(AddressAt(cx, i))
				if a.Valid(cy) {
					t.Fatalf("address %d of %q valid on %q", i, x, y)
				}
				if _, err := ParseAddress(a.Hex(), cy); !errors.Is(err, ErrInvalidAddress) {
					t.Fatalf("ParseAddress across chains: %v", err)
				}
			}
		}
	}
}

// TestChainConstantNeverACodeword: "codeword-193724" is a chain name whose
// first hash is a codeword (found by search, about one name in 2¹⁹); its
// constant must come from the next counter value, or its zero index would
// be a valid address and its addresses valid on the chains that share its
// syndrome.
func TestChainConstantNeverACodeword(t *testing.T) {
	chain := model.MainChain("codeword-193724")
	k := chainConstant(chain)
	if isCodeword(k) {
		t.Fatalf("constant %#x is a codeword", k)
	}
	var zero Address
	binary.BigEndian.PutUint64(zero[:], k)
	if zero.Valid(chain) {
		t.Fatal("index 0 valid")
	}
	a := must(AddressAt(chain, 5))
	if i, err := a.Index(chain); err != nil || i != 5 {
		t.Fatal(i, err)
	}
	if a.Valid(chainA) || must(AddressAt(chainA, 5)).Valid(chain) {
		t.Fatal("addresses valid across chains")
	}
}
