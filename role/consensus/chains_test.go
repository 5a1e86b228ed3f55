package consensus_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/network"
)

// Two independent chains — different chain IDs, different committees —
// run side by side in one process on one in-memory network, every frame of
// each broadcast to the nodes of both. Both finalize and execute; each
// rejects the other's signed messages and stores none of its blocks.
func TestTwoChainsShareANetworkAndRejectEachOther(t *testing.T) {
	hub := network.NewMemoryNetwork()
	a := newChainTestnet(t, 4, "floe-chain-a", 0, hub)
	b := newChainTestnet(t, 4, "floe-chain-b", 100, hub)
	a.startAll()
	b.startAll()
	for i := 0; i < 4; i++ {
		if a.keys[i].NodeID() == b.keys[i].NodeID() {
			t.Fatal("the two committees share a member")
		}
	}
	submitted := map[*testnet]model.Identifier{}
	for _, tn := range []*testnet{a, b} {
		res := tn.nodes[0].SubmitTxs([][]byte{setTx(t, "chain", tn.gen.ChainID)})
		if res[0].Error != nil {
			t.Fatal(res[0].Error)
		}
		submitted[tn] = res[0].ID
	}
	waitFor(t, "each chain's transaction executed on each of its nodes, both chains past height 5", 30*time.Second, func() bool {
		for tn, id := range submitted {
			if tn.minExecuted(all(4)...) <= 5 {
				return false
			}
			for _, nd := range tn.nodes {
				if st, err := nd.TxStatus(id); err != nil || st.Status != "finalized" {
					return false
				}
			}
		}
		return true
	})
	for _, tn := range []*testnet{a, b} {
		h := tn.minExecuted(all(4)...)
		tn.sameChain(h, all(4)...)
		root, _, err := tn.gen.Root(4)
		if err != nil {
			t.Fatal(err)
		}
		for i, nd := range tn.nodes {
			v, err := nd.State(context.Background(), []byte("chain"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(v.Value, []byte(tn.gen.ChainID)) {
				t.Fatalf("%s node %d: key \"chain\" holds %q (the other chain's write, or its own missing)", tn.gen.ChainID, i, v.Value)
			}
			for hh := uint64(1); hh <= h; hh++ {
				blk, err := nd.BlockByHeight(hh)
				if err != nil {
					t.Fatal(err)
				}
				if blk.ChainID != root.ChainID {
					t.Fatalf("%s node %d finalized a block of chain %x at height %d", tn.gen.ChainID, i, blk.ChainID, hh)
				}
			}
		}
		// Every node heard the other chain's proposals, votes, timeouts and
		// gossip (all frames go to all eight) and refused them: their
		// senders are members of no epoch of this chain.
		for i := range tn.nodes {
			if r := labelled(t, tn.regs[i], "floe_dropped_messages_total", "reason", "not_a_member"); r == 0 {
				t.Fatalf("%s node %d rejected nothing of the other chain", tn.gen.ChainID, i)
			}
		}
	}
}

// labelled is the value of the series of a counter vector whose label has
// the given value.
func labelled(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
