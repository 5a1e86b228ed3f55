package genesis_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floe-bft/floe/genesis"
)

func TestBuildChecksAndFillsIn(t *testing.T) {
	vals := testGenesis(t).Validators
	g, err := genesis.Build("c", vals, genesis.DefaultParams(), "", "2024-01-02T03:04:05Z")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.LeaderSeed) != 64 || g.GenesisTime.Year() != 2024 || len(g.Validators) != 4 {
		t.Fatalf("genesis %+v", g)
	}
	for name, c := range map[string]struct {
		vals       []genesis.Validator
		seed, when string
		want       string
	}{
		"no validators": {nil, "", "", "no validators"},
		"same name":     {[]genesis.Validator{vals[0], vals[0]}, "", "", "appears twice"},
		"bad time":      {vals, "", "yesterday", "--genesis-time"},
		"bad seed":      {vals, "00", "", "invalid genesis"},
	} {
		if _, err := genesis.Build("c", c.vals, genesis.DefaultParams(), c.seed, c.when); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want mention of %q", name, err, c.want)
		}
	}
}

// ReadValidator takes a bare entry or 'floe keys' output, nothing else.
func TestReadValidator(t *testing.T) {
	v := testGenesis(t).Validators[0]
	dir := t.TempDir()
	write := func(name string, x any) string {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, p := range []string{write("bare.json", v), write("keys.json", map[string]any{"node_id": "x", "validator": v})} {
		if got, err := genesis.ReadValidator(p); err != nil || got != v {
			t.Fatalf("%s: %+v %v", p, got, err)
		}
	}
	if _, err := genesis.ReadValidator(write("other.json", map[string]any{"name": "a", "colour": "red"})); err == nil {
		t.Fatal("unknown field accepted")
	}
}

func TestEpochRules(t *testing.T) {
	key := strings.Repeat("ab", 32)
	for _, c := range []struct {
		rules genesis.EpochRules
		want  string // "" : accepted
	}{
		{genesis.EpochRules{}, ""},
		{genesis.EpochRules{Views: 100, Governance: []string{key}}, ""},
		{genesis.EpochRules{Profile: "production", Governance: []string{key}}, ""},
		{genesis.EpochRules{Profile: "production", Views: 100, Governance: []string{key}}, "drop --epoch-views"},
		{genesis.EpochRules{Profile: "test", Governance: []string{key}}, "needs --epoch-views"},
		{genesis.EpochRules{Profile: "fast"}, "--epoch-profile must be"},
		{genesis.EpochRules{Views: 100}, "at least one --governance-key"},
		{genesis.EpochRules{Governance: []string{key}}, "needs epochs"},
		{genesis.EpochRules{Views: 100, Governance: []string{"00"}}, "bytes of hex"},
		{genesis.EpochRules{Views: 100, Governance: []string{key, strings.ToUpper(key)}}, "appears twice"},
	} {
		g := testGenesis(t)
		err := c.rules.Apply(g)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: err %v, want %q", c.rules, err, c.want)
		}
	}
}
