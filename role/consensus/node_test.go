package consensus_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/network"
	node "github.com/floe-bft/floe/role/consensus"
	"github.com/floe-bft/floe/storage"
)

// testnet runs N in-process nodes. By default they talk over an in-memory
// network and keep their state in in-memory stores that survive a node's
// restart; with real set before the first start, they talk TLS over
// loopback sockets, each with its own Pebble directory (the integration
// tests of the peer port).
type testnet struct {
	t     *testing.T
	gen   *genesis.Genesis
	keys  []*genesis.NodeKeys
	dirs  []string
	nodes []*node.Node
	regs  []*prometheus.Registry
	// mempoolTxs bounds each node's mempool (0: the node's default).
	mempoolTxs int
	real       bool
	hub        *network.MemoryNetwork
	stores     []*storage.Memory
	// tune, if set, adjusts every node's configuration.
	tune func(cfg *node.Config)
}

// config is node i's configuration on this testnet.
func (tn *testnet) config(i int, reg prometheus.Registerer) node.Config {
	cfg := node.Config{Genesis: tn.gen, Keys: tn.keys[i], DataDir: tn.dirs[i], Metrics: reg, MempoolMaxTxs: tn.mempoolTxs}
	if !tn.real {
		if tn.hub == nil {
			tn.hub = network.NewMemoryNetwork()
			tn.stores = make([]*storage.Memory, len(tn.nodes))
		}
		if tn.stores[i] == nil {
			tn.stores[i] = storage.NewMemory()
		}
		cfg.Transport, cfg.Store = tn.hub.Transport(tn.keys[i].NodeID()), tn.stores[i]
	}
	if tn.tune != nil {
		tn.tune(&cfg)
	}
	return cfg
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newTestnet(t *testing.T, n int) *testnet {
	t.Helper()
	return newChainTestnet(t, n, "floe-test", 0, nil)
}

// newChainTestnet is newTestnet for a chain of its own: its chain ID, node
// keys from seeds keyBase+1…keyBase+n, and an in-memory network it may share
// with another testnet (nil: its own).
func newChainTestnet(t *testing.T, n int, chainID string, keyBase uint64, hub *network.MemoryNetwork) *testnet {
	t.Helper()
	tn := &testnet{t: t, nodes: make([]*node.Node, n), regs: make([]*prometheus.Registry, n), hub: hub}
	if hub != nil {
		tn.stores = make([]*storage.Memory, n)
	}
	g := &genesis.Genesis{ProtocolVersion: model.ProtocolVersion, ChainID: chainID, GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		LeaderSeed: fmt.Sprintf("%064x", 42), Params: genesis.DefaultParams()}
	g.Params.TimeoutMinMS = 400
	for i := 0; i < n; i++ {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, keyBase+uint64(i+1))
		k, err := genesis.KeysFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		v, err := k.Validator(fmt.Sprintf("node%d", i), freePort(t), 1)
		if err != nil {
			t.Fatal(err)
		}
		g.Validators = append(g.Validators, v)
		tn.keys = append(tn.keys, k)
		tn.dirs = append(tn.dirs, t.TempDir())
	}
	tn.gen = g
	t.Cleanup(tn.stopAll)
	return tn
}

func (tn *testnet) start(i int) {
	tn.t.Helper()
	reg := prometheus.NewRegistry()
	cfg := tn.config(i, reg)
	if os.Getenv("FLOE_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("n", i)
	}
	nd, err := node.New(cfg)
	if err != nil {
		tn.t.Fatalf("node %d: %v", i, err)
	}
	if err := nd.Start(context.Background()); err != nil {
		tn.t.Fatalf("start node %d: %v", i, err)
	}
	tn.nodes[i], tn.regs[i] = nd, reg
}

func (tn *testnet) stop(i int) {
	if nd := tn.nodes[i]; nd != nil {
		nd.Stop()
		if err := nd.Err(); err != nil {
			tn.t.Errorf("node %d stopped with a fatal error: %v", i, err)
		}
		tn.nodes[i] = nil
	}
}

func (tn *testnet) stopAll() {
	for i := range tn.nodes {
		tn.stop(i)
	}
}

func (tn *testnet) startAll() {
	for i := range tn.nodes {
		tn.start(i)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tn *testnet) executed(i int) uint64 { return tn.nodes[i].Status().ExecutedHeight }

func (tn *testnet) minExecuted(live ...int) uint64 {
	m := uint64(1 << 62)
	for _, i := range live {
		m = min(m, tn.executed(i))
	}
	return m
}

func setTx(t *testing.T, key, value string) []byte {
	nonce := make([]byte, 8)
	rand.Read(nonce)
	return kvstore.EncodeSet([]byte(key), []byte(value), nonce)
}

// sameChain checks that the given nodes finalized identical blocks up to
// height and agree on the state root there.
func (tn *testnet) sameChain(height uint64, live ...int) {
	tn.t.Helper()
	for h := uint64(0); h <= height; h++ {
		var want model.Identifier
		for k, i := range live {
			b, err := tn.nodes[i].BlockByHeight(h)
			if err != nil {
				tn.t.Fatalf("node %d block %d: %v", i, h, err)
			}
			if k == 0 {
				want = b.ID()
			} else if b.ID() != want {
				tn.t.Fatalf("node %d finalized %v at height %d, node %d finalized %v", i, b.ID(), h, live[0], want)
			}
		}
	}
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// A 4-node network finalizes the same blocks on every node; transactions
// submitted to one node become readable, with their results and state
// values, through every node; state roots agree.
func TestFourNodesAgreeOnBlocksStateAndTransactions(t *testing.T) {
	tn := newTestnet(t, 4)
	tn.startAll()
	var ids []model.Identifier
	for i := 0; i < 50; i++ {
		res := tn.nodes[i%4].SubmitTxs([][]byte{setTx(t, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))})
		if res[0].Error != nil {
			t.Fatalf("submit: %v", res[0].Error)
		}
		ids = append(ids, res[0].ID)
	}
	// A failing transaction: deleting a key that does not exist.
	del := tn.nodes[0].SubmitTxs([][]byte{kvstore.EncodeDelete([]byte("missing"), []byte("n"))})[0]
	waitFor(t, "all transactions finalized on every node", 30*time.Second, func() bool {
		for _, nd := range tn.nodes {
			for _, id := range append(ids, del.ID) {
				st, err := nd.TxStatus(id)
				if err != nil || st.Status != "finalized" {
					return false
				}
			}
		}
		return true
	})
	for i, nd := range tn.nodes {
		st, _ := nd.TxStatus(ids[7])
		if !st.Result.OK {
			t.Fatalf("node %d: set failed: %s", i, st.Result.Error)
		}
		bad, _ := nd.TxStatus(del.ID)
		if bad.Result.OK || bad.Result.Error == "" {
			t.Fatalf("node %d: deleting a missing key must fail with a reason, got %+v", i, bad.Result)
		}
		v, err := nd.State(context.Background(), []byte("k7"))
		if err != nil || string(v.Value) != "v7" {
			t.Fatalf("node %d: state k7 = %q, %v", i, v.Value, err)
		}
	}
	h := tn.minExecuted(all(4)...)
	tn.sameChain(h, all(4)...)
	roots := map[[32]byte]bool{}
	waitFor(t, "executed heights to line up", 10*time.Second, func() bool {
		roots = map[[32]byte]bool{}
		target := tn.nodes[0].Status()
		for _, nd := range tn.nodes {
			st := nd.Status()
			if st.ExecutedHeight != target.ExecutedHeight {
				return false
			}
			roots[st.StateRoot] = true
		}
		return true
	})
	if len(roots) != 1 {
		t.Fatalf("nodes at the same executed height disagree on the state root: %d roots", len(roots))
	}
}

// One node stops (and it may be the leader); the other three keep
// finalizing; the stopped node restarts from its data directory, catches
// up, and its state root matches.
func TestStoppedNodeRestartsAndCatchesUp(t *testing.T) {
	tn := newTestnet(t, 4)
	tn.startAll()
	waitFor(t, "first blocks", 20*time.Second, func() bool { return tn.minExecuted(all(4)...) >= 3 })
	tn.stop(3)
	before := tn.minExecuted(0, 1, 2)
	for i := 0; i < 20; i++ {
		tn.nodes[i%3].SubmitTxs([][]byte{setTx(t, fmt.Sprintf("r%d", i), "x")})
	}
	waitFor(t, "three nodes to keep finalizing", 20*time.Second, func() bool { return tn.minExecuted(0, 1, 2) >= before+10 })
	tn.start(3)
	waitFor(t, "the restarted node to catch up", 30*time.Second, func() bool {
		return tn.executed(3) >= tn.minExecuted(0, 1, 2)
	})
	h := tn.minExecuted(all(4)...)
	tn.sameChain(h, all(4)...)
	v, err := tn.nodes[3].State(context.Background(), []byte("r19"))
	if err != nil || string(v.Value) != "x" {
		t.Fatalf("restarted node state r19 = %q, %v", v.Value, err)
	}
}

// A node that starts long after the others joins and catches up.
func TestLateNodeJoins(t *testing.T) {
	tn := newTestnet(t, 4)
	for i := 0; i < 3; i++ {
		tn.start(i)
	}
	waitFor(t, "three nodes to finalize", 20*time.Second, func() bool { return tn.minExecuted(0, 1, 2) >= 30 })
	tn.start(3)
	waitFor(t, "the late node to catch up", 30*time.Second, func() bool {
		return tn.executed(3) >= tn.minExecuted(0, 1, 2)
	})
	tn.sameChain(tn.minExecuted(all(4)...), all(4)...)
}

// Garbage on the peer port, and a TLS client with an unknown key, are
// dropped while consensus continues.
func TestGarbageOnPeerPortIsDropped(t *testing.T) {
	tn := newTestnet(t, 4)
	tn.real = true
	tn.startAll()
	waitFor(t, "first blocks", 20*time.Second, func() bool { return tn.minExecuted(all(4)...) >= 2 })
	addr := tn.gen.Validators[0].Address
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 1<<16)
		rand.Read(junk)
		c.Write(junk)
		c.Close()
	}
	waitFor(t, "the garbage connections to be counted", 10*time.Second, func() bool {
		return metric(t, tn.regs[0], "floe_network_handshake_failures_total") >= 1
	})
	before := tn.executed(0)
	waitFor(t, "consensus to continue", 20*time.Second, func() bool { return tn.executed(0) >= before+5 })
}

// The node's metrics count what it dropped.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.Counter != nil {
				total += m.Counter.GetValue()
			}
			if m.Gauge != nil {
				total += m.Gauge.GetValue()
			}
		}
	}
	return total
}

func dropped(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "floe_dropped_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.Counter.GetValue()
				}
			}
		}
	}
	return 0
}

// Messages sent straight to a node's port by an authenticated peer but
// wrongly signed, or undecodable, are rejected and counted; consensus goes
// on. The "attacker" holds node 3's network key (node 3 itself is down).
func TestWronglySignedAndUndecodableMessagesAreRejected(t *testing.T) {
	tn := newTestnet(t, 4)
	tn.real = true
	for i := 0; i < 3; i++ {
		tn.start(i)
	}
	waitFor(t, "first blocks", 20*time.Second, func() bool { return tn.minExecuted(0, 1, 2) >= 2 })
	_, members, err := tn.gen.Committee()
	if err != nil {
		t.Fatal(err)
	}
	var peers []network.Peer
	for _, m := range members {
		peers = append(peers, network.Peer{ID: m.ID, NetworkKey: m.NetworkKey, Address: m.Address})
	}
	attacker, err := network.NewTLS(network.Config{Self: tn.keys[3].NodeID(), Key: tn.keys[3].Network,
		ListenAddr: tn.gen.Validators[3].Address, Peers: peers, MaxFrameSize: 80 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	target := tn.keys[0].NodeID()
	view := tn.nodes[0].Status().View
	// A vote by node 3 for the current view with a signature that is
	// well-formed but wrong (node 3's vote for another block).
	wrongSig, err := tn.keys[3].Staking.Sign(crypto.DomainVote, model.VoteMessage(model.MainChain(tn.gen.ChainID), view, model.Identifier{1}))
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := model.NewVote(view, model.Identifier{2}, tn.keys[3].NodeID(), wrongSig)
	// A proposal correctly signed by node 3 for a view it leads, carrying a
	// QC whose aggregate signature is garbage.
	com, _, _ := tn.gen.Committee()
	v := view + 1
	for com.Leader(v) != tn.keys[3].NodeID() {
		v++
	}
	signers, _ := model.NewSignerSet(4)
	for i := 0; i < 3; i++ {
		signers.Set(i)
	}
	junk := make([]byte, 96)
	rand.Read(junk)
	fakeQC, _ := model.NewQC(v-1, model.Identifier{9}, signers, junk)
	b, err := model.NewBlock(model.Header{ChainID: model.MainChain(tn.gen.ChainID), View: v, Height: 9, ParentID: fakeQC.BlockID, QC: fakeQC,
		ProposerID: tn.keys[3].NodeID(), PayloadHash: model.PayloadHash(nil)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	psig, _ := tn.keys[3].Staking.Sign(crypto.DomainProposal, model.ProposalMessage(model.MainChain(tn.gen.ChainID), b.ID()))
	badProposal, _ := model.NewProposal(b, psig)
	for i := 0; i < 20; i++ {
		attacker.Send(target, node.EncodeVoteForTest(forged))
		attacker.Send(target, node.EncodeProposalForTest(badProposal))
		attacker.Send(target, []byte{0xFF, 1, 2, 3})
	}
	waitFor(t, "rejections to be counted", 10*time.Second, func() bool {
		return dropped(t, tn.regs[0], "invalid") >= 1 && dropped(t, tn.regs[0], "undecodable") >= 1
	})
	// A frame over the node's 64 MiB limit: the node drops the connection
	// (the transport counts it) and carries on.
	attacker.Send(target, make([]byte, 65<<20))
	waitFor(t, "the oversized frame to be counted", 10*time.Second, func() bool {
		return metric(t, tn.regs[0], "floe_network_oversized_frames_total") >= 1
	})
	before := tn.executed(0)
	waitFor(t, "consensus to continue", 20*time.Second, func() bool { return tn.executed(0) >= before+5 })
}

// One node stops and restarts; then another stops. The three left must
// keep finalizing (a restarted node is a full participant again).
func TestRestartedNodeThenAnotherStops(t *testing.T) {
	tn := newTestnet(t, 4)
	tn.gen.Params.TimeoutMinMS = 1000
	tn.startAll()
	waitFor(t, "first blocks", 20*time.Second, func() bool { return tn.minExecuted(all(4)...) >= 3 })
	tn.stop(2)
	before := tn.minExecuted(0, 1, 3)
	waitFor(t, "three nodes to keep finalizing", 30*time.Second, func() bool { return tn.minExecuted(0, 1, 3) >= before+5 })
	tn.start(2)
	waitFor(t, "node 2 to catch up", 30*time.Second, func() bool { return tn.executed(2) >= tn.minExecuted(0, 1, 3) })
	tn.stop(3)
	before = tn.minExecuted(0, 1, 2)
	waitFor(t, "the other three to keep finalizing", 30*time.Second, func() bool {
		t.Logf("views %d %d %d executed %d %d %d", tn.nodes[0].Status().View, tn.nodes[1].Status().View, tn.nodes[2].Status().View,
			tn.executed(0), tn.executed(1), tn.executed(2))
		time.Sleep(500 * time.Millisecond)
		return tn.minExecuted(0, 1, 2) >= before+5
	})
}

// An idle network does not spin through empty blocks: with a 300 ms idle
// interval it makes a few blocks a second (without it, one per round trip:
// hundreds). A transaction ends the wait and is finalized on every node,
// and the network is idle again afterwards.
func TestIdleNetworkPacesItselfAndWakesForWork(t *testing.T) {
	tn := newTestnet(t, 4)
	tn.gen.Params.IdleBlockIntervalMS = 300
	tn.startAll()
	waitFor(t, "first finalized blocks", 20*time.Second, func() bool { return tn.nodes[0].Status().FinalizedHeight >= 2 })
	idleBlocks := func() uint64 {
		from := tn.nodes[0].Status().FinalizedHeight
		time.Sleep(2 * time.Second)
		return tn.nodes[0].Status().FinalizedHeight - from
	}
	// At most one block per 300 ms (plus the views in flight); a slow
	// machine only lowers the count.
	if n := idleBlocks(); n > 12 {
		t.Fatalf("idle network finalized %d blocks in 2 s with a 300 ms idle interval", n)
	}
	res := tn.nodes[1].SubmitTxs([][]byte{setTx(t, "wake", "up")})[0]
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	for i, nd := range tn.nodes {
		waitFor(t, fmt.Sprintf("the transaction finalized on node %d", i), 20*time.Second, func() bool {
			st, err := nd.TxStatus(res.ID)
			return err == nil && st.Status == "finalized"
		})
	}
	waitFor(t, "mempools empty", 10*time.Second, func() bool {
		for _, nd := range tn.nodes {
			if nd.Status().MempoolTxs != 0 {
				return false
			}
		}
		return true
	})
	if n := idleBlocks(); n > 12 {
		t.Fatalf("after the transaction the network kept going: %d blocks in 2 s", n)
	}
}

// A node that cannot start (its key is in no known committee and no
// listen address is given) returns an error and leaves its store closed
// and reusable: no panic, no half-built node.
func TestNewRefusesANodeItCannotStart(t *testing.T) {
	tn := newTestnet(t, 4)
	seed := make([]byte, 32)
	seed[0] = 0xee
	stranger, err := genesis.KeysFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{Genesis: tn.gen, Keys: stranger, DataDir: t.TempDir()}
	if _, err := node.New(cfg); err == nil || !strings.Contains(err.Error(), "no known committee") {
		t.Fatalf("a stranger without a listen address: %v", err)
	}
	// The data directory was closed: it opens again.
	cfg.P2PListen = freePort(t)
	nd, err := node.New(cfg)
	if err != nil {
		t.Fatalf("after the refused start: %v", err)
	}
	nd.Stop()
}
