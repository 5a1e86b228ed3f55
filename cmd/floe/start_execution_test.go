package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/localnet"
	"github.com/floe-bft/floe/role/execution"
)

// 'floe start' with role = "execution" assembles the execution role: with
// no [follower] upstreams it follows the consensus member's genesis api,
// serves its own GET /v1/execution/status through the common API host,
// offers receipts to the consensus node, and refuses transactions.
func TestStartExecutionRole(t *testing.T) {
	ports, err := localnet.FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cons, exec := filepath.Join(dir, "cons"), filepath.Join(dir, "exec")
	cv, err := initHome(cons, "cons", ports[0], ports[1], "", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	cv.API = "http://" + ports[1]
	ev, err := config.Init(exec, config.InitOptions{Name: "exec", P2P: ports[2], API: ports[3], LogLevel: "info", Weight: 1, Role: "execution"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := buildGenesis("exec-chain", []genesis.Validator{cv, ev}, genesis.DefaultParams(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, home := range []string{cons, exec} {
		if err := g.Save(filepath.Join(home, config.Dir, config.GenesisFile)); err != nil {
			t.Fatal(err)
		}
	}
	// 'floe init --role execution' writes a home that runs the role.
	b, err := os.ReadFile(filepath.Join(exec, config.Dir, config.File))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `role = "execution"`) {
		t.Fatalf("floe.toml does not run the execution role:\n%s", b)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, consDone := startInProcess(ctx, cons)
	execLogs, execDone := startInProcess(ctx, exec)
	ec := client.New(ports[3])
	waitUntil(t, "the execution node to follow and execute", execDone, execLogs, func() bool {
		st, err := ec.Status(ctx)
		return err == nil && st.ExecutedHeight >= 2
	})
	waitUntil(t, "receipts offered to the consensus node", execDone, execLogs, func() bool {
		v, ok, err := ec.Metric(ctx, "floe_execution_receipt_height")
		return err == nil && ok && v >= 1
	})
	resp, err := ec.HTTPClient().Get("http://" + ports[3] + "/v1/execution/status")
	if err != nil {
		t.Fatal(err)
	}
	var st execution.StatusResponse
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(st.Receipts) != 1 || st.Receipts[0].URL != "http://"+ports[1] || st.ExecutedHeight < 2 {
		t.Fatalf("execution status: %d %+v %v", resp.StatusCode, st, err)
	}
	if _, _, err := execute(t, "tx", "send", "k=v", "--node", "http://"+ports[3], "--timeout", "5s"); err == nil || !strings.Contains(err.Error(), "execution node") {
		t.Fatalf("the execution node took a transaction: %v", err)
	}
	cancel()
	stopped(t, "execution node", execDone)
	stopped(t, "consensus node", consDone)
}
