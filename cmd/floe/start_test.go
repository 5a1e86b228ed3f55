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
	ports, err := localnet.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "solo")
	v, err := initHome(home, "solo", ports[0], ports[1], ports[2], 1, false)
	if err != nil {
		t.Fatal(err)
	}
	g, err := buildGenesis("solo-chain", []genesis.Validator{v}, genesis.DefaultParams(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Save(filepath.Join(home, config.Dir, config.GenesisFile)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runNode(ctx, home, logs, node.Faults{}) }()

	c := client.New(ports[1])
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := c.Status(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("API never answered; logs:\n%s", logs.String())
		}
		select {
		case err := <-done:
			t.Fatalf("node exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
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
	deadline = time.Now().Add(20 * time.Second)
	for {
		if r, err := oc.Tx(ctx, id); err == nil && r.Status == "finalized" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the observer never executed the transaction; logs:\n%s", obsLogs.String())
		}
		select {
		case err := <-obsDone:
			t.Fatalf("observer exited: %v\n%s", err, obsLogs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, _, err := execute(t, "tx", "send", "k=v", "--node", "http://"+ports[3], "--timeout", "5s"); err == nil || !strings.Contains(err.Error(), "observer") {
		t.Fatalf("the observer took a transaction: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("clean stop returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("node did not stop")
	}
	select {
	case err := <-obsDone:
		if err != nil {
			t.Fatalf("observer: clean stop returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("observer did not stop")
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
