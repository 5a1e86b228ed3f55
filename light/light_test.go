package light_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/light"
)

func newChain(t testing.TB, cfg testchain.EpochChainConfig) *testchain.EpochChain {
	t.Helper()
	c, err := testchain.NewEpochChain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sourceOf(t testing.TB, c *testchain.EpochChain) *light.ChainSource {
	t.Helper()
	src, err := c.LightSource()
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func newClient(t testing.TB, c *testchain.EpochChain) *light.Client {
	t.Helper()
	cl, err := light.New(c.LightGenesis())
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// sameSchedule fails unless the client learned exactly the chain's epochs.
func sameSchedule(t *testing.T, cl *light.Client, c *testchain.EpochChain) {
	t.Helper()
	got, want := cl.Schedule().Epochs(), c.Schedule().Epochs()
	if len(got) != len(want) {
		t.Fatalf("client knows %d epochs, chain has %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Spec.ID() != want[i].Spec.ID() {
			t.Fatalf("epoch %d: client has %+v views %d..%d, chain %d..%d", i, got[i].Counter, got[i].FirstView, got[i].FinalView, want[i].FirstView, want[i].FinalView)
		}
	}
}

func TestFastForwardFollowsEveryRotation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  testchain.EpochChainConfig
	}{
		{"bls", testchain.EpochChainConfig{Epochs: 3}},
		{"fallback", testchain.EpochChainConfig{Scheme: crypto.Fast(), Epochs: 4, Extend: map[uint64]bool{1: true, 2: true}}},
		{"large committee", testchain.EpochChainConfig{Scheme: crypto.Fast(), Epochs: 3, Members: 10}},
		// Collectors come and go with each epoch and are dealt into
		// clusters; the committee stays the consensus members.
		{"collectors in clusters", testchain.EpochChainConfig{Scheme: crypto.Fast(), Epochs: 3, Collectors: 7, Clusters: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChain(t, tc.cfg)
			src := sourceOf(t, c)
			cl := newClient(t, c)
			var seen []uint64
			steps, err := cl.FastForward(context.Background(), src, func(s light.Step) { seen = append(seen, s.Counter) })
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) != tc.cfg.Epochs {
				t.Fatalf("%d steps, want %d: %v", len(steps), tc.cfg.Epochs, seen)
			}
			for i, s := range steps {
				k := uint64(i + 1)
				if s.Adopted == nil || s.Counter != k || s.SetupHeight != c.SetupHeights[k] || s.CommitHeight != c.CommitHeights[k] {
					t.Fatalf("step %d: %+v (setup %d commit %d)", i, s, c.SetupHeights[k], c.CommitHeights[k])
				}
				if want := len(c.ExtendedAt[k-1]); s.Extensions != want {
					t.Fatalf("step %d applied %d extensions, chain had %d", i, s.Extensions, want)
				}
			}
			sameSchedule(t, cl, c)
			for _, e := range cl.Schedule().Epochs() {
				want := tc.cfg.Clusters
				if tc.cfg.Collectors == 0 {
					want = 0
				}
				members := max(tc.cfg.Members, 4)
				if len(e.Clusters) != want || e.Committee().Size() != members {
					t.Fatalf("epoch %d: %d clusters, committee of %d; want %d and %d", e.Counter, len(e.Clusters), e.Committee().Size(), want, members)
				}
			}
			// Caught up: another round changes nothing.
			again, err := cl.FastForward(context.Background(), src, nil)
			if err != nil || len(again) != 0 {
				t.Fatalf("second fast-forward: %v, %d steps", err, len(again))
			}
		})
	}
}

func TestVerifyFinalAndState(t *testing.T) {
	c := newChain(t, testchain.EpochChainConfig{Epochs: 2})
	src := sourceOf(t, c)
	cl := newClient(t, c)
	ctx := context.Background()
	if _, err := cl.FastForward(ctx, src, nil); err != nil {
		t.Fatal(err)
	}
	provable := 0
	for h := uint64(1); h <= c.FinalizedHeight(); h++ {
		seg, err := src.Final(ctx, h)
		if errors.Is(err, light.ErrUnavailable) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := cl.VerifyFinal(seg, h)
		if err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if b.ID != c.Blocks[h].ID() {
			t.Fatalf("height %d: proved %v, chain has %v", h, b.ID, c.Blocks[h].ID())
		}
		provable++
	}
	if provable < len(c.Blocks)/2 {
		t.Fatalf("only %d of %d heights provable", provable, len(c.Blocks))
	}
	tip := c.FinalizedHeight()
	for _, key := range []string{fmt.Sprintf("k/%d", tip-4), "latest", "absent"} {
		p, err := src.State(ctx, []byte(key), 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := cl.VerifyState(p, []byte(key), 0)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		want, _, _ := c.ProveState([]byte(key), r.Height)
		if string(r.Value) != string(want) || r.Found() != (want != nil) {
			t.Fatalf("%s at %d: got %q, want %q", key, r.Height, r.Value, want)
		}
		if key == "absent" && r.Found() {
			t.Fatal("absent key found")
		}
	}
}
