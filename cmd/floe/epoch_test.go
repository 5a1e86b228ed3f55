package main

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/localnet"
)

// TestEpochRotationRealNodes runs five validator processes where the
// genesis committee is node0..node3 and the committee rotates every epoch:
// node4 joins in epoch 1 (node3 leaves), node3 returns in epoch 2 (node2
// leaves), and so on. The nodes must switch committees exactly at the
// boundary views, the joiner must catch up and lead blocks, a node outside
// the committee must not propose, and all five must agree on the chain and
// the state.
func TestEpochRotationRealNodes(t *testing.T) {
	const epochViews = 150
	ts := prepareEpochNet(t, t.TempDir(), epochViews)
	cn := launchProcessNet(t, ts.Nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	driver, err := localnet.NewEpochDriver(ts.Nodes, ts.Validators, ts.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	go driver.Run(ctx)

	status := func(i int) (epochCounter, height uint64) {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		st, err := ts.Nodes[i].Client.Status(c)
		if err != nil {
			return 0, 0
		}
		return st.Epoch.Counter, st.FinalizedHeight
	}
	cn.waitFor("epoch 3 on node0", 2*time.Minute, func() bool { e, _ := status(0); return e >= 3 })
	if e := driver.LastError(); e != "" {
		t.Logf("last governance error (retried): %s", e)
	}

	// Every node, the joiner included, reaches the same finalized chain.
	_, target := status(0)
	cn.waitFor("all nodes at node0's height", time.Minute, func() bool {
		for i := range ts.Nodes {
			if _, h := status(i); h < target {
				return false
			}
		}
		return true
	})
	ids := make(map[string]bool)
	for i := range ts.Nodes {
		b, err := ts.Nodes[i].Client.Block(ctx, target, client.BlockQuery{})
		if err != nil {
			t.Fatalf("node%d block %d: %v", i, target, err)
		}
		ids[b.ID] = true
	}
	if len(ids) != 1 {
		t.Fatalf("nodes disagree on block %d: %v", target, ids)
	}

	// Who proposed what: walk node0's chain and check each block's proposer
	// against the committee of its view's epoch.
	proposerOf := map[string]int{}
	for i, v := range ts.Validators {
		id, err := validatorID(v)
		if err != nil {
			t.Fatal(err)
		}
		proposerOf[id] = i
	}
	proposedIn := map[uint64]map[int]int{} // epoch -> node -> blocks
	for h := uint64(1); h <= target; h++ {
		b, err := ts.Nodes[0].Client.Block(ctx, h, client.BlockQuery{})
		if err != nil {
			t.Fatal(err)
		}
		e := uint64(b.View-1) / epochViews // epochs are never extended here unless governance was late
		if b.View == 0 {
			e = 0
		}
		who, ok := proposerOf[b.Proposer]
		if !ok {
			t.Fatalf("block %d proposed by unknown %s", h, b.Proposer)
		}
		if proposedIn[e] == nil {
			proposedIn[e] = map[int]int{}
		}
		proposedIn[e][who]++
	}
	for e := uint64(0); e < 3; e++ {
		out := localnet.Rotation(len(ts.Nodes), int(e))
		if proposedIn[e][out] > 0 {
			t.Errorf("epoch %d: node%d is outside the committee but proposed %d blocks", e, out, proposedIn[e][out])
		}
		t.Logf("epoch %d (node%d out): blocks by proposer %v", e, out, proposedIn[e])
	}
	if proposedIn[1][4] == 0 {
		t.Errorf("node4 joined in epoch 1 but proposed no block in it: %v", proposedIn[1])
	}

	// The joiner serves state like everyone: a transaction submitted to it is
	// executed everywhere.
	id := cn.submit(4, "epoch-key")
	cn.waitFor("transaction executed on all nodes", 30*time.Second, func() bool {
		for i := range ts.Nodes {
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			tx, err := ts.Nodes[i].Client.Tx(c, id)
			cancel()
			if err != nil || tx.Status != "finalized" {
				return false
			}
		}
		return true
	})
}

// validatorID is the node ID (hex) of a genesis validator entry: the hash
// of its staking key.
func validatorID(v genesis.Validator) (string, error) {
	pk, err := hex.DecodeString(v.StakingKey)
	if err != nil {
		return "", err
	}
	id := crypto.Sum(pk)
	return hex.EncodeToString(id[:]), nil
}

// TestEpochFallbackRealNodes: governance stays silent, so no next epoch is
// ever committed. The network must not halt at the epoch's end: the first
// finalized block past the safety threshold extends the epoch (same
// committee), repeatedly, and every node agrees on the extended schedule.
func TestEpochFallbackRealNodes(t *testing.T) {
	const epochViews = 100
	ts := prepareEpochNet(t, t.TempDir(), epochViews)
	cn := launchProcessNet(t, ts.Nodes[:4]) // the spare is not needed
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	status := func(i int) (epochCounter uint64, final, view uint64) {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		st, err := ts.Nodes[i].Client.Status(c)
		if err != nil {
			return 0, 0, 0
		}
		return st.Epoch.Counter, uint64(st.Epoch.FinalView), uint64(st.View)
	}
	cn.waitFor("views past two extended epoch ends", time.Minute, func() bool {
		_, _, v := status(0)
		return v > 3*epochViews
	})
	for i := 0; i < 4; i++ {
		e, final, view := status(i)
		if e != 0 {
			t.Fatalf("node%d is in epoch %d; nothing was ever committed", i, e)
		}
		if final <= epochViews || final%epochViews != 0 || final < view {
			t.Fatalf("node%d: epoch 0 ends at view %d while the node is in view %d; want it extended in steps of %d past the current view",
				i, final, view, epochViews)
		}
	}
}

// prepareEpochNet prepares a 4-validator testnet (plus a spare) with epochs
// of epochViews views under dir/net (see setupProcessNet).
func prepareEpochNet(t *testing.T, dir string, epochViews uint64) *localnet.Network {
	t.Helper()
	return setupProcessNet(t, filepath.Join(dir, "net"), genesis.DefaultParams(), epochViews)
}
