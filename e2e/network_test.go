package e2e

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
)

func testSpec() NetworkSpec {
	return NetworkSpec{Project: "floe-test", ChainID: "test-chain", Validators: 4, Subnet: "172.30.9.0/24",
		APIPortBase: 30000, Params: genesis.DefaultParams(), Seed: 3,
		Overrides: map[string]NodeOverride{"node2": {ClockOffset: Duration{Duration: 5 * time.Second}, UnsafeForgetSafetyData: true}}}
}

func TestGenerateNetwork(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	net, err := GenerateNetwork(dir, testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if len(net.Nodes) != 4 || net.Nodes[3].IP != "172.30.9.13" || net.Nodes[1].APIURL != "http://127.0.0.1:30001" ||
		net.Nodes[0].Container != "floe-test-node0" {
		t.Fatalf("nodes: %+v", net.Nodes[3])
	}
	for _, nd := range net.Nodes {
		g, err := genesis.Load(filepath.Join(nd.Home, "config", "genesis.json"))
		if err != nil {
			t.Fatal(err)
		}
		keys, err := genesis.LoadKeys(filepath.Join(nd.Home, "config", "keys.json"))
		if err != nil {
			t.Fatal(err)
		}
		if g.Validators[nd.Index].Address != nd.IP+":26656" || g.Validators[nd.Index].Name != nd.Name {
			t.Errorf("%s: genesis entry %+v", nd.Name, g.Validators[nd.Index])
		}
		if _, err := keys.Validator(nd.Name, nd.IP+":26656", 1); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(filepath.Join(nd.Home, "data")); err != nil || !st.IsDir() {
			t.Errorf("%s: no data directory", nd.Name)
		}
	}
	compose, err := os.ReadFile(net.ComposePath())
	if err != nil {
		t.Fatal(err)
	}
	c := string(compose)
	for _, want := range []string{
		"version: \"2.4\"", "name: floe-test", "subnet: 172.30.9.0/24", "container_name: floe-test-node3",
		"ipv4_address: 172.30.9.13", "\"127.0.0.1:30003:8080\"", "\"./node3:/home/floe\"",
		"FLOE_CLOCK_OFFSET: \"5s\"", "FLOE_UNSAFE_FORGET_SAFETY_DATA: \"true\"", "restart: \"no\"",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("compose.yaml lacks %q:\n%s", want, c)
		}
	}
	if strings.Count(c, "FLOE_UNSAFE_FORGET_SAFETY_DATA") != 1 {
		t.Error("a fault of node2 reached other nodes")
	}

	// The same seed gives the same keys; a regeneration replaces the
	// directory.
	again, err := GenerateNetwork(dir, testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if again.Genesis.Validators[0].StakingKey != net.Genesis.Validators[0].StakingKey {
		t.Error("the same seed gave different keys")
	}
	spec := testSpec()
	spec.RandomKeys = true
	fresh, err := GenerateNetwork(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Genesis.Validators[0].StakingKey == net.Genesis.Validators[0].StakingKey {
		t.Error("random keys repeat the seeded ones")
	}
}

func TestGenerateNetworkFollowersAndGovernance(t *testing.T) {
	spec := testSpec()
	spec.Followers = 5
	spec.Params.TestEpochs(200)
	net, err := GenerateNetwork(filepath.Join(t.TempDir(), "net"), spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(net.Nodes) != 9 {
		t.Fatalf("%d nodes", len(net.Nodes))
	}
	f := net.Nodes[8] // follower4 follows node0 (4 mod 4)
	if !f.Follower || f.Name != "follower4" || f.IP != "172.30.9.18" || f.APIURL != "http://127.0.0.1:30008" ||
		f.Upstream != "http://172.30.9.10:8080" || f.Index != 8 {
		t.Fatalf("follower4: %+v", f)
	}
	if _, err := os.Stat(filepath.Join(f.Home, "config", "keys.json")); !os.IsNotExist(err) {
		t.Error("a follower got validator keys")
	}
	if _, err := genesis.Load(filepath.Join(f.Home, "config", "genesis.json")); err != nil {
		t.Fatal(err)
	}
	c, err := os.ReadFile(net.ComposePath())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`command: ["follow", "--home", "/home/floe", "--upstream", "http://172.30.9.11:8080"]`, // follower1 → node1
		"container_name: floe-test-follower4", "ipv4_address: 172.30.9.18", `"./follower4:/home/floe"`, `"127.0.0.1:30008:8080"`,
	} {
		if !strings.Contains(string(c), want) {
			t.Errorf("compose.yaml lacks %q", want)
		}
	}
	if strings.Count(string(c), "FLOE_P2P") != 4 {
		t.Error("followers got a peer-to-peer listener")
	}
	// The governance key is derived from the seed, listed in the genesis,
	// and saved for 'floe governance --key'.
	g := net.Genesis
	if len(g.Governance) != 1 || g.Governance[0] != hex.EncodeToString(net.Governance.Public().(ed25519.PublicKey)) {
		t.Fatalf("governance keys %v", g.Governance)
	}
	again, err := GenerateNetwork(filepath.Join(t.TempDir(), "net2"), spec)
	if err != nil || !again.Governance.Equal(net.Governance) {
		t.Fatalf("the same seed gave another governance key (%v)", err)
	}
	if ep, err := g.EpochParams(); err != nil || ep.EpochViews != 200 || len(ep.Authorities) != 1 {
		t.Fatalf("epoch params %+v, %v", ep, err)
	}
	raw, err := os.ReadFile(filepath.Join(net.Dir, governanceKeyFile))
	if err != nil || strings.TrimSpace(string(raw)) != hex.EncodeToString(net.Governance.Seed()) {
		t.Fatalf("governance.key: %q %v", raw, err)
	}
}

func TestGenerateNetworkRefusals(t *testing.T) {
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateNetwork(foreign, testSpec()); err == nil || !strings.Contains(err.Error(), "refusing to delete") {
		t.Errorf("a foreign directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, "precious")); err != nil {
		t.Fatal("the foreign file is gone")
	}
	for _, tc := range []struct {
		edit func(*NetworkSpec)
		want string
	}{
		{func(s *NetworkSpec) { s.Followers = -1 }, "followers"},
		{func(s *NetworkSpec) { s.Followers = 17 }, "followers"},
		{func(s *NetworkSpec) { s.Validators = 0 }, "validators"},
		{func(s *NetworkSpec) { s.Project = "Bad Name" }, "project"},
		{func(s *NetworkSpec) { s.Subnet = "bogus" }, "subnet"},
		{func(s *NetworkSpec) { s.APIPortBase = 80 }, "port"},
	} {
		spec := testSpec()
		tc.edit(&spec)
		if _, err := GenerateNetwork(filepath.Join(t.TempDir(), "n"), spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", spec, err, tc.want)
		}
	}
}

func TestGeneratePipelineNetwork(t *testing.T) {
	spec := testSpec()
	spec.Followers = 1
	spec.Pipeline = PipelineSpec{Clusters: 2, ClusterSize: 4, Executors: 1, Access: 1}
	net, err := GenerateNetwork(filepath.Join(t.TempDir(), "net"), spec)
	if err != nil {
		t.Fatal(err)
	}
	// 4 validators, 1 follower, 8 collectors, execution0, access0.
	if len(net.Nodes) != 15 {
		t.Fatalf("%d nodes", len(net.Nodes))
	}
	byName := map[string]*Node{}
	for _, nd := range net.Nodes {
		byName[nd.Name] = nd
	}
	c7, ex, ac := byName["collector7"], byName["execution0"], byName["access0"]
	if c7 == nil || ex == nil || ac == nil {
		t.Fatalf("role members missing: %v", byName)
	}
	if c7.Role != "collection" || ex.Role != "execution" || ac.Role != "access" || ac.Index != 14 ||
		ac.IP != "172.30.9.24" || ac.APIURL != "http://127.0.0.1:30014" {
		t.Fatalf("access0 %+v, collector7 %+v", ac, c7)
	}
	g := net.Genesis
	if g.Params.Clusters != 2 || len(g.Validators) != 4+10 {
		t.Fatalf("genesis: clusters %d, %d entries", g.Params.Clusters, len(g.Validators))
	}
	entries := map[string]genesis.Validator{}
	for _, v := range g.Validators {
		entries[v.Name] = v
	}
	if v := entries["node2"]; v.API != "http://172.30.9.12:8080" || v.Role != "" {
		t.Errorf("node2's entry: %+v", v)
	}
	if v := entries["access0"]; v.API != "http://172.30.9.24:8080" || v.Role != "access" {
		t.Errorf("access0's entry: %+v", v)
	}
	if v := entries["collector0"]; v.API != "http://172.30.9.15:8080" || v.Role != "collection" || v.Address != "172.30.9.15:26656" {
		t.Errorf("collector0's entry: %+v", v)
	}
	// The committee is the consensus members only.
	com, members, err := g.Committee()
	if err != nil || com.Size() != 4 || len(members) != 4 {
		t.Fatalf("committee: %v, %d members", err, len(members))
	}
	// The runner's clusters are the genesis epoch's deal, by name: every
	// collector in exactly one cluster of 4.
	seen := map[string]int{}
	if len(net.Clusters) != 2 {
		t.Fatalf("clusters %v", net.Clusters)
	}
	est, err := g.EpochState()
	if err != nil {
		t.Fatal(err)
	}
	ep, err := est.Schedule().Epoch(0)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range net.Clusters {
		if len(c) != 4 {
			t.Errorf("cluster %d: %v", i, c)
		}
		members, _ := ep.Cluster(i, model.ZeroID)
		for j, name := range c {
			seen[name]++
			if members[j].Name != name {
				t.Errorf("cluster %d member %d: %s, the epoch says %s", i, j, name, members[j].Name)
			}
		}
	}
	for k := 0; k < 8; k++ {
		if seen[fmt.Sprintf("collector%d", k)] != 1 {
			t.Errorf("collector%d in %d clusters", k, seen[fmt.Sprintf("collector%d", k)])
		}
	}
	keys, err := genesis.LoadKeys(filepath.Join(c7.Home, "config", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := keys.Validator("collector7", c7.IP+":26656", 1); err != nil || v.StakingKey != entries["collector7"].StakingKey {
		t.Errorf("collector7's keys do not match its genesis entry: %v", err)
	}
	compose, err := os.ReadFile(net.ComposePath())
	if err != nil {
		t.Fatal(err)
	}
	c := string(compose)
	for _, want := range []string{"container_name: floe-test-access0", "FLOE_ROLE: \"access\"", "FLOE_ROLE: \"collection\"",
		"ipv4_address: 172.30.9.24", "\"127.0.0.1:30014:8080\"", "\"./execution0:/home/floe\""} {
		if !strings.Contains(c, want) {
			t.Errorf("compose.yaml lacks %q", want)
		}
	}
	if strings.Count(c, "FLOE_ROLE") != 10 {
		t.Errorf("%d FLOE_ROLE lines, want 10 (role members only)", strings.Count(c, "FLOE_ROLE"))
	}
}
