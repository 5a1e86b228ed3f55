package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/config"
	node "github.com/floe-bft/floe/role/consensus"
)

// 'floe start' runs the access role when floe.toml says so: it follows the
// chain like an observer and names itself "access"; a network without
// clusters has nowhere to route a transaction, which it refuses (503,
// nothing tracked) instead of the observer's blanket refusal.
func TestStartAccessRole(t *testing.T) {
	ports, home, ctx, cancel, _, done := startSolo(t, "access-chain")
	defer cancel()
	g, err := loadGenesis(home)
	if err != nil {
		t.Fatal(err)
	}

	acc := filepath.Join(t.TempDir(), "access")
	if err := os.MkdirAll(filepath.Join(acc, config.Dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := g.Save(filepath.Join(acc, config.Dir, config.GenesisFile)); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("role = %q\n[api]\nlisten = %q\n[follower]\nupstreams = [%q]\n[node]\nstatus_interval = \"100ms\"\n",
		config.RoleAccess, ports[3], "http://"+ports[1])
	if err := os.WriteFile(filepath.Join(acc, config.Dir, config.File), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	accDone := make(chan error, 1)
	accLogs := &syncBuffer{}
	go func() { accDone <- runNode(ctx, acc, accLogs, node.Faults{}) }()
	ac := client.New(ports[3])
	waitUntil(t, "the access node to follow the chain", accDone, accLogs, func() bool {
		st, err := ac.Status(ctx)
		return err == nil && st.Name == "access" && st.FinalizedHeight >= 2
	})
	_, _, err = execute(t, "tx", "send", "k=v", "--access", "--node", "http://"+ports[3], "--timeout", "5s")
	if err == nil || !strings.Contains(err.Error(), "no collector") {
		t.Fatalf("a network without clusters routed a transaction: %v", err)
	}
	cancel()
	stopped(t, "node", done)
	stopped(t, "access node", accDone)
}
