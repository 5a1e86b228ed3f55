package committee_test

import (
	"encoding/binary"
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

var (
	testKeys []crypto.PublicKey
	testPops [][]byte
)

// pop is the proof of possession for key(t, i).
func pop(t testing.TB, i int) []byte {
	key(t, i)
	return testPops[i]
}

func key(t testing.TB, i int) crypto.PublicKey {
	t.Helper()
	for len(testKeys) <= i {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(len(testKeys))+1)
		k, err := crypto.Fast().KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		p, err := k.ProvePossession()
		if err != nil {
			t.Fatal(err)
		}
		testKeys = append(testKeys, k.PublicKey())
		testPops = append(testPops, p)
	}
	return testKeys[i]
}

func nodeID(i int) model.NodeID {
	return crypto.Sum([]byte("member"), binary.BigEndian.AppendUint64(nil, uint64(i)))
}

func members(t testing.TB, weights ...uint64) []committee.Member {
	t.Helper()
	ms := make([]committee.Member, len(weights))
	for i, w := range weights {
		ms[i] = committee.Member{ID: nodeID(i), Weight: w, StakingKey: key(t, i), Possession: pop(t, i)}
	}
	return ms
}

func mustNew(t testing.TB, ms []committee.Member, seed [32]byte) *committee.Committee {
	t.Helper()
	c, err := committee.New(ms, seed)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestThresholdExamples(t *testing.T) {
	for _, tc := range []struct {
		weights       []uint64
		total         uint64
		super, oneThd uint64
	}{
		{[]uint64{1, 1, 1, 1}, 4, 3, 2},
		{[]uint64{1, 1, 1}, 3, 3, 2},
		{[]uint64{1}, 1, 1, 1},
		{[]uint64{1, 1}, 2, 2, 1},
		{[]uint64{1, 1, 1, 1, 1, 1, 1}, 7, 5, 3},
		{[]uint64{25, 25, 25, 25}, 100, 67, 34},
		{[]uint64{3, 1, 1, 1}, 6, 5, 3},
		{[]uint64{10, 20, 30, 40}, 100, 67, 34},
		{[]uint64{5, 4}, 9, 7, 4},
		{[]uint64{1 << 59, 1 << 59}, 1 << 60, (1<<61)/3 + 1, (1<<60)/3 + 1},
	} {
		c := mustNew(t, members(t, tc.weights...), [32]byte{})
		if c.TotalWeight() != tc.total || c.SupermajorityThreshold() != tc.super || c.OneThirdThreshold() != tc.oneThd {
			t.Errorf("weights %v: total %d super %d one-third %d, want %d %d %d", tc.weights,
				c.TotalWeight(), c.SupermajorityThreshold(), c.OneThirdThreshold(), tc.total, tc.super, tc.oneThd)
		}
	}
}

// smallestAbove returns the smallest w with 3w > num·total (num = 1 or 2),
// by definition, computed with big integers.
func smallestAbove(total uint64, num int64) uint64 {
	t := new(big.Int).Mul(new(big.Int).SetUint64(total), big.NewInt(num))
	w := new(big.Int).Quo(t, big.NewInt(3)) // floor
	for {
		if new(big.Int).Mul(w, big.NewInt(3)).Cmp(t) > 0 {
			return w.Uint64()
		}
		w.Add(w, big.NewInt(1))
	}
}

// TestThresholdDefinition checks both thresholds against their definition
// ("smallest weight strictly greater than 2/3 (1/3) of the total") by brute
// force for totals 1..300, with the total split over varying members.
func TestThresholdDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for total := uint64(1); total <= 300; total++ {
		// Split total into up to 7 positive weights.
		n := 1 + rng.IntN(7)
		if uint64(n) > total {
			n = int(total)
		}
		weights := make([]uint64, n)
		left := total
		for i := range weights {
			if i == n-1 {
				weights[i] = left
				break
			}
			w := 1 + rng.Uint64N(left-uint64(n-1-i))
			weights[i] = w
			left -= w
		}
		c := mustNew(t, members(t, weights...), [32]byte{})
		if c.TotalWeight() != total {
			t.Fatalf("weights %v: total %d", weights, c.TotalWeight())
		}
		super, third := c.SupermajorityThreshold(), c.OneThirdThreshold()
		// Brute force: scan every candidate weight.
		var wantSuper, wantThird uint64
		for w := uint64(0); w <= total; w++ {
			if wantSuper == 0 && 3*w > 2*total {
				wantSuper = w
			}
			if wantThird == 0 && 3*w > total {
				wantThird = w
			}
		}
		if super != wantSuper || third != wantThird {
			t.Fatalf("total %d: super %d one-third %d, want %d %d", total, super, third, wantSuper, wantThird)
		}
		// The quorum-intersection property the thresholds exist for: two
		// supermajorities overlap in more than a third.
		if 2*super <= total+third-1 {
			t.Fatalf("total %d: two supermajorities of %d may overlap in less than %d", total, super, third)
		}
	}
	// Large totals near the limit, checked with big integers.
	for _, total := range []uint64{committee.MaxTotalWeight, committee.MaxTotalWeight - 1, committee.MaxTotalWeight - 2, 1<<40 + 1} {
		c := mustNew(t, members(t, total), [32]byte{})
		if got, want := c.SupermajorityThreshold(), smallestAbove(total, 2); got != want {
			t.Errorf("total %d: supermajority %d, want %d", total, got, want)
		}
		if got, want := c.OneThirdThreshold(), smallestAbove(total, 1); got != want {
			t.Errorf("total %d: one-third %d, want %d", total, got, want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	dup := members(t, 1, 1, 1)
	dup[2].ID = dup[0].ID
	zero := members(t, 1, 0, 1)
	nilKey := members(t, 1, 1, 1)
	nilKey[1].StakingKey = nil
	tooHeavy := members(t, committee.MaxTotalWeight, 1)
	overflow := members(t, 1<<63, 1<<63, 5)
	tooMany := make([]committee.Member, model.MaxCommitteeSize+1)
	for i := range tooMany {
		tooMany[i] = committee.Member{ID: nodeID(i), Weight: 1, StakingKey: key(t, 0), Possession: pop(t, 0)}
	}
	for name, ms := range map[string][]committee.Member{
		"empty": nil, "duplicate ID": dup, "zero weight": zero, "nil key": nilKey,
		"total above limit": tooHeavy, "overflowing weights": overflow, "too many members": tooMany,
	} {
		if c, err := committee.New(ms, [32]byte{}); err == nil {
			t.Errorf("%s: accepted (total %d)", name, c.TotalWeight())
		}
	}
	if _, err := committee.New(members(t, committee.MaxTotalWeight), [32]byte{}); err != nil {
		t.Errorf("total exactly at the limit rejected: %v", err)
	}
	if _, err := committee.New(tooMany[:model.MaxCommitteeSize], [32]byte{}); err != nil {
		t.Errorf("committee of %d members rejected: %v", model.MaxCommitteeSize, err)
	}
}

func TestNewDoesNotAliasInput(t *testing.T) {
	ms := members(t, 1, 2, 3)
	c := mustNew(t, ms, [32]byte{})
	before := c.Members()[0]
	ms[0], ms[1], ms[2] = ms[2], ms[0], ms[1]
	ms[0].Weight = 99
	if m := c.Members()[0]; m.ID != before.ID || m.Weight != before.Weight || c.TotalWeight() != 6 {
		t.Fatal("committee changed when the caller's slice changed")
	}
}

func TestCanonicalOrder(t *testing.T) {
	ms := members(t, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	ref := mustNew(t, ms, [32]byte{7})
	for i := 1; i < ref.Size(); i++ {
		a, b := ref.Member(i-1).ID, ref.Member(i).ID
		if string(a[:]) >= string(b[:]) {
			t.Fatalf("members %d and %d not in increasing ID order", i-1, i)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		shuffled := append([]committee.Member(nil), ms...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		c := mustNew(t, shuffled, [32]byte{7})
		for i := range c.Size() {
			if c.Member(i).ID != ref.Member(i).ID || c.Member(i).Weight != ref.Member(i).Weight {
				t.Fatalf("member %d depends on input order", i)
			}
			if idx, err := c.Index(ref.Member(i).ID); err != nil || idx != i {
				t.Fatalf("Index(member %d) = %d, %v", i, idx, err)
			}
		}
		for v := model.View(0); v < 200; v++ {
			if c.Leader(v) != ref.Leader(v) {
				t.Fatalf("leader of view %d depends on input order", v)
			}
		}
	}
}

func TestMembership(t *testing.T) {
	c := mustNew(t, members(t, 1, 2, 3), [32]byte{})
	for i, m := range c.Members() {
		if idx, err := c.Index(m.ID); err != nil || idx != i {
			t.Fatalf("Index = %d, %v", idx, err)
		}
		if c.WeightOf(m.ID) != m.Weight {
			t.Fatalf("WeightOf = %d, want %d", c.WeightOf(m.ID), m.Weight)
		}
	}
	stranger := nodeID(99)
	if _, err := c.Index(stranger); !errors.Is(err, committee.ErrNotMember) {
		t.Fatalf("Index(stranger) err %v", err)
	}
	if c.WeightOf(stranger) != 0 {
		t.Fatal("stranger has weight")
	}
}

func TestSignersWeight(t *testing.T) {
	c := mustNew(t, members(t, 1, 2, 3, 4), [32]byte{})
	s, _ := model.NewSignerSet(4)
	if w, err := c.SignersWeight(s); err != nil || w != 0 {
		t.Fatalf("empty set weight %d, %v", w, err)
	}
	s.Set(1)
	s.Set(3)
	want := c.Member(1).Weight + c.Member(3).Weight
	if w, err := c.SignersWeight(s); err != nil || w != want {
		t.Fatalf("weight %d, %v; want %d", w, err, want)
	}
	for _, size := range []int{3, 5} {
		other, _ := model.NewSignerSet(size)
		other.Set(0)
		if _, err := c.SignersWeight(other); !errors.Is(err, model.ErrInvalid) {
			t.Fatalf("signer set of size %d accepted (%v)", size, err)
		}
	}
}

func TestLeaderDeterministicMember(t *testing.T) {
	ms := members(t, 1, 5, 2, 9, 1)
	a := mustNew(t, ms, [32]byte{1, 2, 3})
	b := mustNew(t, ms, [32]byte{1, 2, 3})
	for v := model.View(0); v < 5000; v++ {
		l := a.Leader(v)
		if l != b.Leader(v) || l != a.Leader(v) {
			t.Fatalf("leader of view %d not deterministic", v)
		}
		if a.WeightOf(l) == 0 {
			t.Fatalf("leader of view %d is not a member", v)
		}
	}
	for _, v := range []model.View{1 << 63, ^model.View(0)} {
		if a.WeightOf(a.Leader(v)) == 0 {
			t.Fatalf("leader of view %d is not a member", v)
		}
	}
	single := mustNew(t, members(t, 7), [32]byte{})
	for v := model.View(0); v < 100; v++ {
		if single.Leader(v) != single.Member(0).ID {
			t.Fatal("single-member committee has another leader")
		}
	}
}

func TestLeaderStakeWeighted(t *testing.T) {
	const views = 20000
	ms := members(t, 3, 1, 1, 1)
	c := mustNew(t, ms, [32]byte{9})
	counts := make(map[model.NodeID]int)
	for v := model.View(0); v < views; v++ {
		counts[c.Leader(v)]++
	}
	heavy := float64(counts[ms[0].ID]) / views
	if heavy < 0.45 || heavy > 0.55 {
		t.Fatalf("member with weight 3/6 leads %.3f of views", heavy)
	}
	for _, m := range ms[1:] {
		share := float64(counts[m.ID]) / views
		if share < 0.13 || share > 0.20 {
			t.Fatalf("member with weight 1/6 leads %.3f of views", share)
		}
	}
	// Equal weights: each of 4 leads about a quarter.
	eq := mustNew(t, members(t, 1, 1, 1, 1), [32]byte{9})
	counts = make(map[model.NodeID]int)
	for v := model.View(0); v < views; v++ {
		counts[eq.Leader(v)]++
	}
	for _, m := range eq.Members() {
		if share := float64(counts[m.ID]) / views; share < 0.22 || share > 0.28 {
			t.Fatalf("equal-weight member leads %.3f of views", share)
		}
	}
}

func TestLeaderSeeds(t *testing.T) {
	ms := members(t, 1, 1, 1, 1, 1, 1, 1)
	a := mustNew(t, ms, [32]byte{1})
	b := mustNew(t, ms, [32]byte{2})
	c := mustNew(t, ms, [32]byte{31: 1})
	diffAB, diffAC := 0, 0
	for v := model.View(0); v < 200; v++ {
		if a.Leader(v) != b.Leader(v) {
			diffAB++
		}
		if a.Leader(v) != c.Leader(v) {
			diffAC++
		}
	}
	// Independent schedules over 7 members agree on about 1/7 of views.
	if diffAB < 120 || diffAC < 120 {
		t.Fatalf("schedules for different seeds differ in only %d and %d of 200 views", diffAB, diffAC)
	}
	// The schedule is not a simple rotation: consecutive views often repeat
	// or skip members.
	repeats := 0
	for v := model.View(1); v < 2000; v++ {
		if a.Leader(v) == a.Leader(v-1) {
			repeats++
		}
	}
	if repeats == 0 {
		t.Fatal("no member ever leads two consecutive views; schedule looks like a rotation")
	}
}

// A member must prove possession of its staking key: a missing proof, or
// another key's proof, is refused (rogue-key protection for aggregation).
func TestPossessionRequired(t *testing.T) {
	for name, p := range map[string][]byte{"missing": nil, "another key's": pop(t, 1), "garbage": {1, 2, 3}} {
		ms := members(t, 1, 1, 1)
		ms[0].Possession = p
		if _, err := committee.New(ms, [32]byte{}); err == nil {
			t.Fatalf("%s proof of possession accepted", name)
		}
	}
}

// Verified proofs are remembered, but only for the exact (key, proof) pair:
// after a member's valid proof was accepted, a wrong proof for the same key
// is still refused, and so is the same proof for another key.
func TestPossessionCacheKeyedByKeyAndProof(t *testing.T) {
	committee.ForgetVerifiedPossessions()
	ms := members(t, 1, 1, 1)
	if _, err := committee.New(ms, [32]byte{}); err != nil {
		t.Fatal(err)
	}
	bad := members(t, 1, 1, 1)
	bad[0].Possession = pop(t, 1)
	if _, err := committee.New(bad, [32]byte{}); err == nil {
		t.Fatal("another key's proof accepted after the member's own proof was cached")
	}
	swapped := members(t, 1, 1, 1)
	swapped[1].StakingKey = key(t, 0)
	swapped[1].Possession = pop(t, 0)
	swapped[0].Possession = pop(t, 1)
	if _, err := committee.New(swapped, [32]byte{}); err == nil {
		t.Fatal("a cached proof was accepted for a different key")
	}
}
