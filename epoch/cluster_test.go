package epoch

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

func seedN(i int) [32]byte { return crypto.Sum([]byte("deal seed"), u64(uint64(i))) }

func TestDealIsABalancedDeterministicPermutation(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 64, 1000} {
		items := make([]int, n)
		for i := range items {
			items[i] = i
		}
		for _, k := range []int{1, 2, 3, 10, 64} {
			t.Run(fmt.Sprintf("n=%d/k=%d", n, k), func(t *testing.T) {
				got := Deal(seedN(1), items, k)
				if len(got) != k {
					t.Fatalf("%d groups, want %d", len(got), k)
				}
				if again := Deal(seedN(1), items, k); !reflect.DeepEqual(again, got) {
					t.Fatal("the same seed dealt differently")
				}
				var all []int
				smallest, largest := n, 0
				for _, g := range got {
					all = append(all, g...)
					smallest, largest = min(smallest, len(g)), max(largest, len(g))
				}
				if largest-smallest > 1 {
					t.Fatalf("group sizes %d..%d differ by more than one", smallest, largest)
				}
				slices.Sort(all)
				if !slices.Equal(all, items) {
					t.Fatalf("not a permutation of the items: %v", all)
				}
			})
		}
	}
}

func TestDealDependsOnTheSeed(t *testing.T) {
	items := make([]int, 64)
	for i := range items {
		items[i] = i
	}
	seen := map[string]int{}
	for s := 0; s < 20; s++ {
		key := fmt.Sprint(Deal(seedN(s), items, 4))
		if prev, ok := seen[key]; ok {
			t.Fatalf("seeds %d and %d deal 64 items identically", prev, s)
		}
		seen[key] = s
	}
	// The shuffle moves items: the identity order would be a deal that
	// ignores the seed.
	flat := slices.Concat(Deal(seedN(0), items, 1)...)
	if slices.Equal(flat, items) {
		t.Fatal("the shuffle left 64 items in order")
	}
}

func TestDealLeavesItsInputAlone(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	Deal(seedN(3), items, 2)
	if !slices.Equal(items, []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("Deal reordered its input: %v", items)
	}
	if Deal(seedN(3), items, 0) != nil || Deal(seedN(3), items, -1) != nil {
		t.Fatal("a deal into no groups is not nil")
	}
}

// TestDealIsPinned: clusters are consensus data (every node recomputes a
// setup's clusters and refuses a setup whose clusters differ), so the
// algorithm must never change silently between builds. A change here is a
// protocol change.
func TestDealIsPinned(t *testing.T) {
	got := DealClusters(ClusterSeed(seedN(7)), []uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 3)
	want := [][]uint16{{4, 8, 9, 10}, {5, 7, 12}, {3, 6, 11}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DealClusters = %v, want %v", got, want)
	}
}

func TestStreamIsSHA256OfSeedAndCounter(t *testing.T) {
	seed := seedN(9)
	s := stream{seed: seed}
	for block := uint64(0); block < 3; block++ {
		h := sha256.Sum256(append(seed[:], binary.BigEndian.AppendUint64(nil, block)...))
		for i := 0; i < 4; i++ {
			if got, want := s.next(), binary.BigEndian.Uint64(h[8*i:]); got != want {
				t.Fatalf("block %d word %d = %x, want %x", block, i, got, want)
			}
		}
	}
}

func TestUniformRejectsTheBiasedTail(t *testing.T) {
	feed := func(xs ...uint64) func() uint64 {
		return func() uint64 {
			x := xs[0]
			xs = xs[1:]
			return x
		}
	}
	// 2^64 mod 3 = 1: the top value would make 0 likelier than 1 and 2;
	// it is drawn again.
	if got := uniform(feed(math.MaxUint64, 5), 3); got != 2 {
		t.Fatalf("uniform(3) after the biased value = %d, want 2 (the next draw, 5 mod 3)", got)
	}
	if got := uniform(feed(math.MaxUint64-1, 5), 3); got != (math.MaxUint64-1)%3 {
		t.Fatalf("uniform(3) rejected an unbiased value: %d", got)
	}
	// 2^64 mod 1000 = 616: the 616 top values are rejected.
	if got := uniform(feed(math.MaxUint64-615, math.MaxUint64-616), 1000); got != (math.MaxUint64-616)%1000 {
		t.Fatalf("uniform(1000) = %d", got)
	}
	// A power of two divides 2^64: nothing is rejected.
	if got := uniform(feed(math.MaxUint64), 8); got != 7 {
		t.Fatalf("uniform(8) = %d, want 7", got)
	}
	if got := uniform(feed(math.MaxUint64), 1); got != 0 {
		t.Fatalf("uniform(1) = %d, want 0", got)
	}
}

func TestClusterSeedIsDomainSeparated(t *testing.T) {
	src := seedN(1)
	want := sha256.Sum256(append([]byte("floe/clusters\x00"), src[:]...))
	if got := ClusterSeed(src); got != want || got == src {
		t.Fatalf("ClusterSeed = %x, want %x (and not the source itself)", got, want)
	}
}

// roleTable is n consensus members and c collectors, interleaved, after an
// execution and an access member, so that collectors are not contiguous.
func roleTable(t testing.TB, n, c int) []Identity {
	t.Helper()
	roles := []Role{RoleExecution, RoleAccess}
	for n > 0 || c > 0 {
		if n > 0 {
			roles, n = append(roles, RoleConsensus), n-1
		}
		if c > 0 {
			roles, c = append(roles, RoleCollection), c-1
		}
	}
	ids := make([]Identity, len(roles))
	for i, r := range roles {
		ids[i] = identity(t, crypto.Fast(), 200+i)
		ids[i].Role = r
	}
	return ids
}

func TestAssignClustersDealsTheCollectorsOnly(t *testing.T) {
	ids := roleTable(t, 4, 9)
	clusters, err := AssignClusters(ids, testSeed, 4)
	if err != nil {
		t.Fatal(err)
	}
	var dealt []uint16
	for _, c := range clusters {
		if !slices.IsSorted(c) {
			t.Fatalf("cluster %v is not sorted", c)
		}
		dealt = append(dealt, c...)
	}
	slices.Sort(dealt)
	var want []uint16
	for i, m := range ids {
		if m.Role == RoleCollection {
			want = append(want, uint16(i))
		}
	}
	if !slices.Equal(dealt, want) {
		t.Fatalf("dealt %v, the collectors are %v", dealt, want)
	}
	if !reflect.DeepEqual(clusters, DealClusters(ClusterSeed(testSeed), want, 4)) {
		t.Fatal("AssignClusters is not DealClusters under ClusterSeed")
	}
	other, _ := AssignClusters(ids, seedN(2), 4)
	if reflect.DeepEqual(other, clusters) {
		t.Fatal("another random source deals the same clusters")
	}
}

func TestAssignClustersCount(t *testing.T) {
	many := make([]Identity, MaxClusters+1)
	for i := range many {
		many[i].Role = RoleCollection
	}
	none := roleTable(t, 4, 0)
	three := roleTable(t, 4, 3)
	tests := []struct {
		name string
		ids  []Identity
		k    int
		ok   bool
	}{
		{"no collectors, no clusters", none, 0, true},
		{"no collectors, one cluster", none, 1, false},
		{"collectors, no clusters", three, 0, false},
		{"collectors, negative", three, -1, false},
		{"one cluster", three, 1, true},
		{"one collector each", three, 3, true},
		{"more clusters than collectors", three, 4, false},
		{"MaxClusters", many, MaxClusters, true},
		{"over MaxClusters", many, MaxClusters + 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := AssignClusters(tc.ids, testSeed, tc.k)
			if tc.ok != (err == nil) {
				t.Fatalf("AssignClusters(k=%d) = %v", tc.k, err)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if err == nil && len(c) != tc.k {
				t.Fatalf("%d clusters, want %d", len(c), tc.k)
			}
		})
	}
	if DefaultClusters(none) != 0 || DefaultClusters(three) != 1 {
		t.Fatal("DefaultClusters: want 0 without collectors, 1 with")
	}
}

func clusteredSpec(t testing.TB) Spec {
	t.Helper()
	return withCollectors(t, nextSpec(t, 1, 101, 200), 0, 7, 3)
}

func TestEpochClusters(t *testing.T) {
	sp := clusteredSpec(t)
	e := mustEpoch(t, sp)
	main := model.MainChain("floe-test")
	seen := map[model.NodeID]bool{}
	for i := range e.Clusters {
		members, chain := e.Cluster(i, main)
		if chain != model.ClusterChain(main, 1, uint32(i)) {
			t.Fatalf("cluster %d runs on %x, want ClusterChain(main, 1, %d)", i, chain, i)
		}
		if len(members) != len(sp.Clusters[i]) {
			t.Fatalf("cluster %d has %d members, the spec lists %d", i, len(members), len(sp.Clusters[i]))
		}
		for _, m := range members {
			if m.Role != RoleCollection || seen[m.ID()] {
				t.Fatalf("cluster %d lists %s (role %v, seen %v)", i, m.Name, m.Role, seen[m.ID()])
			}
			seen[m.ID()] = true
			if got, ok := e.ClusterOfNode(m.ID()); !ok || got != i {
				t.Fatalf("ClusterOfNode(%s) = %d, %v; want %d", m.Name, got, ok, i)
			}
		}
	}
	if len(seen) != 7 || len(e.Members(RoleCollection)) != 7 {
		t.Fatalf("%d collectors in clusters, %d members of the role; want 7", len(seen), len(e.Members(RoleCollection)))
	}
	for _, m := range e.Members(RoleConsensus) {
		if _, ok := e.ClusterOfNode(m.ID()); ok {
			t.Fatalf("consensus member %s is in a cluster", m.Name)
		}
	}
	if m, chain := e.Cluster(3, main); m != nil || chain != model.ZeroID {
		t.Fatal("Cluster beyond the last one returned members")
	}
	if m, _ := e.Cluster(-1, main); m != nil {
		t.Fatal("Cluster(-1) returned members")
	}
	// Without collectors there is no cluster to route to.
	if got := mustEpoch(t, nextSpec(t, 1, 101, 200)).ClusterOfTx([32]byte{1}); got != -1 {
		t.Fatalf("ClusterOfTx without clusters = %d, want -1", got)
	}
}

func TestClusterOfTxIsTheIDModK(t *testing.T) {
	e := mustEpoch(t, clusteredSpec(t))
	k := big.NewInt(int64(len(e.Clusters)))
	counts := make([]int, len(e.Clusters))
	for i := 0; i < 3000; i++ {
		id := crypto.Sum([]byte("tx"), u64(uint64(i)))
		if i == 0 {
			id = [32]byte{31: 5}
		} else if i == 1 {
			for j := range id {
				id[j] = 0xFF
			}
		}
		want := new(big.Int).Mod(new(big.Int).SetBytes(id[:]), k)
		got := e.ClusterOfTx(id)
		if int64(got) != want.Int64() {
			t.Fatalf("ClusterOfTx(%x) = %d, want %d", id, got, want)
		}
		counts[got]++
	}
	for i, c := range counts {
		if c < 800 {
			t.Fatalf("cluster %d got %d of 3000 transactions: routing is lopsided (%v)", i, c, counts)
		}
	}
}

// TestCommitteeIsConsensusOnly: members of other roles never weigh in the
// main chain's committee, however heavy.
func TestCommitteeIsConsensusOnly(t *testing.T) {
	plain := nextSpec(t, 1, 101, 10_000)
	heavy := withCollectors(t, plain, 0, 3, 1)
	heavy.Identities[len(heavy.Identities)-1].Weight = 1 << 50
	for _, role := range []Role{RoleExecution, RoleAccess} {
		m := identity(t, crypto.Fast(), 150+int(role))
		m.Role, m.Weight = role, 1<<50
		heavy.Identities = append(heavy.Identities, m)
	}
	// Appending members after the collectors keeps their indices, so the
	// clusters dealt above still hold.
	a, b := mustEpoch(t, plain).Committee(), mustEpoch(t, heavy).Committee()
	if a.Size() != b.Size() || a.TotalWeight() != b.TotalWeight() || a.SupermajorityThreshold() != b.SupermajorityThreshold() || a.OneThirdThreshold() != b.OneThirdThreshold() {
		t.Fatalf("committee with heavy non-consensus members: size %d weight %d supermajority %d; without: %d %d %d",
			b.Size(), b.TotalWeight(), b.SupermajorityThreshold(), a.Size(), a.TotalWeight(), a.SupermajorityThreshold())
	}
	for v := model.View(101); v <= 10_000; v++ {
		if a.Leader(v) != b.Leader(v) {
			t.Fatalf("view %d: leader changes when non-consensus members join", v)
		}
	}
	for _, m := range heavy.Identities[len(plain.Identities):] {
		if _, err := b.Index(m.ID()); err == nil {
			t.Fatalf("%s (%v) is in the committee", m.Name, m.Role)
		}
	}
}

func TestNoConsensusMemberIsInvalid(t *testing.T) {
	sp := withCollectors(t, nextSpec(t, 1, 101, 200), 0, 3, 1)
	for i := 0; i < 5; i++ {
		sp.Identities[i].Role = RoleExecution
	}
	if _, err := New(crypto.Fast(), sp); !errors.Is(err, ErrInvalid) {
		t.Fatalf("New without consensus members = %v, want ErrInvalid", err)
	}
}

func TestNonConsensusPossessionIsChecked(t *testing.T) {
	sp := clusteredSpec(t)
	last := len(sp.Identities) - 1
	sp.Identities[last].Possession = identity(t, crypto.Fast(), 99).Possession
	if _, err := New(crypto.Fast(), sp); !errors.Is(err, ErrInvalid) {
		t.Fatalf("collector with another key's proof of possession: New = %v, want ErrInvalid", err)
	}
}

func TestKeyUnderTwoRolesIsInvalid(t *testing.T) {
	sp := nextSpec(t, 1, 101, 200)
	dup := sp.Identities[0]
	dup.Name, dup.Role = "twin", RoleExecution
	sp.Identities = append(sp.Identities, dup)
	if err := sp.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate = %v, want ErrInvalid", err)
	}
}

func TestRoleNames(t *testing.T) {
	for _, r := range Roles() {
		got, err := ParseRole(r.String())
		if err != nil || got != r {
			t.Fatalf("ParseRole(%q) = %v, %v", r.String(), got, err)
		}
	}
	want := map[Role]string{1: "consensus", 2: "collection", 3: "execution", 4: "access", 0: "role(0)", 5: "role(5)"}
	for r, name := range want {
		if r.String() != name || r.Valid() != (r >= 1 && r <= 4) {
			t.Fatalf("Role(%d): %q valid %v", uint8(r), r.String(), r.Valid())
		}
	}
	for _, s := range []string{"", "verification", "Consensus", "validator"} {
		if _, err := ParseRole(s); !errors.Is(err, ErrInvalid) {
			t.Fatalf("ParseRole(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestDecodeRejectsUnknownRoleAndOversizedClusters(t *testing.T) {
	sp := nextSpec(t, 1, 101, 200)
	b := sp.Encode()
	// The first member's role byte follows the spec header, the member
	// count and the member's length-prefixed name.
	off := 8 + 8 + 8 + 32 + 2 + 2 + len(sp.Identities[0].Name)
	if b[off] != byte(RoleConsensus) {
		t.Fatalf("byte %d is %d, not the first member's role", off, b[off])
	}
	for _, role := range []byte{0, 5, 0xFF} {
		c := slices.Clone(b)
		c[off] = role
		if _, err := DecodeSpec(c); err == nil {
			t.Fatalf("a member of role %d decodes", role)
		}
	}
	// The cluster count ends the encoding (no clusters here).
	c := slices.Clone(b)
	binary.BigEndian.PutUint16(c[len(c)-2:], MaxClusters+1)
	if _, err := DecodeSpec(c); err == nil {
		t.Fatal("a spec claiming MaxClusters+1 clusters decodes")
	}
	// One cluster claiming more members than the table has.
	c = binary.BigEndian.AppendUint16(slices.Clone(b[:len(b)-2]), 1)
	c = binary.BigEndian.AppendUint16(c, uint16(len(sp.Identities)+1))
	if _, err := DecodeSpec(c); err == nil {
		t.Fatal("a cluster larger than the identity table decodes")
	}
}

func TestStateAcceptsClusteredSetupAndRejectsTamperedClusters(t *testing.T) {
	s := genesisState(t)
	sp := withCollectors(t, successor(t, s), 0, 8, 3)
	tampered := withCollectors(t, successor(t, s), 0, 8, 3)
	tampered.Clusters[0][0], tampered.Clusters[2][0] = tampered.Clusters[2][0], tampered.Clusters[0][0]
	slices.Sort(tampered.Clusters[0])
	slices.Sort(tampered.Clusters[2])
	ev := signed(tampered)
	if err := mustReject(t, s, 1, ev); !errors.Is(err, ErrInvalid) {
		t.Fatalf("tampered clusters rejected with %v, want ErrInvalid", err)
	}
	if _, err := DecodeEvent(ev.Encode()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("DecodeEvent of tampered clusters = %v, want ErrInvalid", err)
	}
	mustAccept(t, s, 2, signed(sp))
	out := mustAccept(t, s, 3, commitOf(sp))
	if out.Committed == nil || !reflect.DeepEqual(out.Committed.Clusters, sp.Clusters) {
		t.Fatal("the committed epoch lost its clusters")
	}
	// The clusters survive persistence.
	d, err := Decode(s.Params(), s.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Schedule().Last(); !reflect.DeepEqual(got.Clusters, sp.Clusters) || got.Committee().Size() != 5 {
		t.Fatalf("decoded state: clusters %v, committee of %d", got.Clusters, got.Committee().Size())
	}
}
