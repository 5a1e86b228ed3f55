package collector_test

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/governance"
	"github.com/floe-bft/floe/mempool"
)

// At an epoch change the collector starts the new epoch's cluster chain
// and retires the old one: the old chain's collections are still served,
// a transaction referencing the old epoch is refused with a reason, and
// one referencing the new epoch is collected on the new chain.
func TestCollectorFollowsAnEpochChange(t *testing.T) {
	seed := crypto.Sum([]byte("collector test governance"))
	key := ed25519.NewKeyFromSeed(seed[:])
	const views = 150
	p := newPipenetOn(t, 1, 1, false, func(g *genesis.Genesis) {
		g.Params.EpochViews, g.Params.EpochSafetyViews = views, 30
		g.Governance = []string{governance.PublicKeyHex(key)}
	})
	c := p.startCollector(0, nil)
	ctx := context.Background()
	ref0 := p.reference(t, 2, c)
	chain0, _ := c.n.Running()
	main := model.MainChain(p.g.ChainID)
	if chain0 != model.ClusterChain(main, 0, 0) {
		t.Fatalf("epoch 0 runs chain %v", chain0)
	}
	tx0 := collection.Tx{Ref: ref0, Body: []byte("epoch 0")}
	if resp, err := c.cl.SubmitCollector(ctx, encodeTxs([]collection.Tx{tx0})); err != nil || resp.Accepted != 1 {
		t.Fatalf("submit in epoch 0: %+v, %v", resp, err)
	}
	var col0 model.Identifier
	waitUntil(t, "the epoch 0 transaction collected", 30*time.Second, func() bool {
		st, err := c.cl.CollectorTx(ctx, tx0.ID())
		if err != nil || st.Status != "collected" {
			return false
		}
		col0, err = model.ParseIdentifier(st.Collection)
		return err == nil
	})

	// Governance: set up and commit epoch 1 with the same members.
	ep, err := p.g.EpochParams()
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := p.g.Identities()
	if err != nil {
		t.Fatal(err)
	}
	cons := client.New(p.consAPI.URL)
	st, err := cons.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := client.NextEpochSpec(st.Epoch, views, ids, crypto.Sum([]byte("epoch 1")), client.NextClusters(st.Epoch, ids, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.SubmitEvent(ctx, epoch.NewSetup(ep.Chain, spec, key)); err != nil {
		t.Fatalf("setup: %v", err)
	}
	waitUntil(t, "the setup finalized", 30*time.Second, func() bool {
		st, err := cons.Status(ctx)
		return err == nil && st.PendingSetup != nil
	})
	if _, err := cons.SubmitEvent(ctx, epoch.NewCommit(ep.Chain, &spec, key)); err != nil {
		t.Fatalf("commit: %v", err)
	}
	chain1 := model.ClusterChain(main, 1, 0)
	waitUntil(t, "the collector to run the epoch 1 cluster", 60*time.Second, func() bool {
		ch, ok := c.n.Running()
		return ok && ch == chain1
	})

	if _, err := c.cl.Collection(ctx, col0, collection.DefaultLimits()); err != nil {
		t.Fatalf("the retired cluster's collection is no longer served: %v", err)
	}
	code, sr, _ := post(t, c, mempool.EncodePayload(encodeTxs([]collection.Tx{{Ref: ref0, Body: []byte("late for epoch 0")}})))
	if code != http.StatusBadRequest || !strings.Contains(sr.Results[0].Error, "not running") {
		t.Fatalf("a transaction of the retired epoch: %d %+v", code, sr)
	}
	ref1 := p.reference(t, 0, c)
	if _, e, _ := c.n.Main().RefHeight(ref1); e != 1 {
		t.Fatalf("newest block of epoch %d, want 1", e)
	}
	tx1 := collection.Tx{Ref: ref1, Body: []byte("epoch 1")}
	if resp, err := c.cl.SubmitCollector(ctx, encodeTxs([]collection.Tx{tx1})); err != nil || resp.Accepted != 1 {
		t.Fatalf("submit in epoch 1: %+v, %v", resp, err)
	}
	waitUntil(t, "the epoch 1 transaction collected on the new chain", 30*time.Second, func() bool {
		st, err := c.cl.CollectorTx(ctx, tx1.ID())
		return err == nil && st.Status == "collected" && st.Chain == chain1.Hex()
	})
}
