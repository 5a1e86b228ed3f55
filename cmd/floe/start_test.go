package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/localnet"
	"github.com/floe-bft/floe/node"
)

// TestStartSingleNode runs 'floe start' in-process for a one-member
// committee and drives it through the client commands.
func TestStartSingleNode(t *testing.T) {
	ports, err := localnet.FreePorts(3)
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
	if err := g.Save(filepath.Join(home, configDir, genesisFile)); err != nil {
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

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("clean stop returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("node did not stop")
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
