package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/localnet"
	node "github.com/floe-bft/floe/role/consensus"
)

// runAs makes home's floe.toml run role.
func runAs(t *testing.T, home, role string) {
	t.Helper()
	path := filepath.Join(home, config.Dir, "floe.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `role = "consensus"`, `role = "`+role+`"`, 1)
	if !strings.Contains(s, `role = "`+role+`"`) {
		t.Fatalf("floe.toml names no role to replace:\n%s", b)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// 'floe start' with role = "collection": without any main-chain upstream
// it refuses to start with a reason; with the consensus member's api in
// the genesis file it follows the chain, runs its cluster and collects a
// transaction submitted over HTTP.
func TestStartCollection(t *testing.T) {
	ports, err := localnet.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	consHome, colHome := filepath.Join(dir, "cons"), filepath.Join(dir, "col")
	cv, err := config.Init(consHome, config.InitOptions{Name: "cons", P2P: ports[0], API: ports[1], Weight: 1})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := config.Init(colHome, config.InitOptions{Name: "col", P2P: ports[2], API: ports[3], Weight: 1, Role: "collection"})
	if err != nil {
		t.Fatal(err)
	}
	runAs(t, colHome, "collection")
	save := func(g *genesis.Genesis) {
		for _, h := range []string{consHome, colHome} {
			if err := g.Save(filepath.Join(h, config.Dir, config.GenesisFile)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cv.API, kv.API = "", ""
	g, err := buildGenesis("col-chain", []genesis.Validator{cv, kv}, genesis.DefaultParams(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	save(g)
	err = runNode(context.Background(), colHome, &syncBuffer{}, node.Faults{})
	if err == nil || !strings.Contains(err.Error(), "no main-chain upstream") {
		t.Fatalf("a collector with no upstream: %v", err)
	}

	cv.API = "http://" + ports[1]
	if g, err = buildGenesis("col-chain", []genesis.Validator{cv, kv}, genesis.DefaultParams(), "", ""); err != nil {
		t.Fatal(err)
	}
	save(g)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, consDone := startInProcess(ctx, consHome)
	logs, colDone := startInProcess(ctx, colHome)
	c := client.New(ports[3])
	var ref model.Identifier
	waitUntil(t, "the collector to follow the main chain", colDone, logs, func() bool {
		st, err := c.Status(ctx)
		if err != nil || st.Name != "collection" || st.FinalizedHeight < 2 || !strings.Contains(logs.String(), "cluster started") {
			return false
		}
		ref, err = model.ParseIdentifier(st.FinalizedID)
		return err == nil
	})
	tx := collection.Tx{Ref: ref, Body: []byte("through floe start")}
	waitUntil(t, "the transaction accepted", colDone, logs, func() bool {
		resp, err := c.SubmitCollector(ctx, [][]byte{tx.Encode()})
		return err == nil && resp.Accepted == 1
	})
	waitUntil(t, "the transaction collected", colDone, logs, func() bool {
		st, err := c.CollectorTx(ctx, tx.ID())
		return err == nil && st.Status == "collected"
	})
	cancel()
	stopped(t, "collector", colDone)
	stopped(t, "consensus node", consDone)
}
