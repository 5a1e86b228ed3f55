package governance

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
)

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gov.key")
	os.WriteFile(path, nil, 0o644) // an existing, looser file is tightened
	if err := SaveKey(path, key); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	got, err := LoadKey(path)
	if err != nil || !got.Equal(key) || PublicKeyHex(got) != PublicKeyHex(key) || len(PublicKeyHex(key)) != 2*ed25519.PublicKeySize {
		t.Fatalf("loaded %v, %v", got, err)
	}
	os.WriteFile(path, []byte("not hex\n"), 0o600)
	if _, err := LoadKey(path); err == nil || !strings.Contains(err.Error(), "not a governance key file") {
		t.Fatalf("malformed key file: %v", err)
	}
}

// testChain writes a genesis with epochs whose only governance key is
// returned with its file.
func testChain(t *testing.T) (dir, genesisPath, keyPath string, g *genesis.Genesis) {
	t.Helper()
	dir = t.TempDir()
	var vals []genesis.Validator
	for i := range 4 {
		k, err := genesis.KeysFromSeed([]byte(fmt.Sprintf("%032d", i)))
		if err != nil {
			t.Fatal(err)
		}
		v, err := k.Validator(fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.1:%d", 30000+i), 1)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, v)
	}
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keyPath = filepath.Join(dir, "gov.key")
	if err := SaveKey(keyPath, key); err != nil {
		t.Fatal(err)
	}
	g, err = genesis.Build("gov-test", vals, genesis.DefaultParams(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := (genesis.EpochRules{Views: 100, Governance: []string{PublicKeyHex(key)}}).Apply(g); err != nil {
		t.Fatal(err)
	}
	genesisPath = filepath.Join(dir, "genesis.json")
	if err := g.Save(genesisPath); err != nil {
		t.Fatal(err)
	}
	return dir, genesisPath, keyPath, g
}

func TestOpenChecksTheKey(t *testing.T) {
	dir, gpath, keyPath, _ := testChain(t)
	s, err := Open(keyPath, gpath, "http://127.0.0.1:1", nil)
	if err != nil || s.Params.EpochViews != 100 {
		t.Fatalf("open: %+v %v", s, err)
	}
	other, _ := NewKey()
	otherPath := filepath.Join(dir, "other.key")
	if err := SaveKey(otherPath, other); err != nil {
		t.Fatal(err)
	}
	var ue *UnauthorisedError
	if _, err := Open(otherPath, gpath, "", nil); !errors.As(err, &ue) || ue.Key != PublicKeyHex(other) ||
		!strings.Contains(err.Error(), "unauthorised key") {
		t.Fatalf("other key: %v", err)
	}
	if _, err := Open("", gpath, "", nil); err == nil || !strings.Contains(err.Error(), "--key and --genesis are required") {
		t.Fatalf("no key: %v", err)
	}
}

func TestReadSetupFile(t *testing.T) {
	dir, gpath, keyPath, g := testChain(t)
	s, err := Open(keyPath, gpath, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := g.Identities()
	if err != nil {
		t.Fatal(err)
	}
	spec := epoch.Spec{Counter: 1, FirstView: 101, FinalView: 200, Identities: ids[:3]}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := ReadSetupFile(write("setup.bin", epoch.NewSetup(s.Params.Chain, spec, s.Key).Encode()), s.Params)
	if err != nil || got.Counter != 1 || len(got.Identities) != 3 {
		t.Fatalf("setup: %+v %v", got, err)
	}
	if _, err := ReadSetupFile(write("commit.bin", epoch.NewCommit(s.Params.Chain, &spec, s.Key).Encode()), s.Params); err == nil ||
		!strings.Contains(err.Error(), "not an EpochSetup") {
		t.Fatalf("a commit read as a setup: %v", err)
	}
	other, _ := NewKey()
	if _, err := ReadSetupFile(write("forged.bin", epoch.NewSetup(s.Params.Chain, spec, other).Encode()), s.Params); err == nil {
		t.Fatal("a setup signed by another key was accepted")
	}
}
