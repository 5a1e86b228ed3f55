package light_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/light"
)

// encodings returns one honest encoding of each proof kind.
func encodings(t testing.TB) map[string][]byte {
	c := newChain(t, testchain.EpochChainConfig{Epochs: 1, Extend: map[uint64]bool{0: true}})
	src := sourceOf(t, c)
	ctx := context.Background()
	tr, err := src.Transition(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Extensions) != 1 {
		t.Fatalf("want an extension in the sample proof, got %d", len(tr.Extensions))
	}
	seg, err := src.Final(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := src.State(ctx, []byte("latest"), 0)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"transition": tr.Encode(), "segment": seg.Encode(), "state": sp.Encode()}
}

func decode(kind string, b []byte) (any, error) {
	switch kind {
	case "transition":
		return light.DecodeTransition(b)
	case "segment":
		return light.DecodeSegment(b)
	default:
		return light.DecodeStateProof(b)
	}
}

func reencode(v any) []byte {
	switch x := v.(type) {
	case *light.Transition:
		return x.Encode()
	case *light.Segment:
		return x.Encode()
	case *light.StateProof:
		return x.Encode()
	}
	return nil
}

func TestDecodersRejectTruncatedAndGarbageBodies(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for kind, enc := range encodings(t) {
		v, err := decode(kind, enc)
		if err != nil {
			t.Fatalf("%s: honest encoding: %v", kind, err)
		}
		if !bytes.Equal(reencode(v), enc) {
			t.Fatalf("%s: encoding does not round-trip", kind)
		}
		for n := 0; n < len(enc); n++ {
			if _, err := decode(kind, enc[:n]); !errors.Is(err, light.ErrMalformed) {
				t.Fatalf("%s truncated to %d of %d bytes: %v", kind, n, len(enc), err)
			}
		}
		if _, err := decode(kind, append(bytes.Clone(enc), 0)); !errors.Is(err, light.ErrMalformed) {
			t.Fatalf("%s with a trailing byte: %v", kind, err)
		}
		for i := 0; i < 200; i++ {
			garbage := make([]byte, r.IntN(4096))
			for j := range garbage {
				garbage[j] = byte(r.Uint32())
			}
			if len(garbage) > 0 {
				garbage[0] = enc[0] // get past the format tag
			}
			if _, err := decode(kind, garbage); err == nil {
				t.Fatalf("%s: %d random bytes decoded", kind, len(garbage))
			}
		}
	}
	// One kind never decodes as another.
	enc := encodings(t)
	if _, err := light.DecodeSegment(enc["transition"]); !errors.Is(err, light.ErrMalformed) {
		t.Fatalf("transition decoded as a segment: %v", err)
	}
}

// FuzzDecode checks that no input makes a decoder panic or accept
// something that does not re-encode to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, enc := range encodings(f) {
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range []string{"transition", "segment", "state"} {
			v, err := decode(kind, b)
			if err != nil {
				if !errors.Is(err, light.ErrMalformed) {
					t.Fatalf("%s: error without ErrMalformed: %v", kind, err)
				}
				continue
			}
			if !bytes.Equal(reencode(v), b) {
				t.Fatalf("%s: accepted a non-canonical encoding", kind)
			}
		}
	})
}
