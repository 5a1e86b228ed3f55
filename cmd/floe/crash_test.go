package main

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/localnet"
)

// crashNet is a 4-process network for crash tests: real `floe start`
// processes (this test binary re-executed as the CLI), real sockets.
type crashNet struct {
	t     *testing.T
	nodes []*localnet.Node
}

func startCrashNet(t *testing.T) *crashNet {
	t.Helper()
	p := genesis.DefaultParams()
	// With a member dead, the views it leads (and the ones before them,
	// whose votes go to it) fail; keep each failure short.
	p.TimeoutMinMS, p.TimeoutMaxMS = 300, 1000
	net := setupProcessNet(t, filepath.Join(t.TempDir(), "net"), p, 0)
	return launchProcessNet(t, net.Nodes)
}

// setupProcessNet skips in -short mode, makes this test binary the floe
// CLI for child processes, and prepares a 4-validator testnet under dir
// with params (and no idle pacing); with epochViews > 0 epochs of that
// many views and a spare validator.
func setupProcessNet(t *testing.T, dir string, p genesis.Params, epochViews uint64) *localnet.Network {
	t.Helper()
	if testing.Short() {
		t.Skip("starts node processes")
	}
	t.Setenv(envRunMain, "1")
	p.IdleBlockIntervalMS = 0
	o, err := withFloeNodes(localnet.Options{Dir: dir, Nodes: 4, LogLevel: "info", Params: &p, EpochViews: epochViews})
	if err != nil {
		t.Fatal(err)
	}
	net, err := localnet.Setup(o)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

func (cn *crashNet) start(i int) {
	cn.t.Helper()
	if err := cn.nodes[i].Start(); err != nil {
		cn.t.Fatal(err)
	}
}

// launchProcessNet starts the nodes, stops them when the test ends, and
// waits until every API answers.
func launchProcessNet(t *testing.T, nodes []*localnet.Node) *crashNet {
	t.Helper()
	cn := &crashNet{t: t, nodes: nodes}
	for i := range nodes {
		cn.start(i)
	}
	t.Cleanup(func() {
		for _, n := range cn.nodes {
			if n.Running() {
				n.Stop(5 * time.Second)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := localnet.WaitReady(ctx, nodes, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	return cn
}

// kill sends SIGKILL: no shutdown path runs, only what was synced survives.
func (cn *crashNet) kill(i int) {
	cn.t.Helper()
	if err := cn.nodes[i].Kill(); err != nil {
		cn.t.Fatal(err)
	}
}

func (cn *crashNet) executed(i int) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := cn.nodes[i].Client.Status(ctx)
	if err != nil {
		return 0
	}
	return st.ExecutedHeight
}

func (cn *crashNet) waitFor(what string, timeout time.Duration, cond func() bool) {
	cn.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			for i, n := range cn.nodes {
				cn.t.Logf("node %d (executed %d) log tail:\n%s", i, cn.executed(i), n.LogTail(15))
			}
			cn.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (cn *crashNet) submit(i int, key string) string {
	cn.t.Helper()
	nonce := make([]byte, 8)
	rand.Read(nonce)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := cn.nodes[i].Client.Submit(ctx, [][]byte{kvstore.EncodeSet([]byte(key), []byte("v-"+key), nonce)})
	if err != nil || len(res.Results) != 1 || res.Results[0].Error != "" {
		cn.t.Fatalf("submit to node %d: %v %+v", i, err, res)
	}
	return res.Results[0].ID
}

func (cn *crashNet) finalizedEverywhere(id string, live ...int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, i := range live {
		r, err := cn.nodes[i].Client.Tx(ctx, id)
		if err != nil || r.Status != "finalized" {
			return false
		}
	}
	return true
}

// leaderIndex is the node leading the view node 0 is in.
func (cn *crashNet) leaderIndex() int {
	cn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := cn.nodes[0].Client.Status(ctx)
	if err != nil {
		cn.t.Fatal(err)
	}
	g, err := genesis.Load(filepath.Join(cn.nodes[0].Dir, config.Dir, config.GenesisFile))
	if err != nil {
		cn.t.Fatal(err)
	}
	com, _, err := g.Committee()
	if err != nil {
		cn.t.Fatal(err)
	}
	leader := com.Leader(st.View)
	for i := range cn.nodes {
		k, err := localnet.NodeKeys(i)
		if err != nil {
			cn.t.Fatal(err)
		}
		if k.NodeID() == leader {
			return i
		}
	}
	cn.t.Fatal("leader is not a testnet node")
	return -1
}

// SIGKILL a node, then the current leader; the rest keep finalizing each
// time; killed nodes restart from their data directories, catch up, and
// end with the same blocks and the same state root as everyone else.
func TestSIGKILLNodeAndLeaderThenRejoin(t *testing.T) {
	cn := startCrashNet(t)
	all := []int{0, 1, 2, 3}
	first := cn.submit(0, "before")
	cn.waitFor("a transaction finalized everywhere", 30*time.Second, func() bool { return cn.finalizedEverywhere(first, all...) })

	// 1. Kill one node.
	cn.kill(2)
	live := []int{0, 1, 3}
	h := cn.executed(0)
	during := cn.submit(1, "during-kill")
	cn.waitFor("three nodes to keep finalizing", 90*time.Second, func() bool {
		return cn.executed(0) >= h+5 && cn.finalizedEverywhere(during, live...)
	})
	cn.start(2)
	cn.waitFor("the killed node to catch up", 60*time.Second, func() bool { return cn.finalizedEverywhere(during, all...) })

	// 2. Kill the current leader.
	leader := cn.leaderIndex()
	cn.kill(leader)
	live = live[:0]
	for _, i := range all {
		if i != leader {
			live = append(live, i)
		}
	}
	h = cn.executed(live[0])
	afterLeader := cn.submit(live[0], "after-leader-kill")
	cn.waitFor("the others to finalize without the leader", 90*time.Second, func() bool {
		return cn.executed(live[0]) >= h+5 && cn.finalizedEverywhere(afterLeader, live...)
	})
	cn.start(leader)
	cn.waitFor("the killed leader to catch up", 60*time.Second, func() bool { return cn.finalizedEverywhere(afterLeader, all...) })

	// 3. Same chain, same state everywhere. No writes are in flight any
	// more, so empty blocks leave the state root unchanged.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var low uint64 = 1 << 62
	for _, i := range all {
		low = min(low, cn.executed(i))
	}
	for height := uint64(1); height <= low; height += max(1, low/50) {
		var want string
		for _, i := range all {
			b, err := cn.nodes[i].Client.Block(ctx, height, client.BlockQuery{})
			if err != nil {
				t.Fatalf("node %d block %d: %v", i, height, err)
			}
			if want == "" {
				want = b.ID
			} else if b.ID != want {
				t.Fatalf("node %d has block %s at height %d, node 0 has %s", i, b.ID, height, want)
			}
		}
	}
	roots := map[string]bool{}
	for _, i := range all {
		st, err := cn.nodes[i].Client.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		roots[st.StateRoot] = true
	}
	if len(roots) != 1 {
		t.Fatalf("state roots differ across nodes after recovery: %v", roots)
	}

}
