package consensus_test

import (
	"context"
	"testing"
	"time"

	"github.com/floe-bft/floe/ledger"
)

// FinalizedChain serves consecutive finalized blocks with the state root
// after each, bounded per call, and nothing above the finalized height.
func TestFinalizedChain(t *testing.T) {
	tn := newTestnet(t, 4)
	tn.startAll()
	waitFor(t, "blocks to execute", 20*time.Second, func() bool { return tn.executed(0) >= 5 })
	n := tn.nodes[0]
	st := n.Status()
	chain, err := n.FinalizedChain(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) == 0 || len(chain) > ledger.MaxChainBlocks {
		t.Fatalf("%d blocks from height 0", len(chain))
	}
	for i, cb := range chain {
		if cb.Block.Height != uint64(i) {
			t.Fatalf("entry %d has height %d", i, cb.Block.Height)
		}
		b, err := n.BlockByHeight(cb.Block.Height)
		if err != nil || b.ID() != cb.Block.ID() {
			t.Fatalf("height %d: %v, %v", i, b, err)
		}
		if i == 0 && cb.Executed {
			t.Error("genesis reported as executed")
		}
		if cb.Block.Height == st.ExecutedHeight && (!cb.Executed || cb.StateRoot != st.StateRoot) {
			t.Errorf("height %d: root %x executed %v, status root %x", i, cb.StateRoot, cb.Executed, st.StateRoot)
		}
	}
	if got, err := n.FinalizedChain(context.Background(), 1, 2); err != nil || len(got) != 2 || got[0].Block.Height != 1 {
		t.Fatalf("from 1, at most 2: %d blocks, %v", len(got), err)
	}
	if got, err := n.FinalizedChain(context.Background(), n.Status().FinalizedHeight+1000, 10); err != nil || len(got) != 0 {
		t.Fatalf("above the finalized height: %d blocks, %v", len(got), err)
	}
}
