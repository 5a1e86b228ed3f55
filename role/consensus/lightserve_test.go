package consensus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/light"
)

// TestLightClientFollowsNodes runs four nodes through one epoch change (a
// new leader seed, same members) while transactions flow, and has a light
// client that trusts only genesis learn the epoch, prove a final block and
// verify a key written under load — all through the node's LightSource.
func TestLightClientFollowsNodes(t *testing.T) {
	tn, gov, p, ids, seed := newGovernedTestnet(t, 4)
	n := tn.nodes[0]
	g := light.Genesis{Params: p, Identities: ids, Seed: seed}
	next := epoch.Spec{Counter: 1, FirstView: 401, FinalView: 800, Identities: ids, Seed: [32]byte{1}}
	if err := n.SubmitServiceEvent(epoch.NewSetup(p.Chain, next, gov)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "setup finalized", 30*time.Second, func() bool { return n.Status().PendingSetup != nil })
	if err := n.SubmitServiceEvent(epoch.NewCommit(p.Chain, &next, gov)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "epoch 1 committed", 30*time.Second, func() bool { return n.Status().NextEpoch != nil || n.Status().Epoch.Counter == 1 })

	src := n.LightSource()
	ctx := context.Background()
	// Writes keep the state changing while the client asks for a proof.
	stop, stopped := make(chan struct{}), make(chan struct{})
	// Joined before the testnet's cleanup stops the nodes it submits to.
	defer func() { close(stop); <-stopped }()
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				tn.nodes[i%4].SubmitTxs([][]byte{setTx(t, fmt.Sprintf("load%d", i), "x")})
			}
		}
	}()
	tn.nodes[1].SubmitTxs([][]byte{setTx(t, "light-key", "light-value")})

	client, err := light.New(g)
	if err != nil {
		t.Fatal(err)
	}
	var steps []light.Step
	waitFor(t, "commit provable", 30*time.Second, func() bool {
		s, err := client.FastForward(ctx, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		steps = append(steps, s...)
		return len(steps) == 1
	})
	if e := client.Latest(); e.Counter != 1 || e.Seed != next.Seed || e.FirstView != 401 {
		t.Fatalf("adopted %+v", e.Spec)
	}
	seg, err := src.Final(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.VerifyFinal(seg, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "key written", 30*time.Second, func() bool {
		v, _ := n.State(context.Background(), []byte("light-key"))
		return string(v.Value) == "light-value"
	})
	proof, err := src.State(ctx, []byte("light-key"), 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := client.VerifyState(proof, []byte("light-key"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Value) != "light-value" {
		t.Fatalf("verified value %q", r.Value)
	}
	if _, err := src.Transition(ctx, 2); !errors.Is(err, light.ErrUnavailable) {
		t.Fatalf("epoch 2: %v", err)
	}
}
