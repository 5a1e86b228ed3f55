package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/localnet"
	node "github.com/floe-bft/floe/role/consensus"
)

// TestStartSingleNode runs 'floe start' in-process for a one-member
// committee and drives it through the client commands.
func TestStartSingleNode(t *testing.T) {
	ports, home, ctx, cancel, c, done := startSolo(t, "solo-chain")
	defer cancel()
	g, err := loadGenesis(home)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ports[1]
	stdout, stderr, err := execute(t, "tx", "send", "greeting=hello", "--node", url, "--timeout", "20s")
	if err != nil {
		t.Fatalf("tx send: %v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "finalized at height") || !strings.Contains(stdout, ": ok") {
		t.Fatalf("tx send output: %s", stdout)
	}
	id := strings.Fields(strings.SplitN(stdout, "\n", 2)[0])[1]
	stdout, _, err = execute(t, "tx", "get", id, "--node", url)
	if err != nil || !strings.Contains(stdout, `"finalized"`) {
		t.Fatalf("tx get: %v\n%s", err, stdout)
	}
	stdout, _, err = execute(t, "status", "--node", url)
	if err != nil || !strings.Contains(stdout, `"chain_id": "solo-chain"`) {
		t.Fatalf("status: %v\n%s", err, stdout)
	}
	resp, err := c.HTTPClient().Get(url + "/v1/state?key=greeting")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("state: %v %v", err, resp)
	}
	resp.Body.Close()
	if v, ok, err := c.Metric(ctx, "floe_finalized_height"); err != nil || !ok || v < 1 {
		t.Fatalf("metrics: %v %v %v", v, ok, err)
	}

	// The same command runs the observer role when floe.toml says so: it
	// follows the node through its API, executes the chain (it knows the
	// transaction's result) and refuses transactions.
	obs := filepath.Join(t.TempDir(), "observer")
	if err := os.MkdirAll(filepath.Join(obs, config.Dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := g.Save(filepath.Join(obs, config.Dir, config.GenesisFile)); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("role = %q\n[api]\nlisten = %q\n[follower]\nupstreams = [%q]\n[node]\nstatus_interval = \"100ms\"\n", config.RoleObserver, ports[3], url)
	if err := os.WriteFile(filepath.Join(obs, config.Dir, config.File), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	obsLogs := &syncBuffer{}
	obsDone := make(chan error, 1)
	go func() { obsDone <- runNode(ctx, obs, obsLogs, node.Faults{}) }()
	oc := client.New(ports[3])
	waitUntil(t, "the observer to execute the transaction", obsDone, obsLogs, func() bool {
		r, err := oc.Tx(ctx, id)
		return err == nil && r.Status == "finalized"
	})
	if _, _, err := execute(t, "tx", "send", "k=v", "--node", "http://"+ports[3], "--timeout", "5s"); err == nil || !strings.Contains(err.Error(), "observer") {
		t.Fatalf("the observer took a transaction: %v", err)
	}

	// A running node's data directory is locked: export refuses it and
	// writes nothing.
	early := filepath.Join(t.TempDir(), "early.json")
	if _, _, err := execute(t, "export", "--home", home, "--out", early); err == nil {
		t.Fatal("exported the data directory of a running node")
	}
	if _, err := os.Stat(early); !os.IsNotExist(err) {
		t.Fatalf("a refused export wrote %s: %v", early, err)
	}
	cancel()
	stopped(t, "node", done)
	stopped(t, "observer", obsDone)
	upgradeWithExportedState(t, home, ports[1])
}

// upgradeWithExportedState is the upgrade path of docs/upgrades.md on the
// stopped node of TestStartSingleNode: export its state, assemble a new
// network's genesis with it, start the same validator on a fresh data
// directory, and read the old network's key from the new one.
func upgradeWithExportedState(t *testing.T, oldHome, apiAddr string) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	if _, stderr, err := execute(t, "export", "--home", oldHome, "--out", state); err != nil || !strings.Contains(stderr, "of solo-chain") {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	home := filepath.Join(dir, "solo-v2")
	if err := os.MkdirAll(filepath.Join(home, config.Dir), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{config.File, config.KeysFile, config.ValidatorFile} {
		b, err := os.ReadFile(filepath.Join(oldHome, config.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, config.Dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	gen := filepath.Join(home, config.Dir, config.GenesisFile)
	// A state file edited after the export is refused, and nothing is written.
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(dir, "edited.json")
	hello := fmt.Sprintf("%x", "hello")
	if !strings.Contains(string(b), hello) {
		t.Fatalf("the export lacks the value written before:\n%s", b)
	}
	if err := os.WriteFile(edited, []byte(strings.Replace(string(b), hello, fmt.Sprintf("%x", "HELLO"), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	validator := filepath.Join(home, config.Dir, config.ValidatorFile)
	if _, _, err := execute(t, "genesis", "--chain-id", "solo-chain-v2", "--out", gen, "--app-state", edited, validator); err == nil || !strings.Contains(err.Error(), "bad state file") {
		t.Fatalf("an edited state file was accepted: %v", err)
	}
	if _, err := os.Stat(gen); !os.IsNotExist(err) {
		t.Fatalf("a genesis was written from an edited state: %v", err)
	}
	if _, _, err := execute(t, "genesis", "--chain-id", "solo-chain-v2", "--out", gen, "--app-state", state, validator); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs, done := startInProcess(ctx, home)
	c := client.New(apiAddr)
	waitUntil(t, "the new network's API to answer", done, logs, func() bool {
		st, err := c.Status(ctx)
		return err == nil && st.ChainID == "solo-chain-v2"
	})
	imported, err := c.State(ctx, []byte("greeting"))
	if err != nil || imported.Value != hello {
		t.Fatalf("the old network's key on the new one: %+v, %v", imported, err)
	}
	url := "http://" + apiAddr
	if stdout, stderr, err := execute(t, "tx", "send", "farewell=bye", "--node", url, "--timeout", "20s"); err != nil || !strings.Contains(stdout, ": ok") {
		t.Fatalf("a transaction on the new network: %v\n%s%s", err, stdout, stderr)
	}
	// New transactions build on the imported state: the old key is still
	// there beside the new one, at a later height and another root; and so
	// after a restart, which must not import the state again.
	for round := 0; round < 2; round++ {
		for key, want := range map[string]string{"greeting": hello, "farewell": fmt.Sprintf("%x", "bye")} {
			v, err := c.State(ctx, []byte(key))
			if err != nil || v.Value != want || v.Height == 0 || v.Root == imported.Root {
				t.Fatalf("round %d: %s on the new network: %+v, %v; want %s above height 0", round, key, v, err, want)
			}
		}
		cancel()
		stopped(t, "node", done)
		if round == 0 {
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
			logs, done = startInProcess(ctx, home)
			waitUntil(t, "the restarted node's API to answer", done, logs, func() bool { _, err := c.Status(ctx); return err == nil })
		}
	}
}

// startInProcess runs 'floe start --home home' until ctx ends.
func startInProcess(ctx context.Context, home string) (*syncBuffer, chan error) {
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runNode(ctx, home, logs, node.Faults{}) }()
	return logs, done
}

// waitUntil polls cond for up to 20 s, failing with the node's logs if it
// exits or the time runs out.
func waitUntil(t *testing.T, what string, done <-chan error, logs *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; logs:\n%s", what, logs.String())
		}
		select {
		case err := <-done:
			t.Fatalf("exited while waiting for %s: %v\n%s", what, err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopped waits for a run whose context was cancelled to return cleanly.
func stopped(t *testing.T, what string, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: clean stop returned %v", what, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not stop", what)
	}
}

// syncBuffer collects the node's log, written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startSolo runs 'floe start' in process for a one-member committee on
// chain (home "solo" with its API at ports[1]; ports[3] is free for a
// second node) and waits for its API. cancel stops it; done reports its
// exit.
func startSolo(t *testing.T, chain string) (ports []string, home string, ctx context.Context, cancel context.CancelFunc, c *client.Client, done <-chan error) {
	t.Helper()
	ports, err := localnet.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	home = filepath.Join(t.TempDir(), "solo")
	v, err := initHome(home, "solo", ports[0], ports[1], ports[2], 1, false)
	if err != nil {
		t.Fatal(err)
	}
	g, err := buildGenesis(chain, []genesis.Validator{v}, genesis.DefaultParams(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Save(filepath.Join(home, config.Dir, config.GenesisFile)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	logs, d := startInProcess(ctx, home)
	c = client.New(ports[1])
	waitUntil(t, "the API to answer", d, logs, func() bool { _, err := c.Status(ctx); return err == nil })
	return ports, home, ctx, cancel, c, d
}
