package e2e

import (
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/config"
)

func pipeID(b byte) [32]byte { return [32]byte{b} }

// A transaction settles once: executed (once), expired or failed; a second
// "executed" transition is a repeat; a lookup repeating the status is not.
func TestPipeLedgerSettlesOnceAndCountsRepeats(t *testing.T) {
	l := newPipeLedger()
	t0 := time.Unix(1000, 0)
	if !l.submit([][32]byte{pipeID(1), pipeID(2), pipeID(3)}, []int{0, 1, 0}, 7, t0) {
		t.Fatal("submit refused")
	}
	if l.update(pipeID(9), api.TxExecuted, t0, true) {
		t.Error("a transaction the load did not submit was counted")
	}
	if len(l.unacked) != 1 {
		t.Errorf("an executed transaction nobody acknowledged is not kept for the counters: %d", len(l.unacked))
	}
	if ids, _ := l.unsettled(t0); len(ids) != 3 {
		t.Fatalf("%d unsettled, want 3", len(ids))
	}
	l.update(pipeID(1), api.TxCollected, t0, true)
	if !l.update(pipeID(1), api.TxExecuted, t0.Add(time.Second), true) {
		t.Error("executed not reported as new")
	}
	if l.update(pipeID(1), api.TxFinalized, t0, true) || l.txs[pipeID(1)].status != api.TxExecuted {
		t.Error("a late finalized transition moved an executed transaction back")
	}
	l.update(pipeID(1), api.TxExecuted, t0, false) // a lookup: not a transition
	if l.repeats != 0 {
		t.Errorf("a lookup counted as a repeated execution")
	}
	l.update(pipeID(1), api.TxExecuted, t0, true)
	if l.repeats != 1 || l.executed != 1 || len(l.repeated) != 1 || l.repeated[0] != pipeID(1) {
		t.Errorf("repeats %d executed %d, want 1 and 1", l.repeats, l.executed)
	}
	l.update(pipeID(2), api.TxExpired, t0, true)
	if l.update(pipeID(2), api.TxExecuted, t0, true) || l.executed != 1 || l.expired != 1 {
		t.Error("an expired transaction became executed")
	}
	// A lookup may learn an execution before the stream's transition
	// arrives: that transition is the first, not a repeat.
	l.submit([][32]byte{pipeID(4)}, []int{0}, 7, t0)
	l.update(pipeID(4), api.TxExecuted, t0, false)
	l.update(pipeID(4), api.TxExecuted, t0, true)
	if l.repeats != 1 || l.executed != 2 {
		t.Errorf("lookup then stream: repeats %d executed %d, want 1 (the earlier one) and 2", l.repeats, l.executed)
	}
	ids, txs := l.unsettled(t0)
	if len(ids) != 1 || ids[0] != pipeID(3) || txs[0].access != 7 || txs[0].cluster != 0 {
		t.Fatalf("unsettled %v %+v, want transaction 3 via node 7", ids, txs)
	}
	if ids, _ := l.unsettled(t0.Add(-time.Second)); len(ids) != 0 {
		t.Error("a transaction submitted after the cutoff is unsettled by it")
	}
	l.markReported(ids)
	if ids, _ := l.unsettled(t0); len(ids) != 0 {
		t.Error("a reported transaction was listed again")
	}
	exec, sub := l.clusterActivity(2, t0, t0.Add(2*time.Second))
	if exec[0] != 2 || exec[1] != 0 || sub[0] != 3 || sub[1] != 1 {
		t.Errorf("cluster activity executed %v submitted %v", exec, sub)
	}
}

func pipelineRunner(t *testing.T) *Runner {
	t.Helper()
	spec := testSpec()
	spec.Pipeline = PipelineSpec{Clusters: 2, ClusterSize: 4, Executors: 1, Access: 1}
	net, err := GenerateNetwork(t.TempDir()+"/net", spec)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Name: "p", Validators: 4, Pipeline: spec.Pipeline}
	r := &Runner{m: m, opts: Options{Progress: io.Discard}, rng: rand.New(rand.NewPCG(1, 2)), violationsOf: map[string]int{},
		pipe: &pipeline{ledger: newPipeLedger(), restarted: map[string]bool{}}}
	if err := r.useNetwork(net); err != nil {
		t.Fatal(err)
	}
	return r
}

// A cluster split cuts only that cluster's members, into halves neither of
// which keeps a supermajority; groups of collectors cover every collector.
func TestCollectorPartitions(t *testing.T) {
	r := pipelineRunner(t)
	one := 1
	s := Step{Action: ActionPartition, Topology: TopologyCluster, Cluster: &one}
	nodes, w, cluster, err := r.collectorPartition(&s)
	if err != nil || cluster != 1 || len(nodes) != 4 {
		t.Fatalf("%v: cluster %d, %d nodes", err, cluster, len(nodes))
	}
	inCluster := map[string]bool{}
	for _, name := range r.net.Clusters[1] {
		inCluster[name] = true
	}
	for _, nd := range nodes {
		if !inCluster[nd.Name] {
			t.Errorf("%s is not in cluster 1 %v", nd.Name, r.net.Clusters[1])
		}
	}
	if len(s.Groups) != 2 || len(s.Groups[0]) != 2 || len(s.Groups[1]) != 2 || w.supermajority != 3 {
		t.Fatalf("groups %v, supermajority %d", s.Groups, w.supermajority)
	}
	names := make([]string, len(nodes))
	for i, nd := range nodes {
		names[i] = nd.Name
	}
	s.Topology = TopologyGroups
	reach, _, err := partitionSides(s, w, names, r.rng)
	if err != nil {
		t.Fatal(err)
	}
	for i, rs := range reach {
		if len(rs) != 1 {
			t.Errorf("%s reaches %d of its cluster, want 1 (its half)", names[i], len(rs))
		}
	}
	groups := Step{Action: ActionPartition, Topology: TopologyGroups, Groups: [][]string{{"collector0", "collector1"}}}
	if !r.groupsNameCollectors(groups) {
		t.Fatal("groups of collectors not recognized")
	}
	if r.groupsNameCollectors(Step{Topology: TopologyGroups, Groups: [][]string{{"node0"}}}) {
		t.Fatal("groups of validators taken for collectors")
	}
	nodes, _, cluster, err = r.collectorPartition(&groups)
	if err != nil || cluster != -1 || len(nodes) != 8 {
		t.Fatalf("%v: cluster %d, %d nodes", err, cluster, len(nodes))
	}
	for _, nd := range nodes {
		if nd.Role != config.RoleCollection {
			t.Errorf("%s cut by a collector partition", nd.Name)
		}
	}
}

// Validators and followers are chain nodes; role members are not, and the
// validator selectors never pick them, but "collector" picks a collector.
func TestRoleMembersAreNotChainNodes(t *testing.T) {
	r := pipelineRunner(t)
	if len(r.nodes) != 14 || len(r.chainNodes()) != 4 || len(r.ids) != 4 {
		t.Fatalf("%d nodes, %d chain nodes, %d committee members", len(r.nodes), len(r.chainNodes()), len(r.ids))
	}
	for _, nd := range r.nodes {
		nd.started = true
	}
	if len(r.reachable()) != 4 || len(r.reachableValidators()) != 4 || len(r.reachableRole(config.RoleAccess)) != 1 {
		t.Fatal("reachable sets include role members or miss the access node")
	}
	for k := 0; k < 20; k++ {
		got, _, err := r.resolve(context.Background(), []string{"random", SelectCollector}, r.running())
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Role != "" || got[1].Role != config.RoleCollection {
			t.Fatalf("random chose %s (%q), collector chose %s (%q)", got[0].Name, got[0].Role, got[1].Name, got[1].Role)
		}
	}
	got, _, err := r.resolve(context.Background(), []string{"execution0"}, r.running())
	if err != nil || len(got) != 1 || got[0].Role != config.RoleExecution {
		t.Fatalf("execution0: %v %v", got, err)
	}
}

// While a cluster is split, another cluster that executes nothing of its
// load is a stall; the split one is not.
func TestClusterNoteFlagsAStalledHealthyCluster(t *testing.T) {
	r := pipelineRunner(t)
	t0 := time.Now()
	l := r.pipe.ledger
	l.submit([][32]byte{pipeID(1), pipeID(2)}, []int{0, 1}, 0, t0.Add(time.Second))
	f := fault{split: true, cluster: 0, applied: t0, healed: t0.Add(10 * time.Second)}
	note := f.clusterNote(r)
	if !strings.Contains(note, "cluster 0 (split): 1 submitted, 0 executed") || len(r.violations) != 1 || r.violations[0].Kind != "stall" {
		t.Fatalf("note %q, violations %v", note, r.violations)
	}
	l.update(pipeID(2), api.TxExecuted, t0.Add(2*time.Second), true)
	r.violations = nil
	f.clusterNote(r)
	if len(r.violations) != 0 {
		t.Fatalf("violations %v once cluster 1 executed", r.violations)
	}
}

// The last settlement of the transactions submitted by a cutoff is when
// the pipeline drained them.
func TestPipeLedgerLastSettled(t *testing.T) {
	l := newPipeLedger()
	t0 := time.Unix(1000, 0)
	l.submit([][32]byte{pipeID(1), pipeID(2)}, []int{0, 0}, 0, t0)
	l.submit([][32]byte{pipeID(3)}, []int{0}, 0, t0.Add(5*time.Second))
	l.update(pipeID(1), api.TxExecuted, t0.Add(time.Second), true)
	l.update(pipeID(2), api.TxExpired, t0.Add(3*time.Second), true)
	l.update(pipeID(3), api.TxExecuted, t0.Add(9*time.Second), true)
	if got := l.lastSettled(t0.Add(time.Second)); !got.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("last settled %v, want t0+3s", got.Sub(t0))
	}
	if got := l.lastSettled(t0.Add(-time.Second)); !got.IsZero() {
		t.Errorf("nothing was submitted by then, got %v", got)
	}
}

// A manifest can make a collector a byzantine guarantor, and only a
// collector: its container gets the test fault's switch.
func TestWithholdingCollector(t *testing.T) {
	base := "name = \"w\"\nvalidators = 4\nsubnet = \"172.30.9.0/24\"\napi_port_base = 29000\n" +
		"[pipeline]\nclusters = 1\ncluster_size = 4\nexecutors = 1\naccess = 1\n"
	if _, err := ParseManifest([]byte(base + "[[node]]\nname = \"collector2\"\nwithhold_collections = true\n")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"[[node]]\nname = \"node1\"\nwithhold_collections = true\n",
		"[[node]]\nname = \"*\"\nwithhold_collections = true\n",
		"[[node]]\nname = \"node0\"\nforge_guarantees = true\n",
		"[[node]]\nname = \"collector1\"\nunsafe_forget_safety_data = true\n",
	} {
		if _, err := ParseManifest([]byte(base + bad)); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
	spec := testSpec()
	spec.Pipeline = PipelineSpec{Clusters: 1, ClusterSize: 4, Executors: 1, Access: 1}
	spec.Overrides = map[string]NodeOverride{"collector2": {WithholdCollections: true}, "collector3": {ForgeGuarantees: true}}
	net, err := GenerateNetwork(t.TempDir()+"/net", spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range net.Nodes {
		withholds, forges := false, false
		for _, kv := range nd.env("info") {
			withholds = withholds || kv[0] == "FLOE_TEST_WITHHOLD_COLLECTIONS" && kv[1] == "true"
			forges = forges || kv[0] == "FLOE_TEST_FORGE_GUARANTEES" && kv[1] == "true"
		}
		if withholds != (nd.Name == "collector2") || forges != (nd.Name == "collector3") {
			t.Errorf("%s: withholds %v, forges %v", nd.Name, withholds, forges)
		}
	}
}

// A transaction executed before its batch's acknowledgment came back (an
// access node forwards a batch's first transactions while it still checks
// the rest) is counted once: the stream's report moves from unacknowledged
// to the acknowledged transaction, which is settled executed. It used to
// count twice against the execution nodes' counters (a false lost-tx).
func TestPipeLedgerExecutedBeforeAcknowledged(t *testing.T) {
	l := newPipeLedger()
	t0 := time.Unix(1000, 0)
	l.update(pipeID(5), api.TxExecuted, t0, true)
	if len(l.unacked) != 1 {
		t.Fatal("the early report is not kept")
	}
	l.submit([][32]byte{pipeID(5), pipeID(6)}, []int{0, 0}, 0, t0.Add(time.Second))
	if len(l.unacked) != 0 || l.executed != 1 || l.txs[pipeID(5)].status != api.TxExecuted {
		t.Fatalf("unacked %d, executed %d, status %s", len(l.unacked), l.executed, l.txs[pipeID(5)].status)
	}
	if ids, _ := l.unsettled(t0.Add(time.Second)); len(ids) != 1 || ids[0] != pipeID(6) {
		t.Fatalf("unsettled %v, want only the other transaction", ids)
	}
	l.update(pipeID(5), api.TxExecuted, t0, true)
	if l.repeats != 1 {
		t.Fatal("a second report of the early one is not a repeat")
	}
}
