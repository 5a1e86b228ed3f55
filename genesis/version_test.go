package genesis_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
)

func testGenesis(t *testing.T) *genesis.Genesis {
	t.Helper()
	g := &genesis.Genesis{ProtocolVersion: model.ProtocolVersion, ChainID: "floe-test", GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		LeaderSeed: fmt.Sprintf("%064x", 42), Params: genesis.DefaultParams()}
	for i := range 4 {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(i+1))
		k, err := genesis.KeysFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		v, err := k.Validator(fmt.Sprintf("node%d", i), fmt.Sprintf("127.0.0.1:%d", 30000+i), 1)
		if err != nil {
			t.Fatal(err)
		}
		g.Validators = append(g.Validators, v)
	}
	return g
}

// TestGenesisOfAnotherVersionIsRefused: a genesis file written for another
// protocol version (or by a build before versions, which wrote none) is
// refused with ErrVersion and a message naming both versions, never read
// as if it were this version's.
func TestGenesisOfAnotherVersionIsRefused(t *testing.T) {
	dir := t.TempDir()
	good := testGenesis(t)
	path := filepath.Join(dir, "genesis.json")
	if err := good.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := genesis.Load(path); err != nil {
		t.Fatalf("this version's genesis: %v", err)
	}
	for _, v := range []int{0, 1, model.ProtocolVersion + 1} {
		g := testGenesis(t)
		g.ProtocolVersion = v
		if err := g.Save(path); err != nil {
			t.Fatal(err)
		}
		_, err := genesis.Load(path)
		if !errors.Is(err, genesis.ErrVersion) || !strings.Contains(err.Error(), fmt.Sprintf("version %d", v)) {
			t.Fatalf("genesis of protocol version %d: %v", v, err)
		}
	}
	// A file from before versions has no field at all.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(b), fmt.Sprintf(`"protocol_version": %d,`, model.ProtocolVersion+1), "", 1)
	if old == string(b) {
		t.Fatal("test did not remove the version field")
	}
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := genesis.Load(path); !errors.Is(err, genesis.ErrVersion) {
		t.Fatalf("genesis without a version: %v", err)
	}
}

// TestGenesisNamesItsChain: the genesis block carries the main chain's ID,
// and so do the epoch parameters every verifier is built from.
func TestGenesisNamesItsChain(t *testing.T) {
	g := testGenesis(t)
	root, _, err := g.Root(4)
	if err != nil {
		t.Fatal(err)
	}
	p, err := g.EpochParams()
	if err != nil {
		t.Fatal(err)
	}
	if root.ChainID != model.MainChain("floe-test") || p.ChainID != root.ChainID {
		t.Fatalf("genesis block chain %v, epoch params chain %v, want %v", root.ChainID, p.ChainID, model.MainChain("floe-test"))
	}
}
