package epoch

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// Test parameters: a genesis epoch of views 0..100, safety threshold 10
// views before an epoch's final view.
const (
	testEpochViews  = 100
	testSafetyViews = 10
)

var (
	testChain  = model.Identifier(crypto.Sum([]byte("floe epoch test chain")))
	otherChain = model.Identifier(crypto.Sum([]byte("some other chain")))
	testSeed   = [32]byte(crypto.Sum([]byte("genesis seed")))
)

func u64(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// govKey is governance key i; govKey(0) and govKey(1) are the test chain's
// authorities, anything else is not.
func govKey(i int) ed25519.PrivateKey {
	seed := crypto.Sum([]byte("governance"), u64(uint64(i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

func authorities() []ed25519.PublicKey {
	return []ed25519.PublicKey{govKey(0).Public().(ed25519.PublicKey), govKey(1).Public().(ed25519.PublicKey)}
}

// identity builds member i the way genesis/keys.go does: a staking key with
// its proof of possession and an ed25519 network key, both from seeds.
func identity(t testing.TB, scheme crypto.Scheme, i int) Identity {
	t.Helper()
	seed := crypto.Sum([]byte("staking"), u64(uint64(i)))
	sk, err := scheme.KeyFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	pop, err := sk.ProvePossession()
	if err != nil {
		t.Fatal(err)
	}
	netSeed := crypto.Sum([]byte("network"), u64(uint64(i)))
	return Identity{
		Name:       fmt.Sprintf("node-%d", i),
		Role:       RoleConsensus,
		Weight:     uint64(i%3 + 1),
		StakingKey: sk.PublicKey().Bytes(),
		Possession: pop,
		NetworkKey: ed25519.NewKeyFromSeed(netSeed[:]).Public().(ed25519.PublicKey),
		Address:    fmt.Sprintf("10.0.0.%d:7000", i%250+1),
	}
}

// identities returns members first..first+n-1.
func identities(t testing.TB, scheme crypto.Scheme, first, n int) []Identity {
	t.Helper()
	ids := make([]Identity, n)
	for i := range ids {
		ids[i] = identity(t, scheme, first+i)
	}
	return ids
}

func testParams(scheme crypto.Scheme) Params {
	return Params{Chain: testChain, Scheme: scheme, EpochViews: testEpochViews, SafetyViews: testSafetyViews, Authorities: authorities()}
}

// genesisState starts a Fast-scheme state with members 0..3.
func genesisState(t testing.TB) *State {
	t.Helper()
	s, err := Genesis(testParams(crypto.Fast()), identities(t, crypto.Fast(), 0, 4), testSeed, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// nextSpec proposes epoch counter (members 10c..10c+4) for views first..final.
func nextSpec(t testing.TB, counter uint64, first, final model.View) Spec {
	t.Helper()
	return Spec{
		Counter:    counter,
		FirstView:  first,
		FinalView:  final,
		Identities: identities(t, crypto.Fast(), int(10*counter), 5),
		Seed:       crypto.Sum([]byte("seed"), u64(counter)),
	}
}

// withCollectors appends n collectors (members 100+first..) to sp's table
// and deals them into k clusters from sp's seed.
func withCollectors(t testing.TB, sp Spec, first, n, k int) Spec {
	t.Helper()
	sp.Identities = append([]Identity(nil), sp.Identities...)
	for i := 0; i < n; i++ {
		m := identity(t, crypto.Fast(), 100+first+i)
		m.Role = RoleCollection
		sp.Identities = append(sp.Identities, m)
	}
	var err error
	if sp.Clusters, err = AssignClusters(sp.Identities, sp.Seed, k); err != nil {
		t.Fatal(err)
	}
	return sp
}

// successor proposes the epoch after s's newest one, lasting testEpochViews.
func successor(t testing.TB, s *State) Spec {
	t.Helper()
	last := s.Schedule().Last()
	return nextSpec(t, last.Counter+1, last.FinalView+1, last.FinalView+testEpochViews)
}

// signed is a setup event signed by an authority of the test chain.
func signed(sp Spec) *Event { return NewSetup(testChain, sp, govKey(0)) }

// commitOf is a commit event for sp signed by an authority of the test chain.
func commitOf(sp Spec) *Event { return NewCommit(testChain, &sp, govKey(1)) }

// apply applies events at view and fails the test on an Apply error.
func apply(t testing.TB, s *State, view model.View, events ...*Event) Outcome {
	t.Helper()
	out, err := s.Apply(view, events)
	if err != nil {
		t.Fatalf("Apply(%d): %v", view, err)
	}
	if len(out.Accepted)+len(out.Rejected) != len(events) {
		t.Fatalf("Apply(%d): %d accepted + %d rejected, want %d events", view, len(out.Accepted), len(out.Rejected), len(events))
	}
	return out
}

// mustAccept applies events at view and fails unless all are accepted.
func mustAccept(t testing.TB, s *State, view model.View, events ...*Event) Outcome {
	t.Helper()
	out := apply(t, s, view, events...)
	for _, r := range out.Rejected {
		t.Fatalf("Apply(%d): %v rejected: %v", view, r.Event.Kind, r.Err)
	}
	return out
}

// mustReject applies one event at view and returns why it was rejected.
func mustReject(t testing.TB, s *State, view model.View, e *Event) error {
	t.Helper()
	out := apply(t, s, view, e)
	if len(out.Rejected) != 1 || len(out.Accepted) != 0 {
		t.Fatalf("Apply(%d): %v accepted, want rejected", view, e.Kind)
	}
	if out.Committed != nil {
		t.Fatalf("Apply(%d): rejected event committed epoch %d", view, out.Committed.Counter)
	}
	return out.Rejected[0].Err
}

// resign re-signs a modified event with governance key i.
func resign(e *Event, i int) *Event {
	e.sign(testChain, govKey(i))
	return e
}

func memberSet(ids []Identity) map[model.NodeID]bool {
	m := make(map[model.NodeID]bool, len(ids))
	for _, id := range ids {
		m[id.ID()] = true
	}
	return m
}
