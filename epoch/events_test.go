package epoch

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/floe-bft/floe/crypto"
)

// sampleEvents are a valid setup and its commit.
func sampleEvents(t testing.TB) (setup, commit *Event) {
	t.Helper()
	sp := nextSpec(t, 1, testEpochViews+1, 2*testEpochViews)
	return signed(sp), commitOf(sp)
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindSetup: "EpochSetup", KindCommit: "EpochCommit", 0: "kind(0)", 9: "kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

func TestEventSignVerify(t *testing.T) {
	setup, commit := sampleEvents(t)
	for _, e := range []*Event{setup, commit} {
		if err := e.Verify(testChain, authorities()); err != nil {
			t.Errorf("%v: Verify: %v", e.Kind, err)
		}
		// The signer alone is enough; order of authorities does not matter.
		if err := e.Verify(testChain, []ed25519.PublicKey{e.Authority}); err != nil {
			t.Errorf("%v: Verify with only its signer: %v", e.Kind, err)
		}
		rev := authorities()
		rev[0], rev[1] = rev[1], rev[0]
		if err := e.Verify(testChain, rev); err != nil {
			t.Errorf("%v: Verify with authorities reordered: %v", e.Kind, err)
		}
	}
	if !bytes.Equal(setup.Authority, govKey(0).Public().(ed25519.PublicKey)) {
		t.Error("setup authority is not the signing key's public key")
	}
	sp := setup.Setup
	if commit.Commit.Counter != sp.Counter || commit.Commit.SetupID != sp.ID() {
		t.Errorf("commit names epoch %d setup %x, want %d %x", commit.Commit.Counter, commit.Commit.SetupID, sp.Counter, sp.ID())
	}
	if len(commit.Commit.StakingKeys) != len(sp.Identities) {
		t.Fatalf("commit repeats %d keys, setup has %d", len(commit.Commit.StakingKeys), len(sp.Identities))
	}
	for i, k := range commit.Commit.StakingKeys {
		if !bytes.Equal(k, sp.Identities[i].StakingKey) {
			t.Errorf("commit key %d differs from the setup's", i)
		}
	}
}

func TestEventVerifyRejects(t *testing.T) {
	setup, commit := sampleEvents(t)
	outsider := NewSetup(testChain, *setup.Setup, govKey(7))
	tests := []struct {
		name  string
		event *Event
		chain [32]byte
		auths []ed25519.PublicKey
		want  error
	}{
		{"setup for another chain", setup, otherChain, authorities(), ErrInvalid},
		{"commit for another chain", commit, otherChain, authorities(), ErrInvalid},
		{"signed by a non-governance key", outsider, testChain, authorities(), ErrRejected},
		{"no authorities at all", setup, testChain, nil, ErrRejected},
		{"signer not among the authorities", setup, testChain, authorities()[1:], ErrRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.event.Verify(tc.chain, tc.auths)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			other := ErrRejected
			if tc.want == ErrRejected {
				other = ErrInvalid
			}
			if errors.Is(err, other) {
				t.Fatalf("Verify = %v, wraps both %v and %v", err, tc.want, other)
			}
		})
	}
}

// cloneEvent deep-copies an event via its encoding.
func cloneEvent(t testing.TB, e *Event) *Event {
	t.Helper()
	c, err := DecodeEvent(e.Encode())
	if err != nil {
		t.Fatalf("DecodeEvent: %v", err)
	}
	return c
}

func TestEventTampered(t *testing.T) {
	tests := []struct {
		name   string
		commit bool
		tamper func(e *Event)
	}{
		{"setup counter", false, func(e *Event) { e.Setup.Counter++ }},
		{"setup first view", false, func(e *Event) { e.Setup.FirstView-- }},
		{"setup final view", false, func(e *Event) { e.Setup.FinalView++ }},
		{"setup seed", false, func(e *Event) { e.Setup.Seed[0] ^= 1 }},
		{"member weight", false, func(e *Event) { e.Setup.Identities[2].Weight++ }},
		{"member address", false, func(e *Event) { e.Setup.Identities[0].Address = "evil:1" }},
		{"member staking key", false, func(e *Event) { e.Setup.Identities[1].StakingKey[0] ^= 1 }},
		{"member network key", false, func(e *Event) { e.Setup.Identities[1].NetworkKey[5] ^= 1 }},
		{"member dropped", false, func(e *Event) { e.Setup.Identities = e.Setup.Identities[1:] }},
		{"member role", false, func(e *Event) { e.Setup.Identities[1].Role = RoleExecution }},
		{"commit counter", true, func(e *Event) { e.Commit.Counter++ }},
		{"commit setup ID", true, func(e *Event) { e.Commit.SetupID[31] ^= 1 }},
		{"commit key", true, func(e *Event) { e.Commit.StakingKeys[0][3] ^= 1 }},
		{"commit key dropped", true, func(e *Event) { e.Commit.StakingKeys = e.Commit.StakingKeys[1:] }},
		{"signature bit", false, func(e *Event) { e.Signature[10] ^= 0x40 }},
		{"commit signature bit", true, func(e *Event) { e.Signature[63] ^= 1 }},
		// Another governance key that did not sign it.
		{"authority swapped", false, func(e *Event) { e.Authority = authorities()[1] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setup, commit := sampleEvents(t)
			e := setup
			if tc.commit {
				e = commit
			}
			e = cloneEvent(t, e)
			tc.tamper(e)
			if err := e.Verify(testChain, authorities()); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify of tampered event = %v, want ErrInvalid", err)
			}
			// Sanity: the same change, re-signed, is a valid event, so it
			// was the signature that caught it.
			if err := resign(e, 0).Verify(testChain, authorities()); err != nil && !strings.Contains(tc.name, "signature") {
				t.Fatalf("re-signed tampered event: %v", err)
			}
		})
	}
}

// malformedEvents are events of invalid shape, each signed by a governance
// key so that only the shape is wrong.
func malformedEvents(t testing.TB) map[string]*Event {
	t.Helper()
	setupWith := func(f func(sp *Spec)) *Event {
		sp := nextSpec(t, 1, testEpochViews+1, 2*testEpochViews)
		f(&sp)
		return signed(sp)
	}
	commitWith := func(f func(c *Commit)) *Event {
		_, e := sampleEvents(t)
		f(e.Commit)
		return resign(e, 1)
	}
	setup, commit := sampleEvents(t)
	// The member count is checked before anything else, so copies will do.
	many := slices.Repeat(identities(t, crypto.Fast(), 0, 1), MaxMembers+1)
	return map[string]*Event{
		"duplicate member": setupWith(func(sp *Spec) {
			dup := sp.Identities[1]
			dup.Name = "impostor"
			sp.Identities = append(sp.Identities, dup)
		}),
		"zero weight":           setupWith(func(sp *Spec) { sp.Identities[0].Weight = 0 }),
		"short network key":     setupWith(func(sp *Spec) { sp.Identities[0].NetworkKey = sp.Identities[0].NetworkKey[:31] }),
		"long network key":      setupWith(func(sp *Spec) { sp.Identities[0].NetworkKey = append(sp.Identities[0].NetworkKey, 0) }),
		"no network key":        setupWith(func(sp *Spec) { sp.Identities[0].NetworkKey = nil }),
		"empty committee":       setupWith(func(sp *Spec) { sp.Identities = nil }),
		"too many members":      setupWith(func(sp *Spec) { sp.Identities = many }),
		"empty name":            setupWith(func(sp *Spec) { sp.Identities[0].Name = "" }),
		"name too long":         setupWith(func(sp *Spec) { sp.Identities[0].Name = strings.Repeat("n", MaxNameLen+1) }),
		"empty address":         setupWith(func(sp *Spec) { sp.Identities[0].Address = "" }),
		"address too long":      setupWith(func(sp *Spec) { sp.Identities[0].Address = strings.Repeat("a", MaxAddressLen+1) }),
		"no staking key":        setupWith(func(sp *Spec) { sp.Identities[0].StakingKey = nil }),
		"no possession proof":   setupWith(func(sp *Spec) { sp.Identities[0].Possession = nil }),
		"staking key too long":  setupWith(func(sp *Spec) { sp.Identities[0].StakingKey = make([]byte, maxKeyLen+1) }),
		"ends before it starts": setupWith(func(sp *Spec) { sp.FinalView = sp.FirstView - 1 }),
		"unknown role":          setupWith(func(sp *Spec) { sp.Identities[0].Role = 5 }),
		"no role":               setupWith(func(sp *Spec) { sp.Identities[0].Role = 0 }),
		"no consensus member": setupWith(func(sp *Spec) {
			for i := range sp.Identities {
				sp.Identities[i].Role = RoleAccess
			}
		}),
		"collectors without clusters": setupWith(func(sp *Spec) { sp.Identities[0].Role = RoleCollection }),
		"clusters without collectors": setupWith(func(sp *Spec) { sp.Clusters = [][]uint16{{0}} }),
		"cluster member swapped": setupWith(func(sp *Spec) {
			*sp = withCollectors(t, *sp, 0, 6, 2)
			sp.Clusters[0][0], sp.Clusters[1][0] = sp.Clusters[1][0], sp.Clusters[0][0]
		}),
		"consensus member in a cluster": setupWith(func(sp *Spec) {
			*sp = withCollectors(t, *sp, 0, 6, 2)
			sp.Clusters[0][0] = 0
		}),
		"collector left out": setupWith(func(sp *Spec) {
			*sp = withCollectors(t, *sp, 0, 6, 2)
			sp.Clusters[1] = sp.Clusters[1][1:]
		}),
		"clusters merged": setupWith(func(sp *Spec) {
			// Two of three clusters merged: a list of two clusters, but not
			// the deal into two (whose sizes would be 3 and 3).
			*sp = withCollectors(t, *sp, 0, 6, 3)
			sp.Clusters = [][]uint16{slices.Concat(sp.Clusters[0], sp.Clusters[1]), sp.Clusters[2]}
			slices.Sort(sp.Clusters[0])
		}),
		"more clusters than collectors": setupWith(func(sp *Spec) {
			*sp = withCollectors(t, *sp, 0, 2, 2)
			sp.Clusters = append(sp.Clusters, nil)
		}),
		"no clusters for collectors": setupWith(func(sp *Spec) {
			*sp = withCollectors(t, *sp, 0, 2, 1)
			sp.Clusters = nil
		}),
		"commit of no keys":         commitWith(func(c *Commit) { c.StakingKeys = nil }),
		"commit of too many keys":   commitWith(func(c *Commit) { c.StakingKeys = make([][]byte, MaxMembers+1) }),
		"setup kind without body":   {Kind: KindSetup, Authority: setup.Authority, Signature: setup.Signature},
		"commit kind without body":  {Kind: KindCommit, Authority: commit.Authority, Signature: commit.Signature},
		"setup kind with both":      resign(&Event{Kind: KindSetup, Setup: setup.Setup, Commit: commit.Commit}, 0),
		"commit kind with both":     resign(&Event{Kind: KindCommit, Setup: setup.Setup, Commit: commit.Commit}, 0),
		"unknown kind":              resign(&Event{Kind: 3, Setup: setup.Setup}, 0),
		"short signature":           &Event{Kind: KindSetup, Setup: setup.Setup, Authority: setup.Authority, Signature: setup.Signature[:63]},
		"short authority":           &Event{Kind: KindSetup, Setup: setup.Setup, Authority: setup.Authority[:31], Signature: setup.Signature},
		"missing authority and sig": {Kind: KindCommit, Commit: commit.Commit},
	}
}

func TestEventMalformedShape(t *testing.T) {
	for name, e := range malformedEvents(t) {
		t.Run(name, func(t *testing.T) {
			if err := e.Verify(testChain, authorities()); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify = %v, want ErrInvalid", err)
			}
			switch name {
			case "setup kind without body", "commit kind without body":
				return // nothing to encode
			case "setup kind with both", "commit kind with both":
				// Only the body of the event's kind is encoded (and
				// signed), so the encoding is a valid event.
				if _, err := DecodeEvent(e.Encode()); err != nil {
					t.Fatalf("DecodeEvent: %v", err)
				}
				return
			}
			// The defect survives encoding, and decoding refuses it.
			if d, err := DecodeEvent(e.Encode()); !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeEvent = %+v, %v; want ErrInvalid", d, err)
			}
		})
	}
}

func TestEventEncodeDecode(t *testing.T) {
	setup, commit := sampleEvents(t)
	for _, e := range []*Event{setup, commit} {
		t.Run(e.Kind.String(), func(t *testing.T) {
			b := e.Encode()
			d, err := DecodeEvent(b)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if !bytes.Equal(d.Encode(), b) {
				t.Fatal("re-encoding differs")
			}
			if d.ID() != e.ID() {
				t.Fatal("ID changed by a round trip")
			}
			if d.Kind != e.Kind || !bytes.Equal(d.Authority, e.Authority) || !bytes.Equal(d.Signature, e.Signature) {
				t.Fatal("kind, authority or signature changed by a round trip")
			}
			if e.Setup != nil && !reflect.DeepEqual(*d.Setup, *e.Setup) {
				t.Fatalf("setup changed:\n got %+v\nwant %+v", *d.Setup, *e.Setup)
			}
			if e.Commit != nil && !reflect.DeepEqual(*d.Commit, *e.Commit) {
				t.Fatalf("commit changed:\n got %+v\nwant %+v", *d.Commit, *e.Commit)
			}
			if err := d.Verify(testChain, authorities()); err != nil {
				t.Fatalf("decoded event does not verify: %v", err)
			}
			// The decoded event owns its bytes.
			b[len(b)-1] ^= 1
			if err := d.Verify(testChain, authorities()); err != nil {
				t.Fatalf("decoded event aliases its input: %v", err)
			}
		})
	}
	if setup.ID() == commit.ID() {
		t.Fatal("setup and commit share an ID")
	}
}

func TestDecodeEventTruncatedAndGarbage(t *testing.T) {
	setup, commit := sampleEvents(t)
	for _, e := range []*Event{setup, commit} {
		b := e.Encode()
		for n := 0; n < len(b); n++ {
			if _, err := DecodeEvent(b[:n]); !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v truncated to %d of %d bytes: err = %v, want ErrInvalid", e.Kind, n, len(b), err)
			}
		}
		if _, err := DecodeEvent(append(bytes.Clone(b), 0)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%v with a trailing byte: err = %v, want ErrInvalid", e.Kind, err)
		}
		// Every single-byte corruption either fails to decode or decodes
		// canonically; it never panics.
		for i := range b {
			c := bytes.Clone(b)
			c[i] ^= 0xA5
			if d, err := DecodeEvent(c); err == nil && !bytes.Equal(d.Encode(), c) {
				t.Fatalf("%v corrupted at byte %d decodes non-canonically", e.Kind, i)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		g := make([]byte, rng.IntN(600))
		for j := range g {
			g[j] = byte(rng.Uint32())
		}
		if i%2 == 0 && len(g) > 0 {
			g[0] = byte(KindSetup + Kind(i%4/2)) // a plausible kind byte
		}
		if d, err := DecodeEvent(g); err == nil && !bytes.Equal(d.Encode(), g) {
			t.Fatalf("garbage %x decodes non-canonically", g)
		}
	}
	for _, b := range [][]byte{nil, {}, {0}, {1}, {2}, {0xFF}, {2, 0, 0, 0, 0, 0, 0, 0, 1}} {
		if _, err := DecodeEvent(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeEvent(%x) = %v, want ErrInvalid", b, err)
		}
	}
}

func TestDecodeEventRejectsOversizedCounts(t *testing.T) {
	// A commit claiming MaxMembers+1 keys, and a setup claiming
	// MaxMembers+1 identities, are refused from the count alone.
	_, commit := sampleEvents(t)
	b := commit.Encode()
	off := 1 + 8 + 32
	binary.BigEndian.PutUint16(b[off:], MaxMembers+1)
	if _, err := DecodeEvent(b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("commit with %d keys: err = %v", MaxMembers+1, err)
	}
	setup, _ := sampleEvents(t)
	b = setup.Encode()
	off = 1 + 8 + 8 + 8 + 32
	binary.BigEndian.PutUint16(b[off:], 0xFFFF)
	if _, err := DecodeEvent(b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("setup with 65535 identities: err = %v", err)
	}
}

func mustSetup(t testing.TB) *Event {
	setup, _ := sampleEvents(t)
	return setup
}
