package light_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/light"
	blockpayload "github.com/floe-bft/floe/payload"
)

// attackChain is a two-transition BLS chain (real signatures: forgery
// tests must not use the forgeable fast scheme), with the honest proof of
// the transition to epoch 1.
type attackChain struct {
	c      *testchain.EpochChain
	src    *light.ChainSource
	honest *light.Transition
}

func newAttackChain(t *testing.T) *attackChain {
	t.Helper()
	c := newChain(t, testchain.EpochChainConfig{Epochs: 2, Collectors: 5, Clusters: 2})
	src := sourceOf(t, c)
	tr, err := src.Transition(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Commit == nil || len(tr.Setup.Blocks) != 3 {
		t.Fatalf("unexpected honest proof shape: commit %v, %d setup blocks", tr.Commit != nil, len(tr.Setup.Blocks))
	}
	return &attackChain{c: c, src: src, honest: tr}
}

// clone deep-copies a transition through its encoding, so attacks never
// touch the honest proof.
func clone(t *testing.T, tr *light.Transition) *light.Transition {
	t.Helper()
	out, err := light.DecodeTransition(tr.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func header(t *testing.T, sb light.SegmentBlock) *model.Header {
	t.Helper()
	h, _, err := model.DecodeHeader(sb.Header)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// resign rewrites a segment as a byzantine supermajority of the committee
// could: block i gets mutated, and every later block is re-linked to it
// and re-certified with real signatures. What remains wrong is only what
// the mutation did, so each attack isolates one check.
func (a *attackChain) resign(t *testing.T, s *light.Segment, i int, mutate func(h *model.Header, payload *[]byte)) {
	t.Helper()
	var prev *model.Block
	for j := i; j < len(s.Blocks); j++ {
		h := header(t, s.Blocks[j])
		payload := a.c.Blocks[h.Height].Payload
		if s.Blocks[j].Payload != nil {
			payload = s.Blocks[j].Payload
		}
		if j == i {
			mutate(h, &payload)
			h.PayloadHash = model.PayloadHash(payload)
		} else {
			qc, err := a.c.SignQC(prev.View, prev.ID())
			if err != nil {
				t.Fatal(err)
			}
			h.ParentID, h.QC = prev.ID(), qc
		}
		b, err := model.NewBlock(*h, payload)
		if err != nil {
			t.Fatal(err)
		}
		s.Blocks[j].Header = b.EncodeHeader()
		if evs, _ := blockpayload.ServiceEventsOf(payload); s.Blocks[j].Payload != nil || len(evs) > 0 {
			s.Blocks[j].Payload = payload
		}
		prev = b
	}
	if s.QC != nil {
		qc, err := a.c.SignQC(prev.View, prev.ID())
		if err != nil {
			t.Fatal(err)
		}
		s.QC = qc
	}
}

func governanceSetup(a *attackChain, k uint64, key ed25519.PrivateKey, edit func(*epoch.Spec)) *epoch.Event {
	spec := a.c.Schedule().Epochs()[k].Spec
	if edit != nil {
		edit(&spec)
	}
	return epoch.NewSetup(a.c.Params.Chain, spec, key)
}

func expect(t *testing.T, cl *light.Client, tr *light.Transition, sentinel error, fragment string) {
	t.Helper()
	before := cl.Latest()
	_, err := cl.Advance(tr)
	if !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want %v", err, sentinel)
	}
	if fragment != "" && !strings.Contains(err.Error(), fragment) {
		t.Fatalf("error %q does not mention %q", err, fragment)
	}
	if cl.Latest() != before {
		t.Fatal("a rejected proof changed the client's schedule")
	}
}

func TestForgedTransitionsAreRejected(t *testing.T) {
	a := newAttackChain(t)
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name     string
		forge    func(t *testing.T, tr *light.Transition)
		sentinel error
		fragment string
	}{
		{"bad QC signature (a real signature over another view)", func(t *testing.T, tr *light.Transition) {
			h0 := header(t, tr.Setup.Blocks[0])
			h1 := header(t, tr.Setup.Blocks[1])
			other, err := a.c.SignQC(h0.View+1, h1.QC.BlockID)
			if err != nil {
				t.Fatal(err)
			}
			qc := *h1.QC
			qc.Signature = other.Signature
			a.resign(t, tr.Setup, 1, func(h *model.Header, _ *[]byte) { h.QC = &qc })
		}, light.ErrForged, "signature"},
		{"bad QC signature on the certifying child", func(t *testing.T, tr *light.Transition) {
			h := header(t, tr.Commit.Blocks[2])
			qc := *h.QC
			qc.Signature = header(t, tr.Commit.Blocks[1]).QC.Signature
			a.resign(t, tr.Commit, 2, func(h *model.Header, _ *[]byte) { h.QC = &qc })
		}, light.ErrForged, "signature"},
		{"QC signed by a fabricated committee", func(t *testing.T, tr *light.Transition) {
			h1 := header(t, tr.Setup.Blocks[1])
			var sigs [][]byte
			for i := 0; i < h1.QC.Signers.Size(); i++ {
				seed := sha256.Sum256([]byte{byte(i), 'x'})
				sk, err := crypto.BLS().KeyFromSeed(seed[:])
				if err != nil {
					t.Fatal(err)
				}
				sig, _ := sk.Sign(crypto.DomainVote, model.VoteMessage(h1.ChainID, h1.QC.View, h1.QC.BlockID))
				sigs = append(sigs, sig)
			}
			agg, err := crypto.BLS().AggregateSignatures(sigs)
			if err != nil {
				t.Fatal(err)
			}
			qc := *h1.QC
			qc.Signature = agg
			a.resign(t, tr.Setup, 1, func(h *model.Header, _ *[]byte) { h.QC = &qc })
		}, light.ErrForged, "signature"},
		{"QC by too little weight", func(t *testing.T, tr *light.Transition) {
			h1 := header(t, tr.Setup.Blocks[1])
			weak, err := a.c.SignQCBy(h1.QC.View, h1.QC.BlockID, 1)
			if err != nil {
				t.Fatal(err)
			}
			a.resign(t, tr.Setup, 1, func(h *model.Header, _ *[]byte) { h.QC = weak })
		}, light.ErrForged, "supermajority"},
		{"broken hash link (setup block swapped for a governance-signed other)", func(t *testing.T, tr *light.Transition) {
			other := governanceSetup(a, 1, a.c.Governance, func(s *epoch.Spec) { s.Identities = s.Identities[:3] })
			h := header(t, tr.Setup.Blocks[0])
			payload := blockpayload.ServiceEvents([]*epoch.Event{other})
			h.PayloadHash = model.PayloadHash(payload)
			b, err := model.NewBlock(*h, payload)
			if err != nil {
				t.Fatal(err)
			}
			tr.Setup.Blocks[0] = light.SegmentBlock{Header: b.EncodeHeader(), Payload: payload}
		}, light.ErrForged, "hash link"},
		{"payload not matching the header's hash", func(t *testing.T, tr *light.Transition) {
			other := governanceSetup(a, 1, a.c.Governance, func(s *epoch.Spec) { s.Identities = s.Identities[:3] })
			tr.Setup.Blocks[0].Payload = blockpayload.ServiceEvents([]*epoch.Event{other})
		}, light.ErrForged, "payload"},
		{"missing commit event", func(t *testing.T, tr *light.Transition) {
			tr.Commit = nil
		}, light.ErrIncomplete, "EpochCommit"},
		{"commit segment without the commit", func(t *testing.T, tr *light.Transition) {
			seg, err := light.BuildSegment(a.c, a.c.CommitHeights[1]+1)
			if err != nil {
				t.Fatal(err)
			}
			tr.Commit = seg
		}, light.ErrIncomplete, "EpochCommit"},
		{"setup not final (certifying child dropped)", func(t *testing.T, tr *light.Transition) {
			tr.Setup.Blocks = tr.Setup.Blocks[:2]
		}, light.ErrIncomplete, "final"},
		{"commit not final", func(t *testing.T, tr *light.Transition) {
			tr.Commit.Blocks = tr.Commit.Blocks[:1]
		}, light.ErrIncomplete, "final"},
		{"setup block payload withheld", func(t *testing.T, tr *light.Transition) {
			tr.Setup.Blocks[0].Payload = nil
		}, light.ErrIncomplete, "service events"},
		{"event signed by a non-governance key (committee re-certifies)", func(t *testing.T, tr *light.Transition) {
			ev := governanceSetup(a, 1, otherKey, nil)
			a.resign(t, tr.Setup, 0, func(h *model.Header, p *[]byte) { *p = blockpayload.ServiceEvents([]*epoch.Event{ev}) })
		}, light.ErrForged, "governance"},
		{"wrong committee in setup vs commit (committee re-certifies)", func(t *testing.T, tr *light.Transition) {
			setup := a.c.Schedule().Epochs()[1].Spec
			wrong := setup
			wrong.Identities = append([]epoch.Identity(nil), setup.Identities...)
			wrong.Identities[0] = a.c.Schedule().Epochs()[0].Identities[0]
			cm := epoch.NewCommit(a.c.Params.Chain, &wrong, a.c.Governance)
			cm.Commit.SetupID = setup.ID() // names the right setup, confirms other keys
			signCommit(cm, a.c.Params.Chain, a.c.Governance)
			a.resign(t, tr.Commit, 0, func(h *model.Header, p *[]byte) { *p = blockpayload.ServiceEvents([]*epoch.Event{cm}) })
		}, light.ErrForged, "differs from the setup"},
		{"commit for another setup", func(t *testing.T, tr *light.Transition) {
			other := a.c.Schedule().Epochs()[1].Spec
			other.Seed[0] ^= 1
			cm := epoch.NewCommit(a.c.Params.Chain, &other, a.c.Governance)
			a.resign(t, tr.Commit, 0, func(h *model.Header, p *[]byte) { *p = blockpayload.ServiceEvents([]*epoch.Event{cm}) })
		}, light.ErrForged, "does not confirm"},
		{"setup with hand-placed clusters (committee re-certifies)", func(t *testing.T, tr *light.Transition) {
			ev := governanceSetup(a, 1, a.c.Governance, func(s *epoch.Spec) {
				c := [][]uint16{slices.Clone(s.Clusters[0]), slices.Clone(s.Clusters[1])}
				c[0][0], c[1][0] = c[1][0], c[0][0]
				slices.Sort(c[0])
				slices.Sort(c[1])
				s.Clusters = c
			})
			a.resign(t, tr.Setup, 0, func(h *model.Header, p *[]byte) { *p = blockpayload.ServiceEvents([]*epoch.Event{ev}) })
		}, light.ErrForged, "clusters"},
		{"setup with the wrong view range", func(t *testing.T, tr *light.Transition) {
			ev := governanceSetup(a, 1, a.c.Governance, func(s *epoch.Spec) { s.FirstView++ })
			a.resign(t, tr.Setup, 0, func(h *model.Header, p *[]byte) { *p = blockpayload.ServiceEvents([]*epoch.Event{ev}) })
		}, light.ErrForged, "starts at view"},
		{"claimed extension without a block past the final view", func(t *testing.T, tr *light.Transition) {
			seg, err := light.BuildSegment(a.c, 2)
			if err != nil {
				t.Fatal(err)
			}
			tr.Extensions = []light.Extension{{From: a.c.Schedule().Epochs()[0].FinalView, Segment: seg}}
		}, light.ErrForged, "not past"},
		{"extension that skips one", func(t *testing.T, tr *light.Transition) {
			seg, _ := light.BuildSegment(a.c, 2)
			tr.Extensions = []light.Extension{{From: a.c.Schedule().Epochs()[0].FinalView + 100, Segment: seg}}
		}, light.ErrIncomplete, "missing"},
		{"proof for another epoch", func(t *testing.T, tr *light.Transition) {
			tr.Counter = 2
		}, light.ErrIncomplete, "needs epoch 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := newClient(t, a.c)
			tr := clone(t, a.honest)
			tc.forge(t, tr)
			expect(t, cl, tr, tc.sentinel, tc.fragment)
			// The honest proof still works on the same client.
			if _, err := cl.Advance(clone(t, a.honest)); err != nil {
				t.Fatalf("honest proof after the attack: %v", err)
			}
		})
	}
}

// signCommit re-signs an edited EpochCommit with a governance key. The
// epoch package only signs what it builds itself, so this spells out the
// signed bytes (the "floe service event" domain, the chain, the body); if
// that encoding changes, the attack tests fail on a bad signature instead
// of the check they aim at.
func signCommit(e *epoch.Event, chain model.Identifier, key ed25519.PrivateKey) {
	w := codec.NewWriter(512)
	w.Fixed([]byte("floe service event\x00"))
	w.Fixed(chain[:])
	w.Uint8(uint8(epoch.KindCommit))
	w.Uint64(e.Commit.Counter)
	w.Fixed(e.Commit.SetupID[:])
	w.Uint16(uint16(len(e.Commit.StakingKeys)))
	for _, k := range e.Commit.StakingKeys {
		w.Bytes16(k)
	}
	e.Signature = ed25519.Sign(key, w.Bytes())
}
