package bench

import (
	"context"
	"encoding/json"
	"io"
	"testing"
)

func TestRunFollowerReport(t *testing.T) {
	rep, err := RunFollower(context.Background(), FollowerOptions{Blocks: 60, Members: 4, Workers: 2, RangeBlocks: 16, PayloadBytes: 100}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"blocks", "chained_blocks_per_s", "per_block_blocks_per_s", "speedup", "setup_s"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing %q", k)
		}
	}
	if rep.Blocks != 60 || rep.FinalizedHeight != 59 {
		t.Fatalf("report %+v", rep)
	}
	// One QC check per range (60 blocks in ranges of 16) vs one per block.
	if rep.ChainedQCChecks != 4 || rep.PerBlockQCChecks != 60 {
		t.Fatalf("QC checks: chained %v, per-block %v", rep.ChainedQCChecks, rep.PerBlockQCChecks)
	}
}

func TestRunFollowerRejectsBadOptions(t *testing.T) {
	ok := FollowerOptions{Blocks: 60, Members: 4, Workers: 2, RangeBlocks: 16}
	for _, bad := range []func(*FollowerOptions){
		func(o *FollowerOptions) { o.Blocks = 1 },
		func(o *FollowerOptions) { o.Members = 0 },
		func(o *FollowerOptions) { o.RangeBlocks = 0 },
		func(o *FollowerOptions) { o.RangeBlocks = 513 },
		func(o *FollowerOptions) { o.Workers = 0 },
		func(o *FollowerOptions) { o.PayloadBytes = -1 },
	} {
		o := ok
		bad(&o)
		if _, err := RunFollower(context.Background(), o, io.Discard); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
