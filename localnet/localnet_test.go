package localnet

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/genesis"
)

// The testnet deletes only directories it created.
func TestPrepareDirSafety(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("x"), 0o644)
	if err := PrepareDir(dir); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("foreign directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious.txt")); err != nil {
		t.Fatal("foreign file deleted")
	}
	mine := filepath.Join(t.TempDir(), "tn")
	if err := PrepareDir(mine); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mine, "old.log"), []byte("x"), 0o644)
	if err := PrepareDir(mine); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mine, "old.log")); !os.IsNotExist(err) {
		t.Fatal("previous run's files kept")
	}
}

// fakeHomes records what Setup asks for and writes the validator entry
// and genesis as JSON.
type fakeHomes struct {
	homes []Home
}

func (f *fakeHomes) WriteValidator(h Home, keys *genesis.NodeKeys) (genesis.Validator, error) {
	f.homes = append(f.homes, h)
	v, err := keys.Validator(h.Name, h.P2PAddr, 1)
	if err != nil {
		return v, err
	}
	if err := os.MkdirAll(h.Dir, 0o700); err != nil {
		return v, err
	}
	b, _ := json.Marshal(v)
	return v, os.WriteFile(filepath.Join(h.Dir, "validator.json"), b, 0o644)
}

func (f *fakeHomes) WriteFollower(h Home) error {
	f.homes = append(f.homes, h)
	return os.MkdirAll(h.Dir, 0o700)
}

func (f *fakeHomes) WriteGenesis(home string, g *genesis.Genesis) error {
	return g.Save(filepath.Join(home, "genesis.json"))
}

func TestSetup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tn")
	homes := &fakeHomes{}
	iter := func(yield func(k, v []byte) error) error { return yield([]byte("greeting"), []byte("hello")) }
	state, err := kvstore.New(iter)
	if err != nil {
		t.Fatal(err)
	}
	exported, err := kvstore.NewStateFile("old", 3, state.Root(), iter)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Dir: dir, Nodes: 3, Followers: 2, LogLevel: "warn", EpochViews: 100, Homes: homes, AppState: exported}
	net, err := Setup(o)
	if err != nil {
		t.Fatal(err)
	}
	// Three validators in the genesis committee, a spare, two followers.
	if len(net.Nodes) != 6 || net.Followers != 2 || len(net.Validators) != 4 || len(net.Genesis.Validators) != 3 {
		t.Fatalf("%d nodes, %d followers, %d validators, genesis %d", len(net.Nodes), net.Followers, len(net.Validators), len(net.Genesis.Validators))
	}
	if len(net.Genesis.Governance) != 1 || net.Genesis.Params.EpochViews != 100 || net.Genesis.ChainID != ChainID {
		t.Fatalf("genesis %+v", net.Genesis)
	}
	seen := map[string]bool{}
	for i, tn := range net.Nodes {
		for _, a := range []string{tn.APIAddr, tn.P2PAddr, tn.DebugAddr} {
			if a == "" {
				continue
			}
			if seen[a] {
				t.Fatalf("address %s used twice", a)
			}
			seen[a] = true
		}
		if tn.LogLevel != "warn" || homes.homes[i] != tn.Home {
			t.Fatalf("home %+v, written %+v", tn.Home, homes.homes[i])
		}
		if _, err := genesis.Load(filepath.Join(tn.Dir, "genesis.json")); err != nil {
			t.Fatal(err)
		}
	}
	if f := net.Nodes[4]; f.Name != "follower0" || f.Upstream != "http://"+net.Nodes[0].APIAddr || f.P2PAddr != "" {
		t.Fatalf("follower0 %+v", f)
	}
	if f := net.Nodes[5]; f.Upstream != "http://"+net.Nodes[1].APIAddr {
		t.Fatalf("follower1 follows %s", f.Upstream)
	}
	// Every node starts from the initial state the genesis carries.
	if g, err := genesis.Load(filepath.Join(dir, "genesis.json")); err != nil {
		t.Fatal(err)
	} else if root, err := g.InitialRoot(); err != nil || root != state.Root() {
		t.Fatalf("the testnet genesis starts from root %x (%v), want the given state's %x", root, err, state.Root())
	}
	// Keys are deterministic across runs.
	again, err := Setup(Options{Dir: dir, Nodes: 3, LogLevel: "info", Homes: &fakeHomes{}})
	if err != nil {
		t.Fatal(err)
	}
	if again.Validators[1].StakingKey != net.Validators[1].StakingKey || again.Validators[1].StakingKey == net.Validators[2].StakingKey {
		t.Fatal("testnet keys differ between runs")
	}
	if _, err := Setup(Options{Dir: dir, Nodes: 3}); err == nil {
		t.Fatal("setup without a HomeWriter")
	}
}

func TestValidate(t *testing.T) {
	valid := func() Options {
		return Options{Dir: "d", Nodes: 4, TxSize: 250, Rate: 1000, Duration: 10 * time.Second}
	}
	if o := valid(); o.Validate() != nil {
		t.Fatal(o.Validate())
	}
	idle := genesis.DefaultParams()
	idle.IdleBlockIntervalMS = idle.BlockIntervalMS - 1
	for _, c := range []struct {
		mod func(*Options)
		msg string
	}{
		{func(o *Options) { o.Nodes = 0 }, "--nodes"},
		{func(o *Options) { o.Nodes = MaxNodes + 1 }, "--nodes"},
		{func(o *Options) { o.Dir = "" }, "--dir"},
		{func(o *Options) { o.Followers = -1 }, "--followers"},
		{func(o *Options) { o.Duration = -1 }, "--duration"},
		{func(o *Options) { o.Rate = maxRate + 1 }, "use 'max'"},
		{func(o *Options) { o.MaxPending = -1 }, "--max-pending"},
		{func(o *Options) { o.Params = &idle }, "--idle-block-interval-ms"},
		{func(o *Options) { o.Kill = &Kill{Node: 0, At: time.Second} }, "other than node0"},
		{func(o *Options) { o.Kill = &Kill{Node: 4, At: time.Second} }, "other than node0"},
		{func(o *Options) { o.Kill = &Kill{Node: 3, At: 10 * time.Second} }, "before the end"},
		{func(o *Options) { o.TxSize = 10 }, "too small"},
	} {
		o := valid()
		c.mod(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want %q", o, err, c.msg)
		}
	}
}

func TestTxShapeExactSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	value := bytes.Repeat([]byte("v"), kvstore.MaxValueSize)
	shape, _ := newTxShape(250, KeySpace)
	min := kvstore.Overhead + shape.keyLen + nonceCounterLen + 1
	for _, size := range []int{min, min + 1, 100, 250, 251, 1000, 4096, 65536, kvstore.MaxTxSize} {
		s, err := newTxShape(size, KeySpace)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		for n := uint64(1); n < 50; n++ {
			tx := s.build(rng, n, value)
			if len(tx) != size {
				t.Fatalf("size %d: built %d bytes", size, len(tx))
			}
			if _, err := kvstore.Decode(tx); err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
		}
	}
	if _, err := newTxShape(min-1, KeySpace); err == nil {
		t.Fatal("too small accepted")
	}
}

func TestLatencyHist(t *testing.T) {
	h := newLatencyHist()
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	near := func(got, want float64) bool { return got > want*0.97 && got < want*1.03 }
	if p := h.quantile(0.5); !near(p, 500) {
		t.Fatalf("p50 = %v", p)
	}
	if p := h.quantile(0.99); !near(p, 990) {
		t.Fatalf("p99 = %v", p)
	}
	if h.maxMS != 1000 || !near(h.mean(), 500.5) {
		t.Fatalf("max %v mean %v", h.maxMS, h.mean())
	}
	h.add(0)
	h.add(100 * time.Hour) // clamped into the last bucket, no panic
}

func TestStallsAndRateAfterKill(t *testing.T) {
	per := []int64{0, 0, 5, 0, 0, 0, 7, 8, 0}
	if got := longestStall(per, 2, len(per)); got != 3 {
		t.Fatalf("longest stall %d", got)
	}
	// Seconds past the series count as stalled; the first two do not count.
	if got := longestStall(per[:3], 2, 6); got != 3 {
		t.Fatalf("stall past the series %d", got)
	}
	if got := longestStall(per, 0, 2); got != 2 {
		t.Fatalf("stall at the start %d", got)
	}
	if got := rateAfter(per, 6, 9); got != 5 {
		t.Fatalf("rate after kill %v", got)
	}
	if got := rateAfter(per, 9, 9); got != 0 {
		t.Fatalf("empty range %v", got)
	}
}

func TestRotation(t *testing.T) {
	// A pool of 5: epoch 0 leaves out node4, then node3, node2, ...
	for e, want := range []int{4, 3, 2, 1, 0, 4} {
		if got := Rotation(5, e); got != want {
			t.Errorf("epoch %d leaves out node%d, want node%d", e, got, want)
		}
	}
}
