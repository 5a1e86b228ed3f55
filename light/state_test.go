package light_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/light"
)

func TestForgedStateProofsAreRejected(t *testing.T) {
	a := newAttackChain(t)
	cl := newClient(t, a.c)
	ctx := context.Background()
	if _, err := cl.FastForward(ctx, a.src, nil); err != nil {
		t.Fatal(err)
	}
	key := []byte("latest")
	honest, err := a.src.State(ctx, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.VerifyState(honest, key, 0); err != nil {
		t.Fatal(err)
	}
	fresh := func() *light.StateProof {
		p, err := light.DecodeStateProof(honest.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("wrong value", func(t *testing.T) {
		p := fresh()
		p.Value = []byte("999999")
		if _, err := cl.VerifyState(p, key, 0); !errors.Is(err, light.ErrForged) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("claimed absent", func(t *testing.T) {
		p := fresh()
		p.Value = nil
		if _, err := cl.VerifyState(p, key, 0); !errors.Is(err, light.ErrForged) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("proof for another key", func(t *testing.T) {
		if _, err := cl.VerifyState(fresh(), []byte("other"), 0); !errors.Is(err, light.ErrIncomplete) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("state root swapped (committee re-certifies nothing)", func(t *testing.T) {
		// A proof against a root the proof's block does not commit to: the
		// server answers with a real older block whose root differs.
		p := fresh()
		older, err := light.BuildSegment(a.c, 3)
		if err != nil {
			t.Fatal(err)
		}
		p.Segment = older
		if _, err := cl.VerifyState(p, key, 0); !errors.Is(err, light.ErrForged) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("result root forged in the opening", func(t *testing.T) {
		// The value is proven against the empty root, which the block's
		// payload does not commit to.
		p := fresh()
		p.Result.Body = append([]byte(nil), p.Result.Body...)
		copy(p.Result.Body[8:], merkle.Empty[:])
		if _, err := cl.VerifyState(p, key, 0); !errors.Is(err, light.ErrForged) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("result opening with a forged section digest", func(t *testing.T) {
		p := fresh()
		p.Result.Sections = append([]model.SectionDigest(nil), p.Result.Sections...)
		p.Result.Sections[len(p.Result.Sections)-1].Hash[0] ^= 1
		if _, err := cl.VerifyState(p, key, 0); !errors.Is(err, light.ErrForged) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no result opening", func(t *testing.T) {
		p := fresh()
		p.Result = nil
		if _, err := cl.VerifyState(p, key, 0); !errors.Is(err, light.ErrIncomplete) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("block of an unknown epoch", func(t *testing.T) {
		behind := newClient(t, a.c)
		if _, err := behind.VerifyState(fresh(), key, 0); !errors.Is(err, light.ErrUnknownEpoch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong height", func(t *testing.T) {
		p := fresh()
		h := header(t, p.Segment.Blocks[0])
		if _, err := cl.VerifyState(p, key, h.Height+1); !errors.Is(err, light.ErrIncomplete) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestHTTPRoundTrip(t *testing.T) {
	c := newChain(t, testchain.EpochChainConfig{Epochs: 3})
	srv := httptest.NewServer(light.Handler(sourceOf(t, c)))
	defer srv.Close()
	src := light.NewHTTPSource(srv.URL, srv.Client())
	cl := newClient(t, c)
	ctx := context.Background()
	steps, err := cl.FastForward(ctx, src, nil)
	if err != nil || len(steps) != 3 {
		t.Fatalf("%d steps, %v", len(steps), err)
	}
	sameSchedule(t, cl, c)
	for _, key := range []string{"latest", "nope"} {
		p, err := src.State(ctx, []byte(key), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.VerifyState(p, []byte(key), 0); err != nil {
			t.Fatal(err)
		}
	}
	if src.BytesFetched() == 0 {
		t.Fatal("no bytes counted")
	}
	if _, err := src.Transition(ctx, 4); !errors.Is(err, light.ErrUnavailable) {
		t.Fatalf("epoch 4: %v", err)
	}
	if _, err := src.Final(ctx, 1<<40); !errors.Is(err, light.ErrUnavailable) {
		t.Fatalf("height beyond the chain: %v", err)
	}
	for _, path := range []string{
		"/v1/light/epochs/0", "/v1/light/epochs/x", "/v1/light/final/0", "/v1/light/final/-1",
		"/v1/light/state/zz", "/v1/light/state/6161?height=0", "/v1/light/state/6161?h=1",
		"/v1/light/state/" + strings.Repeat("61", light.MaxKeySize+1),
	} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"error"`) {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

// A server that answers garbage, or far too much, is rejected without
// reading more than the bound.
func TestHTTPSourceBoundsBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "epochs") {
			chunk := make([]byte, 1<<20)
			for i := 0; i <= light.MaxProofSize>>20; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		}
		_, _ = w.Write([]byte("garbage"))
	}))
	defer srv.Close()
	src := light.NewHTTPSource(srv.URL, srv.Client())
	ctx := context.Background()
	if _, err := src.Transition(ctx, 1); !errors.Is(err, light.ErrMalformed) {
		t.Fatalf("oversized: %v", err)
	}
	if got := src.BytesFetched(); got > light.MaxProofSize+1 {
		t.Fatalf("read %d bytes", got)
	}
	if _, err := src.Final(ctx, 1); !errors.Is(err, light.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
}

// In a pipeline network (genesis clusters > 0) the state is execution
// nodes' registers: a light client checks proofs over the register's
// encoding (state.RegisterID.Encode), so it accepts the register proofs
// of such a chain and refuses raw-key proofs of the same keys, and a
// single-chain client refuses register proofs. A key no register can
// have is a bad request.
func TestPipelineStateProofsUseRegisterEncoding(t *testing.T) {
	regs := newChain(t, testchain.EpochChainConfig{Epochs: 1, Registers: true})
	raw := newChain(t, testchain.EpochChainConfig{Epochs: 1})
	ctx := context.Background()
	pipeline := newClient(t, regs)
	if !regs.LightGenesis().Pipeline {
		t.Fatal("a register chain's light genesis is not a pipeline network's")
	}
	if _, err := pipeline.FastForward(ctx, sourceOf(t, regs), nil); err != nil {
		t.Fatal(err)
	}
	single := newClient(t, raw)
	if _, err := single.FastForward(ctx, sourceOf(t, raw), nil); err != nil {
		t.Fatal(err)
	}
	g := raw.LightGenesis()
	g.Pipeline = true
	rawAsPipeline, err := light.New(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rawAsPipeline.FastForward(ctx, sourceOf(t, raw), nil); err != nil {
		t.Fatal(err)
	}
	tip := regs.FinalizedHeight()
	for _, key := range []string{"latest", fmt.Sprintf("k/%d", tip-4), "absent"} {
		p, err := sourceOf(t, regs).State(ctx, []byte(key), 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pipeline.VerifyState(p, []byte(key), 0)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		want, _, _ := regs.ProveState([]byte(key), r.Height)
		if string(r.Value) != string(want) || r.Found() != (want != nil) || (key == "absent") == r.Found() {
			t.Fatalf("%s at %d: got %q, want %q", key, r.Height, r.Value, want)
		}
		if key == "absent" {
			continue // an absence proof may hold under both paths
		}
		if _, err := single.VerifyState(p, []byte(key), 0); !errors.Is(err, light.ErrForged) {
			t.Fatalf("%s: a single-chain client took a register proof: %v", key, err)
		}
		q, err := sourceOf(t, raw).State(ctx, []byte(key), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rawAsPipeline.VerifyState(q, []byte(key), 0); !errors.Is(err, light.ErrForged) {
			t.Fatalf("%s: a pipeline client took a raw-key proof: %v", key, err)
		}
	}
	p, err := sourceOf(t, regs).State(ctx, []byte("latest"), 0)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("k", 257)
	p.Key = []byte(long)
	if _, err := pipeline.VerifyState(p, []byte(long), 0); !errors.Is(err, light.ErrBadRequest) {
		t.Fatalf("a key no register can have: %v", err)
	}
}
