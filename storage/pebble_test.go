package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floe-bft/floe/consensus/model"
)

func TestMain(m *testing.M) {
	if os.Getenv("FLOE_STORAGE_CHILD") == "1" {
		crashChild(os.Getenv("FLOE_STORAGE_DIR"))
		os.Exit(3) // crashChild kills itself; getting here is a failure
	}
	os.Exit(m.Run())
}

const crashCommits = 40

// crashChild commits a chain, one synced Commit per block (each finalizing
// the block two below it), prints how many, and dies by SIGKILL right after Commit returns: no Close, no
// deferred flush, nothing but what Commit already made durable.
func crashChild(dir string) {
	p, err := OpenPebble(dir)
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	g := genesis()
	if err := p.Init(g); err != nil {
		fmt.Println("init:", err)
		return
	}
	chain := []*model.Block{g.Root}
	for v := model.View(1); v <= crashCommits; v++ {
		b := child(chain[v-1], v, 4096)
		chain = append(chain, b)
		c := Commit{Safety: safetyAt(v+1, b), Liveness: livenessAt(v+1, b), Blocks: []*model.Block{b}}
		if v >= 3 {
			c.Finalized = chain[v-2 : v-1]
		}
		if err := p.Commit(c); err != nil {
			fmt.Println("commit:", err)
			return
		}
	}
	fmt.Printf("committed %d\n", crashCommits)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // wait for the signal
}

// A Commit that returned survives the process being killed.
func TestPebbleCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FLOE_STORAGE_CHILD=1", "FLOE_STORAGE_DIR="+dir)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, output %q; want death by SIGKILL", err, out)
	}
	line, _ := bufio.NewReader(strings.NewReader(string(out))).ReadString('\n')
	if line != fmt.Sprintf("committed %d\n", crashCommits) {
		t.Fatalf("child output %q", out)
	}

	p := mustOpen(t, dir)
	defer p.Close()
	st, ok, err := p.LoadState()
	if err != nil || !ok {
		t.Fatalf("LoadState after crash: ok=%v err=%v", ok, err)
	}
	// Rebuild what the child committed last, deterministically.
	g := genesis()
	chain := []*model.Block{g.Root}
	for v := model.View(1); v <= crashCommits; v++ {
		chain = append(chain, child(chain[len(chain)-1], v, 4096))
	}
	last := chain[crashCommits]
	want := g
	want.Root = chain[crashCommits-2]
	want.Blocks = chain[crashCommits-1:]
	want.Safety, want.Liveness = *safetyAt(crashCommits+1, last), *livenessAt(crashCommits+1, last)
	if err := diffState(st, want); err != nil {
		t.Fatal(err)
	}
	for hgt := uint64(0); hgt <= crashCommits-2; hgt++ {
		if b, err := p.FinalizedByHeight(hgt); err != nil || !sameBlock(b, chain[hgt]) {
			t.Fatalf("FinalizedByHeight(%d) after crash: %v", hgt, err)
		}
	}
}

func TestPebbleCorruptRecords(t *testing.T) {
	g := genesis()
	bs := chainOf(g.Root, 1, 2, 3)
	garbage := []byte{0xde, 0xad, 0xbe, 0xef}
	otherBlock := child(g.Root, 9, 3).Encode() // valid encoding, wrong key
	tx := model.Identifier{0x77}

	type call struct {
		name string
		fn   func(p *Pebble) error
	}
	loadState := call{"LoadState", func(p *Pebble) error { _, _, err := p.LoadState(); return err }}
	block := func(b *model.Block) call {
		return call{fmt.Sprintf("Block(view %d)", b.View), func(p *Pebble) error { _, err := p.Block(b.ID()); return err }}
	}
	byHeight := func(h uint64) call {
		return call{fmt.Sprintf("FinalizedByHeight(%d)", h), func(p *Pebble) error { _, err := p.FinalizedByHeight(h); return err }}
	}
	rangeCall := call{"FinalizedRange", func(p *Pebble) error { _, err := p.FinalizedRange(0, 10, 10); return err }}
	cases := []struct {
		name  string
		key   []byte
		value []byte // nil: delete the key
		calls []call
	}{
		{"pending block garbage", blockKey(bs[2].ID()), garbage, []call{loadState, block(bs[2])}},
		{"pending block truncated", blockKey(bs[2].ID()), bs[2].Encode()[:100], []call{loadState, block(bs[2])}},
		{"pending block under wrong key", blockKey(bs[2].ID()), otherBlock, []call{loadState, block(bs[2])}},
		{"pending block missing", blockKey(bs[2].ID()), nil, []call{loadState}},
		{"finalized block garbage", blockKey(bs[0].ID()), garbage, []call{byHeight(1), rangeCall, block(bs[0])}},
		{"root block garbage", blockKey(bs[1].ID()), garbage, []call{loadState, byHeight(2)}},
		{"root record garbage", []byte{keyRoot}, garbage, []call{loadState, rangeCall,
			{"FinalizedHeight", func(p *Pebble) error { _, err := p.FinalizedHeight(); return err }},
			{"Commit", func(p *Pebble) error { return p.Commit(Commit{Safety: safetyAt(9, bs[2])}) }}}},
		{"height index garbage", heightKey(1), garbage, []call{byHeight(1), rangeCall}},
		{"height index hole", heightKey(1), nil, []call{rangeCall}},
		{"height index points elsewhere", heightKey(1), idBytes(bs[1].ID()), []call{byHeight(1), rangeCall}},
		{"pending index bad key", append(pendingKey(7, tx), 0), []byte{}, []call{loadState}},
		{"pending index at wrong view", pendingKey(9, bs[2].ID()), []byte{}, []call{loadState}},
		{"safety garbage", []byte{keySafety}, garbage, []call{loadState}},
		{"safety missing", []byte{keySafety}, nil, []call{loadState}},
		{"liveness garbage", []byte{keyLiveness}, garbage, []call{loadState}},
		{"tx result garbage", txKey(tx), garbage, []call{{"TxResult", func(p *Pebble) error { _, err := p.TxResult(tx); return err }}}},
		{"state root short", stateRootKey(1), garbage, []call{{"StateRoot", func(p *Pebble) error { _, err := p.StateRoot(1); return err }}}},
		{"executed height short", []byte{keyExecuted}, garbage, []call{
			{"ExecutedHeight", func(p *Pebble) error { _, err := p.ExecutedHeight(); return err }},
			{"SaveExecution", func(p *Pebble) error { return p.SaveExecution(5, [32]byte{}, nil, nil) }}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each case has a store of its own and mostly waits on fsync;
			// running them side by side overlaps those waits.
			t.Parallel()
			dir := t.TempDir()
			p := mustOpen(t, dir)
			if err := p.Init(g); err != nil {
				t.Fatal(err)
			}
			// Heights 0..2 final (root view 2), view 3 pending.
			if err := p.Commit(Commit{Blocks: bs, Finalized: bs[:2]}); err != nil {
				t.Fatal(err)
			}
			var err error
			db, opt := p.db, pebble.Sync
			switch c.key[0] {
			case prefixTxResult, prefixStateRoot, keyExecuted, prefixApp:
				db, opt = p.app, pebble.NoSync // no WAL to sync
			}
			if c.value == nil {
				err = db.Delete(c.key, opt)
			} else {
				err = db.Set(c.key, c.value, opt)
			}
			if err != nil {
				t.Fatal(err)
			}
			// Also through a restart: nothing is cached that would hide it.
			for round := 0; round < 2; round++ {
				for _, cl := range c.calls {
					if err := cl.fn(p); !errors.Is(err, ErrCorrupt) {
						t.Errorf("%s: %v, want ErrCorrupt", cl.name, err)
					}
				}
				_ = p.Close()
				p = mustOpen(t, dir)
			}
			_ = p.Close()
		})
	}
}

func TestPebbleLayoutVersion(t *testing.T) {
	dir := t.TempDir()
	p := mustOpen(t, dir)
	if err := p.db.Set([]byte{keyVersion}, binary.BigEndian.AppendUint64(nil, layoutVersion+1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	p, err := OpenPebble(dir)
	if err == nil {
		_ = p.Close()
		t.Fatal("opened a store of another layout version")
	}
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("store of another layout version: %v, want ErrVersion", err)
	}
	// A read-only open (floe export) refuses it the same way.
	if p, err = OpenPebble(dir, ReadOnly()); !errors.Is(err, ErrVersion) {
		if err == nil {
			_ = p.Close()
		}
		t.Fatalf("read-only open of another layout version: %v, want ErrVersion", err)
	}
}

func TestPebbleClosed(t *testing.T) {
	p := mustOpen(t, t.TempDir())
	if err := p.Init(genesis()); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Close":  p.Close,
		"Commit": func() error { return p.Commit(Commit{Safety: safetyAt(2, genesis().Root)}) },
		"Load":   func() error { _, _, err := p.LoadState(); return err },
		"Get":    func() error { _, err := p.Get([]byte("k")); return err },
		"Save":   func() error { return p.SaveExecution(1, [32]byte{}, nil, nil) },
		"Range":  func() error { _, err := p.FinalizedRange(0, 1, 1); return err },
		"Iterate": func() error {
			return p.Iterate(func(k, v []byte) error { return nil })
		},
	}
	for name, fn := range calls {
		if err := fn(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// A second process (or a second open in this one) cannot open a directory in
// use: two writers would interleave batches.
func TestPebbleDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	p := mustOpen(t, dir)
	defer p.Close()
	if q, err := OpenPebble(dir); err == nil {
		_ = q.Close()
		t.Fatal("opened a directory already open")
	}
}
