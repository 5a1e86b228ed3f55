package genesis_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
)

// withRoles adds members of the given roles to g (keys from seeds 100+).
func withRoles(t *testing.T, g *genesis.Genesis, roles ...string) *genesis.Genesis {
	t.Helper()
	for i, r := range roles {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(100+i))
		k, err := genesis.KeysFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		v, err := k.Validator(fmt.Sprintf("%s%d", r, i), fmt.Sprintf("127.0.0.1:%d", 31000+i), 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		v.Role = r
		g.Validators = append(g.Validators, v)
	}
	return g
}

// TestGenesisWithoutRolesIsAllConsensus: a genesis file written before
// roles (no "role", no "clusters") loads, and every validator is a
// consensus member of the committee, with no clusters.
func TestGenesisWithoutRolesIsAllConsensus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := testGenesis(t).Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"role"`) || strings.Contains(string(b), `"clusters"`) {
		t.Fatalf("the test file mentions roles or clusters:\n%s", b)
	}
	g, err := genesis.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	com, members, err := g.Committee()
	if err != nil || com.Size() != 4 || len(members) != 4 {
		t.Fatalf("committee %v of %d members: %v", com, len(members), err)
	}
	ids, _, err := g.Identities()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ids {
		if m.Role != epoch.RoleConsensus {
			t.Fatalf("%s has role %v, want consensus", m.Name, m.Role)
		}
	}
	st, err := g.EpochState()
	if err != nil {
		t.Fatal(err)
	}
	if e := st.Schedule().Last(); len(e.Clusters) != 0 || e.Committee().Size() != 4 {
		t.Fatalf("genesis epoch: %d clusters, committee of %d", len(e.Clusters), e.Committee().Size())
	}
}

// TestGenesisRolesAndClusters: members of other roles are in the identity
// table but not in the committee, and the collectors are dealt into
// params.clusters clusters (one when it is absent).
func TestGenesisRolesAndClusters(t *testing.T) {
	g := withRoles(t, testGenesis(t), "collection", "collection", "execution", "collection", "access")
	com, members, err := g.Committee()
	if err != nil {
		t.Fatal(err)
	}
	if com.Size() != 4 || len(members) != 4 || com.TotalWeight() != 4 {
		t.Fatalf("committee of %d (weight %d), %d network members; want the 4 consensus members alone", com.Size(), com.TotalWeight(), len(members))
	}
	for k, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 3} {
		g.Params.Clusters = k
		clusters, err := g.Clusters()
		if err != nil || len(clusters) != want {
			t.Fatalf("params.clusters %d: %d clusters (%v), want %d", k, len(clusters), err, want)
		}
		st, err := g.EpochState()
		if err != nil {
			t.Fatal(err)
		}
		e := st.Schedule().Last()
		if !reflect.DeepEqual(e.Clusters, clusters) || len(e.Members(epoch.RoleCollection)) != 3 || e.Committee().Size() != 4 {
			t.Fatalf("genesis epoch: clusters %v, %d collectors, committee %d", e.Clusters, len(e.Members(epoch.RoleCollection)), e.Committee().Size())
		}
	}
	// Build writes the default out, so the file says how it is clustered.
	b, err := genesis.Build("c", g.Validators, genesis.DefaultParams(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if b.Params.Clusters != 1 {
		t.Fatalf("Build wrote clusters %d, want 1", b.Params.Clusters)
	}
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := genesis.Load(path); err != nil {
		t.Fatalf("a genesis with roles does not load: %v", err)
	}
}

func TestGenesisRejectsBadRolesAndClusters(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(g *genesis.Genesis)
		want string
	}{
		"unknown role":           {func(g *genesis.Genesis) { g.Validators[1].Role = "verification" }, "unknown role"},
		"capitalised role":       {func(g *genesis.Genesis) { g.Validators[1].Role = "Consensus" }, "unknown role"},
		"more clusters":          {func(g *genesis.Genesis) { withRoles(t, g, "collection"); g.Params.Clusters = 2 }, "clusters"},
		"clusters, no collector": {func(g *genesis.Genesis) { g.Params.Clusters = 1 }, "no collectors"},
		"negative clusters":      {func(g *genesis.Genesis) { withRoles(t, g, "collection"); g.Params.Clusters = -1 }, "clusters"},
		"key under two roles": {func(g *genesis.Genesis) {
			twin := g.Validators[0]
			twin.Name, twin.Address, twin.Role = "twin", "127.0.0.1:1", "collection"
			g.Validators = append(g.Validators, twin)
		}, "appears twice"},
		"no consensus member": {func(g *genesis.Genesis) {
			for i := range g.Validators {
				g.Validators[i].Role = "execution"
			}
		}, "no consensus validator"},
	} {
		t.Run(name, func(t *testing.T) {
			g := testGenesis(t)
			c.edit(g)
			if _, _, err := g.Committee(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Committee = %v, want an error mentioning %q", err, c.want)
			}
			path := filepath.Join(t.TempDir(), "genesis.json")
			if err := g.Save(path); err != nil {
				t.Fatal(err)
			}
			if _, err := genesis.Load(path); err == nil {
				t.Fatal("Load accepted it")
			}
		})
	}
}
