package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/config"
)

// The manifests in the repository parse and cover what they promise.
func TestRepositoryManifests(t *testing.T) {
	paths, err := filepath.Glob("manifests/*.toml")
	if err != nil || len(paths) < 3 {
		t.Fatalf("manifests: %v %v", paths, err)
	}
	byName := map[string]*Manifest{}
	for _, p := range paths {
		m, err := LoadManifest(p)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) != m.Name+".toml" {
			t.Errorf("%s names itself %q", p, m.Name)
		}
		byName[m.Name] = m
	}
	// ci and nightly cover every perturbation kind.
	for _, name := range []string{"ci", "nightly"} {
		m := byName[name]
		if m == nil {
			t.Fatalf("no %s manifest", name)
		}
		kinds := map[string]bool{}
		for _, s := range m.Steps {
			kinds[s.Action] = true
			kinds[s.Action+":"+s.Topology] = true
			kinds[s.Action+":"+s.Signal] = true
			for _, n := range s.Nodes {
				kinds[s.Action+":"+n] = true
			}
		}
		followerFault := false
		for _, s := range m.Steps {
			kinds[s.Action+":"+s.Fault] = true
			for _, n := range s.Nodes {
				followerFault = followerFault || strings.HasPrefix(n, "follower")
			}
		}
		if m.Followers == 0 || !followerFault || m.Genesis.EpochViews == 0 {
			t.Errorf("%s: %d followers (faults on one: %v), epoch_views %d", name, m.Followers, followerFault, m.Genesis.EpochViews)
		}
		for _, want := range []string{"start", "kill:random", "kill:leader", "kill:f", "pause", "disconnect",
			"partition:minority", "partition:split", "partition:ring", "stop-all:TERM", "stop-all:KILL", "epoch:kill"} {
			if !kinds[want] {
				t.Errorf("%s lacks %s", name, want)
			}
		}
		underLoad := false
		for _, s := range m.Steps {
			underLoad = underLoad || s.Action == ActionKill && s.LoadRate > m.Load.Rate && s.MaxStall.Duration > 0
		}
		if !underLoad {
			t.Errorf("%s kills no node under a heavier load with a stall bound", name)
		}
		if m.Steps[0].Action != ActionStart || m.Steps[0].Interval.Duration == 0 {
			t.Errorf("%s does not start staggered", name)
		}
		skewed := false
		for _, o := range m.Nodes {
			skewed = skewed || o.ClockOffset.Duration != 0
		}
		if !skewed {
			t.Errorf("%s skews no clock", name)
		}
		if len(m.Expect.Violations) != 0 {
			t.Errorf("%s expects violations", name)
		}
	}
	// The pipeline manifest kills a collector and splits a cluster whose
	// halves cannot reach a supermajority, while other clusters exist.
	p := byName["pipeline"]
	if p == nil || p.Pipeline.Clusters < 2 || p.Pipeline.ClusterSize < 4 || len(p.Expect.Violations) != 0 {
		t.Fatalf("pipeline manifest: %+v", p)
	}
	killsCollector, splits := false, false
	for _, s := range p.Steps {
		for _, n := range s.Nodes {
			killsCollector = killsCollector || s.Action == ActionKill && strings.HasPrefix(n, "collector")
		}
		splits = splits || s.Action == ActionPartition && s.Topology == TopologyCluster
	}
	if !killsCollector || !splits {
		t.Errorf("pipeline manifest: kills a collector %v, splits a cluster %v", killsCollector, splits)
	}
	// CI's pipeline manifest carries the execution faults: a byzantine
	// executor beside at least two honest ones, one of which is killed.
	honest, wrong, killsExecutor := 0, 0, false
	for _, rm := range p.Pipeline.roleMembers() {
		if rm.role == config.RoleExecution {
			if publishesWrong(p.executorOverride(rm.name).ExecutionFault) {
				wrong++
			} else {
				honest++
			}
		}
	}
	for _, s := range p.Steps {
		for _, n := range s.Nodes {
			killsExecutor = killsExecutor || s.Action == ActionKill && strings.HasPrefix(n, "execution") &&
				!publishesWrong(p.executorOverride(n).ExecutionFault)
		}
	}
	if wrong == 0 || honest < 2 || !killsExecutor {
		t.Errorf("pipeline manifest: %d byzantine and %d honest executors, kills an honest one %v", wrong, honest, killsExecutor)
	}
	f := byName["fault-forget-safety"]
	if f == nil || len(f.Expect.Violations) == 0 || !f.override("node0").UnsafeForgetSafetyData {
		t.Fatalf("the fault manifest must break every node and expect a violation: %+v", f)
	}
}

func TestManifestDefaults(t *testing.T) {
	m, err := ParseManifest([]byte("name = \"x\"\nvalidators = 4\n[[step]]\naction = \"kill\"\nnodes = [\"leader\"]\nduration = \"5s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subnet != "172.30.1.0/24" || m.APIPortBase != 28080 || m.LogLevel != "info" ||
		m.Checks.MaxRecovery.Duration != time.Minute || m.Checks.Window.Duration != 10*time.Second {
		t.Errorf("defaults: %+v", m)
	}
	p, err := m.genesisParams()
	if err != nil || p.TimeoutMinMS != 1000 {
		t.Errorf("genesis params %+v, %v", p, err)
	}
}

func TestStopThenStartIsAccepted(t *testing.T) {
	m, err := ParseManifest([]byte("name = \"x\"\nvalidators = 4\n[[step]]\naction = \"stop\"\nnodes = [\"f\"]\n[[step]]\naction = \"start\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Steps[0].Signal != "KILL" {
		t.Errorf("stop's default signal: %q", m.Steps[0].Signal)
	}
}

func TestManifestOverrides(t *testing.T) {
	m, err := ParseManifest([]byte(`name = "x"
validators = 3
[[node]]
name = "*"
clock_offset = "1s"
[[node]]
name = "node1"
clock_offset = "-2s"
unsafe_forget_safety_data = true
`))
	if err != nil {
		t.Fatal(err)
	}
	if o := m.override("node0"); o.ClockOffset.Duration != time.Second || o.UnsafeForgetSafetyData {
		t.Errorf("node0: %+v", o)
	}
	if o := m.override("node1"); o.ClockOffset.Duration != -2*time.Second || !o.UnsafeForgetSafetyData {
		t.Errorf("node1: %+v", o)
	}
}

func TestFollowersAndEpochSteps(t *testing.T) {
	m, err := ParseManifest([]byte(`name = "x"
validators = 4
followers = 2
[genesis]
epoch_views = 300
[[step]]
action = "kill"
nodes = ["follower1"]
duration = "5s"
[[step]]
action = "epoch"
fault = "kill"
nodes = ["random", "follower0"]
duration = "10s"
[[step]]
action = "epoch"
fault = "partition"
topology = "minority"
duration = "10s"
`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Followers != 2 || m.Genesis.EpochViews != 300 || !m.usesPartitions() {
		t.Fatalf("%+v", m)
	}
	p, err := m.genesisParams()
	if err != nil || p.EpochViews != 300 || p.EpochSafetyViews != 75 {
		t.Fatalf("params %+v, %v", p, err)
	}
	if sub := m.Steps[1].faultStep(); sub.Action != ActionKill || sub.Fault != "" || len(sub.Nodes) != 2 {
		t.Errorf("fault step %+v", sub)
	}
	if d := describeStep(m.Steps[2]); d != "epoch transition during partition minority for 10s" {
		t.Errorf("describe: %q", d)
	}
}

func TestBadManifests(t *testing.T) {
	base := "name = \"x\"\nvalidators = 4\n"
	step := func(s string) string { return base + "[[step]]\n" + s + "\n" }
	gen100 := base + "[genesis]\nepoch_views = 100\n"
	step2 := func(s string) string { return "[[step]]\n" + s + "\n" }
	for _, tc := range []struct{ text, want string }{
		{"validators = 4\n", "name"},
		{base + "followers = -1\n", "followers = -1"},
		{base + "followers = 17\n", "followers = 17"},
		{base + "followers = 2\n[[node]]\nname = \"follower0\"\n", "no such node"},
		{base + "[genesis]\nepoch_views = 10\n", "epoch_views = 10"},
		{"name = \"x\"\nvalidators = 0\n", "validators = 0"},
		{base + "colour = \"red\"\n", "unknown keys"},
		{base + "subnet = \"8.8.8.0/24\"\n", "private range"},
		{base + "subnet = \"172.30.1.0/28\"\n", "/8 to /24"},
		{base + "log_level = \"loud\"\n", "log_level"},
		{base + "[genesis]\nblock_interval_ms = 5000\n", "block_interval_ms"},
		{base + "[load]\nrate = -1\n", "load.rate"},
		{step("action = \"kill\"\nnodes = [\"node1\"]\nduration = \"5s\"\nload_rate = 60000"), "load_rate = 60000"},
		{step("action = \"partition\"\ntopology = \"split\"\nduration = \"5s\"\nmax_stall = \"3s\""), "max_stall does not apply to partition"},
		{step("action = \"kill\"\nnodes = [\"node1\"]\nduration = \"5s\"\nmax_stall = \"100ms\""), "max_stall 100ms"},
		{base + "[[node]]\nname = \"node9\"\n", "no such node"},
		{step("action = \"explode\""), "unknown action"},
		{step("action = \"epoch\"\nnodes = [\"node1\"]\nduration = \"5s\"\nfault = \"kill\""), "no epochs: set [genesis] epoch_views"},
		{gen100 + step2("action = \"epoch\"\nduration = \"5s\""), "fault is required"},
		{gen100 + step2("action = \"epoch\"\nfault = \"stop-all\"\nduration = \"5s\""), "fault \"stop-all\""},
		{gen100 + step2("action = \"epoch\"\nfault = \"kill\"\nduration = \"5s\""), "fault kill: nodes is required"},
		{gen100 + step2("action = \"epoch\"\nfault = \"partition\"\nduration = \"5s\""), "fault partition: topology"},
		{step("action = \"kill\"\nnodes = [\"node1\"]\nduration = \"5s\"\nfault = \"kill\""), "fault does not apply"},
		{base + "followers = 1\n" + "[[step]]\naction = \"partition\"\ntopology = \"groups\"\ngroups = [[\"node0\", \"follower0\"]]\nduration = \"5s\"\n", "follower0 is neither a validator nor a collector"},
		{step("action = \"kill\"\nnodes = [\"follower0\"]\nduration = \"5s\""), "neither a node, follower or role member name"},
		{step("action = \"kill\"\nduration = \"5s\""), "nodes is required"},
		{step("action = \"kill\"\nnodes = [\"node1\"]"), "duration is required"},
		{step("action = \"kill\"\nnodes = [\"boss\"]\nduration = \"5s\""), "neither a node, follower or role member name"},
		{step("action = \"pause\"\nnodes = [\"leader\"]\nduration = \"5s\"\ntopology = \"ring\""), "topology does not apply"},
		{step("action = \"partition\"\ntopology = \"star\"\nduration = \"5s\""), "topology \"star\""},
		{step("action = \"partition\"\ntopology = \"groups\"\nduration = \"5s\""), "groups is required"},
		{step("action = \"partition\"\ntopology = \"groups\"\ngroups = [[\"node0\"], [\"node0\"]]\nduration = \"5s\""), "in two groups"},
		{step("action = \"stop-all\"\nsignal = \"HUP\"\nduration = \"5s\""), "signal"},
		{step("action = \"wait\"\nduration = \"5s\"") + "[[step]]\naction = \"start\"\n", "nothing to start"},
		{step("action = \"stop\"\nnodes = [\"node1\"]\nduration = \"5s\""), "duration does not apply"},
		{step("action = \"stop\""), "nodes is required"},
		{step("action = \"stop\"\nnodes = [\"node1\"]\nsignal = \"INT\""), "signal"},
		{step("action = \"start\"\norder = \"sorted\""), "order"},
		{base + "[expect]\nviolations = [\"sadness\"]\n", "not one of"},
		{base + "[pipeline]\naccess = 1\n", "clusters is required"},
		{base + "[pipeline]\nclusters = 1\ncluster_size = 0\nexecutors = 1\naccess = 1\n", "cluster_size = 0"},
		{base + "[pipeline]\nclusters = 1\ncluster_size = 3\nexecutors = 0\naccess = 1\n", "executors = 0"},
		{base + "[pipeline]\nclusters = 1\ncluster_size = 3\nexecutors = 1\naccess = 0\n", "access = 0"},
		{base + "[pipeline]\nclusters = 2\ncluster_size = 2\nexecutors = 1\naccess = 1\n" + step2("action = \"partition\"\ntopology = \"cluster\"\ncluster = 2\nduration = \"5s\""), "cluster = 2"},
		{base + "[pipeline]\nclusters = 2\ncluster_size = 2\nexecutors = 1\naccess = 1\n" + step2("action = \"partition\"\ntopology = \"cluster\"\nduration = \"5s\""), "cluster is required"},
		{step("action = \"partition\"\ntopology = \"cluster\"\ncluster = 0\nduration = \"5s\""), "needs a pipeline network"},
		{step("action = \"kill\"\nnodes = [\"collector\"]\nduration = \"5s\""), "neither a node"},
		{step("action = \"kill\"\nnodes = [\"collector0\"]\nduration = \"5s\""), "neither a node"},
		{base + "[pipeline]\nclusters = 1\ncluster_size = 3\nexecutors = 1\naccess = 1\n" + step2("action = \"partition\"\ntopology = \"groups\"\ngroups = [[\"node0\", \"collector0\"]]\nduration = \"5s\""), "validators and collectors"},
		{base + "[pipeline]\nclusters = 1\ncluster_size = 3\nexecutors = 1\naccess = 1\n" + step2("action = \"partition\"\ntopology = \"groups\"\ngroups = [[\"access0\"]]\nduration = \"5s\""), "access0 is neither a validator nor a collector"},
	} {
		_, err := ParseManifest([]byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("manifest:\n%s\nerror %v, want one containing %q", tc.text, err, tc.want)
		}
	}
}

// A pipeline manifest names its role members in steps and partitions.
func TestPipelineManifest(t *testing.T) {
	m, err := ParseManifest([]byte(`name = "p"
validators = 4
[pipeline]
clusters = 2
cluster_size = 4
executors = 1
access = 1
[[step]]
action = "kill"
nodes = ["collector5", "collector"]
duration = "5s"
[[step]]
action = "partition"
topology = "cluster"
cluster = 1
duration = "5s"
[[step]]
action = "partition"
topology = "groups"
groups = [["collector0", "collector1"]]
duration = "5s"
[[step]]
action = "pause"
nodes = ["access0", "execution0"]
duration = "5s"
`))
	if err != nil {
		t.Fatal(err)
	}
	if m.totalNodes() != 4+8+2 || len(m.Pipeline.roleMembers()) != 10 || *m.Steps[1].Cluster != 1 {
		t.Fatalf("pipeline %+v, %d nodes", m.Pipeline, m.totalNodes())
	}
	// The subnet must hold every container.
	if _, err := ParseManifest([]byte("name = \"p\"\nvalidators = 4\nsubnet = \"10.9.0.0/24\"\n[pipeline]\nclusters = 8\ncluster_size = 16\nexecutors = 8\naccess = 8\n")); err != nil {
		t.Fatal(err)
	}
}

// An execution node can be made byzantine, and only an execution node;
// its container gets the fault's switch and the report says so.
func TestExecutionFaultOption(t *testing.T) {
	base := "name = \"x\"\nvalidators = 4\nsubnet = \"172.30.9.0/24\"\napi_port_base = 29000\n" +
		"[pipeline]\nclusters = 1\ncluster_size = 4\nexecutors = 2\naccess = 1\n"
	for _, f := range []string{ExecFaultWrongEndState, ExecFaultWrongEvents, ExecFaultWithholdPacks} {
		m, err := ParseManifest([]byte(base + "[[node]]\nname = \"execution1\"\nexecution_fault = \"" + f + "\"\n"))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got := m.executorOverride("execution1").ExecutionFault; got != f {
			t.Errorf("execution1's fault %q, want %q", got, f)
		}
		if got := m.executorOverride("execution0").ExecutionFault; got != "" {
			t.Errorf("execution0 got fault %q", got)
		}
	}
	for bad, want := range map[string]string{
		"[[node]]\nname = \"node1\"\nexecution_fault = \"wrong_end_state\"\n":                                                                           "execution node",
		"[[node]]\nname = \"*\"\nexecution_fault = \"wrong_end_state\"\n":                                                                               "execution node",
		"[[node]]\nname = \"collector0\"\nexecution_fault = \"wrong_events\"\n":                                                                         "execution node",
		"[[node]]\nname = \"access0\"\nexecution_fault = \"withhold_packs\"\n":                                                                          "execution node",
		"[[node]]\nname = \"execution2\"\nexecution_fault = \"wrong_end_state\"\n":                                                                      "execution node",
		"[[node]]\nname = \"execution0\"\nexecution_fault = \"lie\"\n":                                                                                  "want wrong_end_state",
		"[[node]]\nname = \"execution0\"\nclock_offset = \"1s\"\n":                                                                                      "execution_fault only",
		"[[node]]\nname = \"execution0\"\nexecution_fault = \"withhold_packs\"\nwithhold_collections = true\n":                                          "execution_fault only",
		"[[node]]\nname = \"execution0\"\nexecution_fault = \"wrong_events\"\n[[node]]\nname = \"execution1\"\nexecution_fault = \"wrong_end_state\"\n": "at least one must be honest",
	} {
		_, err := ParseManifest([]byte(base + bad))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", bad, err, want)
		}
	}
	spec := testSpec()
	spec.Pipeline = PipelineSpec{Clusters: 1, ClusterSize: 4, Executors: 2, Access: 1}
	spec.Overrides = map[string]NodeOverride{"execution1": {ExecutionFault: ExecFaultWrongEndState}}
	net, err := GenerateNetwork(t.TempDir()+"/net", spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range net.Nodes {
		fault := ""
		for _, kv := range nd.env("info") {
			if kv[0] == "FLOE_TEST_EXECUTION_FAULT" {
				fault = kv[1]
			}
		}
		want := ""
		if nd.Name == "execution1" {
			want = ExecFaultWrongEndState
		}
		if fault != want {
			t.Errorf("%s: FLOE_TEST_EXECUTION_FAULT %q, want %q", nd.Name, fault, want)
		}
		if nd.Name == "execution1" && !strings.Contains(nd.Override.describe(), "wrong end states") {
			t.Errorf("describe: %q", nd.Override.describe())
		}
	}
}
