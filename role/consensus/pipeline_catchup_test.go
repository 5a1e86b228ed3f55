package consensus_test

import (
	"context"
	"testing"
	"time"

	"github.com/floe-bft/floe/role/execution"
)

// A consensus node of a pipeline network that was down while blocks
// carrying receipts were finalized catches up by block sync: a synced
// block's receipt may name a height the node has not finalized yet (it
// finalizes it a few blocks later in the same catch-up), and that is
// checked against the block's own ancestry, not refused. Found by the
// container runner (e2e/manifests/repro-pipeline-restart.toml): the
// restarted node stopped with "receipt for a height not finalized yet
// here".
func TestPipelineNodeCatchesUpOverReceipts(t *testing.T) {
	pn := newPipeNet(t, 4, 4, 1)
	pn.startAll()
	defer pn.stopAll()
	var urls []string
	for _, nd := range pn.nodes[:3] {
		urls = append(urls, serveAPI(t, nd).URL)
	}
	ex, err := execution.New(execution.Config{Genesis: pn.gen, DataDir: t.TempDir(), StakingKey: pn.executors[0].Staking,
		Upstreams: urls, ReceiptTargets: urls, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ex.Stop()
	pn.waitBlocks(t, 3)
	pn.stop(3)
	down := pn.finalized(0)
	waitFor(t, "receipts carried while node 3 is down", time.Minute, func() bool {
		return metric(t, pn.regs[0], "floe_receipts_included_total") >= 4 && pn.finalized(0) >= down+20
	})
	pn.start(3)
	target := pn.finalized(0)
	waitFor(t, "node 3 caught up", time.Minute, func() bool {
		select {
		case <-pn.nodes[3].Done():
			t.Fatalf("node 3 stopped while catching up: %v", pn.nodes[3].Err())
		default:
		}
		return pn.finalized(3) >= target
	})
	b0, _ := pn.blockAt(t, 0, target)
	b3, _ := pn.blockAt(t, 3, target)
	if b0.ID() != b3.ID() {
		t.Fatalf("node 3 finalized %v at height %d, node 0 %v", b3.ID(), target, b0.ID())
	}
}
