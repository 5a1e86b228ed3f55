package execution

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/consensus/model"
	engine "github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/payload"
)

// checkPackAuthorization is the packs endpoint of a node that executed
// heights 1..5 (TestNodeFollowsAndExecutesGuaranteedCollections; keys[0]
// is the consensus member, keys[1..4] collectors, keys[5] the node):
// a pack goes only to a request signed, for this chain and chunk and
// recently, by a consensus or execution member; every other request is
// refused with its own status and changes nothing; what is served
// re-executes to the chunk.
func checkPackAuthorization(t *testing.T, n *Node, keys []*genesis.NodeKeys, receipts map[uint64]*payload.Receipt) {
	t.Helper()
	mux := http.NewServeMux()
	n.Routes(func(p string, h http.HandlerFunc) { mux.HandleFunc(p, h) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := client.New(srv.URL)
	ctx := context.Background()
	chain := n.led.EpochParams().ChainID
	res := &receipts[1].Result
	chunk := payload.ChunkID(res.ID(), 0)
	sign := func(k *genesis.NodeKeys, ch model.ChainID, id model.Identifier, at time.Time) payload.PackAuth {
		a, err := payload.SignPackRequest(k.Staking, ch, k.NodeID(), id, at)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	stranger, err := genesis.KeysFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	forged := sign(keys[0], chain, chunk, time.Now())
	forged.Node = keys[5].NodeID() // the consensus member's signature, claiming to be the executor
	now := time.Now()
	for name, tc := range map[string]struct {
		auth   payload.PackAuth
		status int
	}{
		"unsigned":                   {payload.PackAuth{}, http.StatusUnauthorized},
		"a collector":                {sign(keys[1], chain, chunk, now), http.StatusForbidden},
		"not a member":               {sign(stranger, chain, chunk, now), http.StatusForbidden},
		"signed for another chunk":   {sign(keys[0], chain, payload.ChunkID(res.ID(), 1), now), http.StatusUnauthorized},
		"signed for another chain":   {sign(keys[0], model.MainChain("other"), chunk, now), http.StatusUnauthorized},
		"two minutes old":            {sign(keys[0], chain, chunk, now.Add(-2*time.Minute)), http.StatusUnauthorized},
		"two minutes ahead":          {sign(keys[0], chain, chunk, now.Add(2*time.Minute)), http.StatusUnauthorized},
		"another member's signature": {forged, http.StatusUnauthorized},
	} {
		if _, err := c.ChunkDataPack(ctx, chunk, tc.auth); !client.IsStatus(err, tc.status) {
			t.Errorf("%s: %v, want HTTP %d", name, err, tc.status)
		}
	}
	for _, hdr := range []string{"x", "ab:1:cd", keys[0].NodeID().Hex() + ":now:00", keys[0].NodeID().Hex() + ":1:zz"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/execution/packs/"+chunk.Hex(), nil)
		req.Header.Set(payload.PackAuthHeader, hdr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("header %q: HTTP %d, want 401", hdr, resp.StatusCode)
		}
	}
	// The consensus member and an executor (the node itself here) are
	// served, and the pack re-executes to the chunk.
	for _, k := range []*genesis.NodeKeys{keys[0], keys[5]} {
		raw, err := c.ChunkDataPack(ctx, chunk, sign(k, chain, chunk, time.Now()))
		if err != nil {
			t.Fatalf("signed by %v: %v", k.NodeID(), err)
		}
		p, err := engine.DecodeChunkDataPack(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := engine.VerifyChunk(engine.KV{}, res, 0, p); err != nil {
			t.Fatalf("served pack: %v", err)
		}
	}
}
