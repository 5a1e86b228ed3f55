package epoch

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/floe-bft/floe/crypto"
)

// fuzzSeeds are valid encodings of a setup and a commit.
func fuzzSeeds(f *testing.F) (setup, commit *Event) {
	f.Helper()
	return sampleEvents(f)
}

// FuzzDecodeEvent: DecodeEvent never panics; what it accepts has a valid
// shape, re-encodes to exactly the input, and verifies (or fails cleanly).
func FuzzDecodeEvent(f *testing.F) {
	setup, commit := fuzzSeeds(f)
	f.Add(setup.Encode())
	f.Add(commit.Encode())
	// A setup with every role and three clusters, and its commit.
	roles := clusteredSpec(f)
	roles.Identities[1].Role, roles.Identities[2].Role = RoleExecution, RoleAccess
	f.Add(signed(roles).Encode())
	f.Add(commitOf(roles).Encode())
	f.Add([]byte{})
	f.Add([]byte{byte(KindCommit)})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			if e != nil {
				t.Fatal("DecodeEvent returned an event with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !bytes.Equal(e.Encode(), b) {
			t.Fatalf("non-canonical encoding accepted:\n in %x\nout %x", b, e.Encode())
		}
		if err := e.checkShape(); err != nil {
			t.Fatalf("decoded event of invalid shape: %v", err)
		}
		if err := e.Verify(testChain, authorities()); err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrRejected) {
			t.Fatalf("Verify: unexpected error %v", err)
		}
		// Applying it to a state never fails the block.
		s := genesisState(t)
		if _, err := s.Apply(1, []*Event{e}); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	})
}

// FuzzDecodeSpec: DecodeSpec never panics; what it accepts re-encodes to
// exactly the input and has only known roles, and New either builds an
// epoch whose clusters are the recomputed deal or refuses it as invalid.
func FuzzDecodeSpec(f *testing.F) {
	plain := nextSpec(f, 1, 101, 200)
	f.Add(plain.Encode())
	roles := clusteredSpec(f)
	roles.Identities[1].Role = RoleAccess
	f.Add(roles.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := DecodeSpec(b)
		if err != nil {
			return
		}
		if !bytes.Equal(sp.Encode(), b) {
			t.Fatalf("non-canonical encoding accepted:\n in %x\nout %x", b, sp.Encode())
		}
		for _, m := range sp.Identities {
			if !m.Role.Valid() {
				t.Fatalf("decoded member %q of unknown role %d", m.Name, m.Role)
			}
		}
		e, err := New(crypto.Fast(), sp)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("New: error %v does not wrap ErrInvalid", err)
			}
			return
		}
		want, err := AssignClusters(e.Identities, e.Seed, len(e.Clusters))
		if err != nil || !slices.EqualFunc(want, e.Clusters, slices.Equal) {
			t.Fatalf("accepted clusters %v are not the deal %v (%v)", e.Clusters, want, err)
		}
		if e.Committee().Size() != len(e.Members(RoleConsensus)) {
			t.Fatalf("committee of %d, %d consensus members", e.Committee().Size(), len(e.Members(RoleConsensus)))
		}
	})
}
