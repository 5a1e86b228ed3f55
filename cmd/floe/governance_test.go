package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/governance"
	"github.com/floe-bft/floe/localnet"
)

func TestGovernanceKeygenAndGenesis(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "gov.key")
	stdout, stderr, err := execute(t, "governance", "keygen", "--out", keyPath)
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, stderr)
	}
	pub := strings.TrimSpace(stdout)
	key, err := governance.LoadKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if governance.PublicKeyHex(key) != pub {
		t.Fatalf("printed %s, file holds the key of %s", pub, governance.PublicKeyHex(key))
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	if _, _, err := execute(t, "governance", "keygen", "--out", keyPath); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("keygen over an existing key: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "bad.key"), []byte("not hex\n"), 0o600)
	if _, err := governance.LoadKey(filepath.Join(dir, "bad.key")); err == nil {
		t.Fatal("a malformed key file loaded")
	}

	// A genesis with epochs names the key.
	val := writeValidatorEntry(t, dir, "alice", "127.0.0.1:30001")
	gpath := filepath.Join(dir, "genesis.json")
	if _, stderr, err := execute(t, "genesis", "--chain-id", "gov", "--out", gpath, "--epoch-views", "100",
		"--governance-key", pub, val); err != nil {
		t.Fatalf("genesis: %v\n%s", err, stderr)
	}
	g, err := genesis.Load(gpath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := g.EpochParams()
	if err != nil || p.EpochViews != 100 || p.SafetyViews != 25 || len(p.Authorities) != 1 || !p.Authorities[0].Equal(key.Public()) {
		t.Fatalf("epoch params %+v, %v", p, err)
	}
	if _, stderr, err := execute(t, "genesis", "--chain-id", "gov", "--out", gpath, "--force", "--epoch-profile", "production",
		"--governance-key", pub, val); err != nil {
		t.Fatalf("genesis production: %v\n%s", err, stderr)
	}
	if g, _ := genesis.Load(gpath); g.Params.EpochViews != 7*24*3600 || g.Params.EpochSafetyViews != 3600 {
		t.Fatalf("production profile: %+v", g.Params)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--epoch-views", "2", "--governance-key", pub}, "must exceed twice"},
		{[]string{"--epoch-views", "100"}, "at least one --governance-key"},
		{[]string{"--governance-key", pub}, "needs epochs"},
		{[]string{"--epoch-views", "100", "--governance-key", "abcd"}, "32 bytes of hex"},
		{[]string{"--epoch-views", "100", "--governance-key", pub, "--governance-key", pub}, "twice"},
		{[]string{"--epoch-profile", "test", "--governance-key", pub}, "needs --epoch-views"},
		{[]string{"--epoch-profile", "weekly", "--governance-key", pub}, "must be 'production' or 'test'"},
	} {
		args := append([]string{"genesis", "--chain-id", "gov", "--out", filepath.Join(dir, "x.json")}, c.args...)
		if _, _, err := execute(t, append(args, val)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("genesis %v: %v, want %q", c.args, err, c.want)
		}
	}
}

// writeValidatorEntry makes keys for a member and writes its validator entry.
func writeValidatorEntry(t *testing.T, dir, name, p2p string) string {
	t.Helper()
	stdout, stderr, err := execute(t, "keys", "--out", filepath.Join(dir, name+".keys"), "--name", name, "--p2p", p2p)
	if err != nil {
		t.Fatalf("keys: %v\n%s", err, stderr)
	}
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGovernanceSetupChecksBeforePosting runs 'governance setup' against a
// fake node: every refusal happens before anything is posted.
func TestGovernanceSetupChecksBeforePosting(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "gov.key")
	pubOut, _, err := execute(t, "governance", "keygen", "--out", keyPath)
	if err != nil {
		t.Fatal(err)
	}
	a := writeValidatorEntry(t, dir, "a", "127.0.0.1:30001")
	b := writeValidatorEntry(t, dir, "b", "127.0.0.1:30002")
	gpath := filepath.Join(dir, "genesis.json")
	if _, stderr, err := execute(t, "genesis", "--chain-id", "fake", "--out", gpath, "--epoch-views", "100",
		"--governance-key", strings.TrimSpace(pubOut), a, b); err != nil {
		t.Fatalf("genesis: %v\n%s", err, stderr)
	}

	var status atomic.Value // api.StatusResponse
	status.Store(api.StatusResponse{ChainID: "fake", View: 10, Epoch: api.EpochInfo{Counter: 0, FirstView: 0, FinalView: 100, Members: 2}})
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/status":
			json.NewEncoder(w).Encode(status.Load())
		case "/v1/governance/events":
			posts.Add(1)
			w.WriteHeader(http.StatusAccepted)
			json.NewEncoder(w).Encode(api.ServiceEventResponse{ID: "ab", Kind: "EpochSetup", Status: "queued"})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte(`{"name": "c", "stake": 1}`), 0o644)
	var entry genesis.Validator
	bb, _ := os.ReadFile(b)
	var wrapped keysOutput
	json.Unmarshal(bb, &wrapped)
	entry = wrapped.Validator
	entry.Name, entry.Address = "forged", "127.0.0.1:30003"
	entry.Possession = wrapped.Validator.StakingKey // not a proof of possession
	forged := filepath.Join(dir, "forged.json")
	fb, _ := json.Marshal(entry)
	os.WriteFile(forged, fb, 0o644)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherKey := filepath.Join(dir, "other.key")
	if err := governance.SaveKey(otherKey, other); err != nil {
		t.Fatal(err)
	}

	setup := func(key string, extra ...string) error {
		args := append([]string{"governance", "setup", "--key", key, "--genesis", gpath, "--node", srv.URL,
			"--out", filepath.Join(dir, "setup.bin")}, extra...)
		_, _, err := execute(t, args...)
		return err
	}
	for _, c := range []struct {
		name string
		key  string
		args []string
		want string
	}{
		{"malformed file", keyPath, []string{"--validators", a + "," + garbage}, "not a validator entry"},
		{"missing file", keyPath, []string{"--validators", a + "," + filepath.Join(dir, "none.json")}, "no such file"},
		{"bad possession", keyPath, []string{"--validators", a + "," + forged}, "possession"},
		{"duplicate member", keyPath, []string{"--validators", a + "," + a}, "appears twice"},
		{"unauthorised key", otherKey, []string{"--validators", a + "," + b}, "unauthorised key"},
		{"too short", keyPath, []string{"--validators", a + "," + b, "--views", "50"}, "too short"},
	} {
		if err := setup(c.key, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	status.Store(api.StatusResponse{ChainID: "fake", View: 80, Epoch: api.EpochInfo{FinalView: 100, Members: 2}})
	if err := setup(keyPath, "--validators", a+","+b); err == nil || !strings.Contains(err.Error(), "too late") {
		t.Errorf("past the threshold: %v", err)
	}
	status.Store(api.StatusResponse{ChainID: "fake", View: 10, Epoch: api.EpochInfo{FinalView: 100, Members: 2},
		PendingSetup: &api.EpochInfo{Counter: 1, FirstView: 101, FinalView: 200, Members: 2}})
	if err := setup(keyPath, "--validators", a+","+b); err == nil || !strings.Contains(err.Error(), "already pending") {
		t.Errorf("pending setup: %v", err)
	}
	status.Store(api.StatusResponse{ChainID: "other", View: 10, Epoch: api.EpochInfo{FinalView: 100, Members: 2}})
	if err := setup(keyPath, "--validators", a+","+b); err == nil || !strings.Contains(err.Error(), "runs chain") {
		t.Errorf("wrong chain: %v", err)
	}
	if n := posts.Load(); n != 0 {
		t.Fatalf("%d events were posted by refused setups", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "setup.bin")); err == nil {
		t.Fatal("a refused setup wrote its file")
	}

	// The accepted case posts once and writes a setup that commit reads.
	status.Store(api.StatusResponse{ChainID: "fake", View: 10, Epoch: api.EpochInfo{FinalView: 100, Members: 2}})
	if err := setup(keyPath, "--validators", b+","+a, "--views", "60"); err != nil {
		t.Fatal(err)
	}
	g, _ := genesis.Load(gpath)
	p, _ := g.EpochParams()
	spec, err := governance.ReadSetupFile(filepath.Join(dir, "setup.bin"), p)
	if err != nil || posts.Load() != 1 {
		t.Fatalf("setup file: %v, %d posts", err, posts.Load())
	}
	if spec.Counter != 1 || spec.FirstView != 101 || spec.FinalView != 160 || spec.Identities[0].Name != "b" {
		t.Fatalf("setup %+v", spec)
	}
	// commit refuses while the node shows no such pending setup.
	_, _, err = execute(t, "governance", "commit", "--key", keyPath, "--genesis", gpath, "--node", srv.URL,
		"--setup", filepath.Join(dir, "setup.bin"))
	if err == nil || !strings.Contains(err.Error(), "no setup is pending") || posts.Load() != 1 {
		t.Fatalf("commit without a pending setup: %v (%d posts)", err, posts.Load())
	}
}

// TestGovernanceEpochChangeRealNodes drives one epoch transition of a real
// four-process network through the CLI (setup, commit, status) and waits
// until the network runs the new, smaller committee. The new table also
// lists a collector (never started), dealt into one cluster: the network
// finalizes a setup with roles and clusters, and the collector stays out
// of the committee.
func TestGovernanceEpochChangeRealNodes(t *testing.T) {
	const epochViews = 100 // ~10 s of views; the transition takes a few
	dir := t.TempDir()
	ts := prepareEpochNet(t, dir, epochViews)
	// Only the genesis committee runs: the spare (node4) stays off.
	cn := launchProcessNet(t, ts.Nodes[:4])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gpath := filepath.Join(dir, "net", config.GenesisFile)
	keyPath := filepath.Join(dir, "gov.key")
	if err := governance.SaveKey(keyPath, localnet.GovernanceKey()); err != nil {
		t.Fatal(err)
	}
	node := "http://" + cn.nodes[1].APIAddr
	var vals []string
	for _, tn := range cn.nodes[:3] {
		vals = append(vals, filepath.Join(tn.Dir, config.Dir, config.ValidatorFile))
	}
	stdout, stderr, err := execute(t, "keys", "--out", filepath.Join(dir, "col.keys"), "--name", "col",
		"--p2p", "127.0.0.1:1", "--role", "collection", "--weight", "1000")
	if err != nil {
		t.Fatalf("keys: %v\n%s", err, stderr)
	}
	collector := filepath.Join(dir, "col.json")
	if err := os.WriteFile(collector, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	vals = append(vals, collector)
	validators := strings.Join(vals, ",")
	setupPath := filepath.Join(dir, "epoch-1-setup.bin")

	// An unauthorised key: refused locally with a clear message, and by
	// the node when the genesis file at hand lists it but the chain's does
	// not (the chain ID does not depend on the governance keys).
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherKey := filepath.Join(dir, "other.key")
	if err := governance.SaveKey(otherKey, other); err != nil {
		t.Fatal(err)
	}
	_, _, err = execute(t, "governance", "setup", "--key", otherKey, "--genesis", gpath, "--node", node,
		"--validators", validators, "--out", setupPath)
	if err == nil || !strings.Contains(err.Error(), "unauthorised key") {
		t.Fatalf("unauthorised key: %v", err)
	}
	forgedGenesis := filepath.Join(dir, "forged-genesis.json")
	g := *ts.Genesis
	g.Governance = append([]string{governance.PublicKeyHex(other)}, g.Governance...)
	if err := g.Save(forgedGenesis); err != nil {
		t.Fatal(err)
	}
	_, _, err = execute(t, "governance", "setup", "--key", otherKey, "--genesis", forgedGenesis, "--node", node,
		"--validators", validators, "--out", setupPath)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "not a governance key of this chain") {
		t.Fatalf("key unknown to the node: %v", err)
	}
	if _, err := os.Stat(setupPath); err == nil {
		t.Fatal("a refused setup left its file")
	}

	// The transition: setup, wait until final; a second setup is refused;
	// commit, wait until committed.
	stdout, stderr, err = execute(t, "governance", "setup", "--key", keyPath, "--genesis", gpath, "--node", node,
		"--validators", validators, "--out", setupPath, "--wait", "15s")
	if err != nil {
		t.Fatalf("setup: %v\n%s%s", err, stdout, stderr)
	}
	t.Logf("setup:\n%s", stdout)
	if !strings.Contains(stdout, "queued EpochSetup") || !strings.Contains(stdout, "setup finalized") {
		t.Fatalf("setup output:\n%s", stdout)
	}
	_, _, err = execute(t, "governance", "setup", "--key", keyPath, "--genesis", gpath, "--node", node,
		"--validators", validators, "--out", filepath.Join(dir, "again.bin"))
	if err == nil || !strings.Contains(err.Error(), "already pending") {
		t.Fatalf("second setup: %v", err)
	}
	stdout, _, err = execute(t, "governance", "status", "--node", node)
	if err != nil || !strings.Contains(stdout, "pending setup: epoch 1") {
		t.Fatalf("status with a pending setup: %v\n%s", err, stdout)
	}
	// Commit through another node: any participant takes events.
	stdout, stderr, err = execute(t, "governance", "commit", "--key", keyPath, "--genesis", gpath,
		"--node", "http://"+cn.nodes[2].APIAddr, "--setup", setupPath, "--wait", "15s")
	if err != nil {
		t.Fatalf("commit: %v\n%s%s", err, stdout, stderr)
	}
	t.Logf("commit:\n%s", stdout)

	// The commit was finalized through node 2; node 0 sees it once it has
	// that block too.
	want := api.EpochInfo{Counter: 1, FirstView: epochViews + 1, FinalView: 2 * epochViews, Members: 4,
		Roles: map[string]int{"consensus": 3, "collection": 1}, Clusters: [][]string{{"col"}}}
	var gs governance.Status
	cn.waitFor("the status of node 0 to show epoch 1 committed", 10*time.Second, func() bool {
		stdout, _, err = execute(t, "governance", "status", "--node", node, "--json")
		if err != nil {
			t.Fatal(err)
		}
		gs = governance.Status{}
		if err := json.Unmarshal([]byte(stdout), &gs); err != nil {
			t.Fatalf("status --json: %v\n%s", err, stdout)
		}
		return gs.PendingSetup == nil && (sameEpochInfo(gs.NextEpoch, want) || sameEpochInfo(&gs.Epoch, want))
	})
	// Every node agrees once it has caught up.
	for _, tn := range cn.nodes {
		cn.waitFor(tn.Name+" sees epoch 1 committed", 10*time.Second, func() bool {
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			st, err := tn.Client.Status(c)
			return err == nil && (sameEpochInfo(st.NextEpoch, want) || sameEpochInfo(&st.Epoch, want))
		})
	}
	// Committing again is a no-op, not an error.
	stdout, _, err = execute(t, "governance", "commit", "--key", keyPath, "--genesis", gpath, "--node", node, "--setup", setupPath)
	if err != nil || !strings.Contains(stdout, "already committed") {
		t.Fatalf("second commit: %v\n%s", err, stdout)
	}

	// The network crosses the boundary into the new committee.
	cn.waitFor("epoch 1 running on node0", 25*time.Second, func() bool {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		st, err := cn.nodes[0].Client.Status(c)
		return err == nil && sameEpochInfo(&st.Epoch, want) && st.View > want.FirstView+3 && len(st.Committee) == 3
	})
}

// sameEpochInfo compares the epoch a status reports with the one expected.
func sameEpochInfo(got *api.EpochInfo, want api.EpochInfo) bool {
	return got != nil && reflect.DeepEqual(*got, want)
}
