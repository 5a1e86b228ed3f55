package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/storage"
)

func testGenesis(t *testing.T, chainID string, members int) *genesis.Genesis {
	t.Helper()
	g := &genesis.Genesis{ProtocolVersion: model.ProtocolVersion, ChainID: chainID, GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		LeaderSeed: fmt.Sprintf("%064x", 3), Params: genesis.DefaultParams()}
	for i := 0; i < members; i++ {
		seed := make([]byte, 32)
		seed[31] = byte(i + 1)
		k, err := genesis.KeysFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		v, err := k.Validator(fmt.Sprintf("v%d", i), fmt.Sprintf("127.0.0.1:%d", 1000+i), 1)
		if err != nil {
			t.Fatal(err)
		}
		g.Validators = append(g.Validators, v)
	}
	return g
}

// An empty store is initialized from genesis: nothing finalized or
// executed, the genesis block at height 0, the genesis committee in the
// directory; reopening finds the same.
func TestOpenInitializesFromGenesis(t *testing.T) {
	g := testGenesis(t, "ledger-a", 3)
	st := storage.NewMemory()
	for round := 0; round < 2; round++ {
		l, cs, err := ledger.Open(ledger.Config{Genesis: g, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		root, err := l.BlockByHeight(0)
		if err != nil || root.ID() != cs.Root.ID() || !root.IsRoot() {
			t.Fatalf("round %d: height 0 is %v (%v), consensus root %v", round, root, err, cs.Root.ID())
		}
		if l.FinalizedHeight() != 0 || l.ExecutedHeight() != 0 {
			t.Fatalf("round %d: finalized %d executed %d", round, l.FinalizedHeight(), l.ExecutedHeight())
		}
		d := l.Directory()
		com, err := d.CommitteeAt(1)
		peers := d.Peers()
		if err != nil || com.Size() != 3 || len(peers) != 3 || d.NameOf(peers[0].ID()) != "v0" || !d.IsKnownMember(peers[2].ID()) {
			t.Fatalf("round %d: directory %v %v", round, com, err)
		}
		if _, err := l.BlockByHeight(1); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("round %d: height 1 before anything finalized: %v", round, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Members of other roles are named in the directory but are neither
// committee members, main-chain peers nor known members: the main chain
// takes no message from a collector.
func TestDirectoryIsConsensusOnly(t *testing.T) {
	g := testGenesis(t, "ledger-roles", 3)
	extra := testGenesis(t, "ledger-roles", 5).Validators[3:]
	extra[0].Role, extra[1].Role = "collection", "execution"
	extra[0].Weight = 1 << 40
	g.Validators = append(g.Validators, extra...)
	l, _, err := ledger.Open(ledger.Config{Genesis: g, Store: storage.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d := l.Directory()
	com, err := d.CommitteeAt(1)
	if err != nil || com.Size() != 3 || com.TotalWeight() != 3 || len(d.Peers()) != 3 {
		t.Fatalf("committee %v (%v), %d peers; want the 3 consensus members", com, err, len(d.Peers()))
	}
	ids, _, err := g.Identities()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ids[3:] {
		if d.IsKnownMember(m.ID()) || d.NameOf(m.ID()) != m.Name {
			t.Fatalf("%s (%v): known member %v, name %q", m.Name, m.Role, d.IsKnownMember(m.ID()), d.NameOf(m.ID()))
		}
	}
}

// A store initialized for one chain refuses to serve another, and nothing
// about the first chain changes.
func TestOpenRefusesAnotherChainsStore(t *testing.T) {
	st := storage.NewMemory()
	l, _, err := ledger.Open(ledger.Config{Genesis: testGenesis(t, "ledger-a", 3), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := l.BlockByHeight(0)
	_, _, err = ledger.Open(ledger.Config{Genesis: testGenesis(t, "ledger-b", 3), Store: st})
	if err == nil || !strings.Contains(err.Error(), "another chain") {
		t.Fatalf("opening chain b on chain a's store: %v", err)
	}
	again, _, err := ledger.Open(ledger.Config{Genesis: testGenesis(t, "ledger-a", 3), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := again.BlockByHeight(0); got.ID() != want.ID() {
		t.Fatal("the refused open changed the store")
	}
}

// Bad requests to the reads get typed errors; none panics.
func TestReadsRefuseBadRequests(t *testing.T) {
	if _, _, err := ledger.Open(ledger.Config{}); err == nil {
		t.Fatal("opened without a genesis")
	}
	if _, _, err := ledger.Open(ledger.Config{Genesis: testGenesis(t, "ledger-a", 1)}); err == nil {
		t.Fatal("opened with neither a store nor a data directory")
	}
	l, _, err := ledger.Open(ledger.Config{Genesis: testGenesis(t, "ledger-a", 1), Store: storage.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		from  uint64
		count int
	}{{0, 10}, {1, 0}, {1, -5}} {
		if _, err := l.SyncRange(context.Background(), c.from, c.count); !errors.Is(err, ledger.ErrBadSyncRequest) {
			t.Errorf("SyncRange(%d, %d): %v", c.from, c.count, err)
		}
	}
	if chain, err := l.FinalizedChain(context.Background(), 5, 10); err != nil || len(chain) != 0 {
		t.Fatalf("chain above the finalized height: %v %v", chain, err)
	}
	if chain, err := l.FinalizedChain(context.Background(), 0, -1); err != nil || len(chain) != 0 {
		t.Fatalf("negative page: %v %v", chain, err)
	}
	if _, err := l.TxResult(model.Identifier{1}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown transaction: %v", err)
	}
	v, err := l.State([]byte("absent"))
	if err != nil || v.Value != nil || len(v.Proof) == 0 {
		t.Fatalf("absent key: %+v %v", v, err)
	}
	// The executor stops cleanly with nothing to do.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	l.Wake()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
