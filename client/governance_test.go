package client

import (
	"reflect"
	"testing"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/epoch"
)

func rolesTable(roles ...epoch.Role) []epoch.Identity {
	ids := make([]epoch.Identity, len(roles))
	for i, r := range roles {
		ids[i].Role = r
	}
	return ids
}

func TestNextClusters(t *testing.T) {
	c, x := epoch.RoleCollection, epoch.RoleConsensus
	three := rolesTable(x, c, c, c)
	two := api.EpochInfo{Clusters: [][]string{{"a"}, {"b"}}}
	for _, tc := range []struct {
		name      string
		last      api.EpochInfo
		ids       []epoch.Identity
		requested int
		want      int
	}{
		{"asked for", two, three, 3, 3},
		{"asked for too many: left to validation", two, three, 9, 9},
		{"keeps the newest epoch's count", two, three, 0, 2},
		{"at least one with collectors", api.EpochInfo{}, three, 0, 1},
		{"at most one per collector", two, rolesTable(x, c), 0, 1},
		{"none without collectors", two, rolesTable(x, x), 0, 0},
	} {
		if got := NextClusters(tc.last, tc.ids, tc.requested); got != tc.want {
			t.Errorf("%s: NextClusters = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestNextEpochSpecDealsTheCollectors(t *testing.T) {
	ids := rolesTable(epoch.RoleConsensus, epoch.RoleCollection, epoch.RoleCollection, epoch.RoleCollection)
	seed := [32]byte{7}
	last := api.EpochInfo{Counter: 3, FinalView: 400}
	s, err := NextEpochSpec(last, 100, ids, seed, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := epoch.AssignClusters(ids, seed, 2)
	if s.Counter != 4 || s.FirstView != 401 || s.FinalView != 500 || !reflect.DeepEqual(s.Clusters, want) {
		t.Fatalf("spec %+v, want epoch 4 of views 401..500 with clusters %v", s, want)
	}
	if _, err := NextEpochSpec(last, 100, ids, seed, 4); err == nil {
		t.Fatal("4 clusters for 3 collectors accepted")
	}
}
