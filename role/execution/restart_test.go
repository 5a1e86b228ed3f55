package execution

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	engine "github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// An execution node stopped after a crash that left state versions of a
// block it had not recorded resumes from its last recorded block: it
// rolls those versions back, re-executes the rest, and reaches exactly the
// results of a node that ran without interruption.
func TestRestartAfterACrashMidBlock(t *testing.T) {
	cols := testCollections(3)
	servers := []*guarantorServer{newGuarantorServer(t, serve, cols), newGuarantorServer(t, serve, cols), newGuarantorServer(t, serve, cols)}
	env := newFollowEnv(t, func(i int) string { return servers[i%len(servers)].URL })
	g := env.guarantee
	payloads := []*payload.Payload{
		{Guarantees: []*collection.Guarantee{g(cols[0])}},
		{}, {}, {},
		{Guarantees: []*collection.Guarantee{g(cols[1]), g(cols[2])}}, // height 5
		{}, {},
	}
	seg, err := env.tc.Extend(env.root, env.rootQC, len(payloads), func(i int) []byte { return payloads[i].Encode() })
	if err != nil {
		t.Fatal(err)
	}
	// First only heights 1..3 are final.
	env.up.set(testchain.Segment{Blocks: seg.Blocks[:4], TipQC: seg.Blocks[4].QC})
	cfg := func(dir string) Config {
		return Config{Genesis: env.n.g, DataDir: dir, StakingKey: env.keys[5].Staking, PollInterval: 20 * time.Millisecond,
			Receipts: ReceiptConfig{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}, Sync: SyncConfig{Disabled: true}}
	}
	dir := t.TempDir()
	a, err := New(cfg(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return a.ExecutionStatus().ExecutedHeight == 3 })
	a.Stop()

	// The crash: chunk versions of height 4 and 5 committed, their
	// results never recorded.
	st, err := state.Open(filepath.Join(dir, "state"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	garbage := []state.Write{{ID: state.RegisterID{Key: "c1-t0"}, Value: []byte("not what executing gives")}}
	if _, err := st.Commit(engine.ChunkVersion(5, 0), garbage); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	env.up.set(seg)
	a, err = New(cfg(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	c, err := New(cfg(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	waitFor(t, func() bool { return a.ExecutionStatus().ExecutedHeight == 6 && c.ExecutionStatus().ExecutedHeight == 6 })
	for h := uint64(1); h <= 6; h++ {
		ra, _, err := a.store.Result(h)
		if err != nil {
			t.Fatal(err)
		}
		rc, _, err := c.store.Result(h)
		if err != nil {
			t.Fatal(err)
		}
		if ra.ID() != rc.ID() {
			t.Fatalf("height %d: the restarted node's result %v, the uninterrupted node's %v", h, ra.ID(), rc.ID())
		}
	}
	v, err := a.State(context.Background(), []byte("c1-t0"))
	if err != nil || string(v.Value) != "v" {
		t.Fatalf("a register the crash left a wrong value in: %q, %v", v.Value, err)
	}
	if a.ExecutionStatus().EndState != model.Identifier(v.Root).Hex() {
		t.Fatal("state read and status disagree on the end state")
	}
}
