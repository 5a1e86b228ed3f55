package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/floe-bft/floe/epoch"
)

// The epoch info names each role's member count and each cluster's
// members, in the table's cluster order.
func TestEpochInfoShowsRolesAndClusters(t *testing.T) {
	names := []string{"a", "x", "c0", "c1", "c2", "e"}
	roles := []epoch.Role{epoch.RoleConsensus, epoch.RoleConsensus, epoch.RoleCollection, epoch.RoleCollection, epoch.RoleCollection, epoch.RoleExecution}
	s := &epoch.Spec{Counter: 2, FirstView: 10, FinalView: 20, Clusters: [][]uint16{{2, 4}, {3}}}
	for i, n := range names {
		s.Identities = append(s.Identities, epoch.Identity{Name: n, Role: roles[i]})
	}
	sum := epochSummary(s)
	info := epochJSON(&sum)
	want := &EpochInfo{Counter: 2, FirstView: 10, FinalView: 20, Members: 6,
		Roles:    map[string]int{"consensus": 2, "collection": 3, "execution": 1},
		Clusters: [][]string{{"c0", "c2"}, {"c1"}}}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("epoch info %+v, want %+v", info, want)
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"roles":{"collection":3,"consensus":2,"execution":1}`) ||
		!strings.Contains(string(b), `"clusters":[["c0","c2"],["c1"]]`) {
		t.Fatalf("JSON %s", b)
	}
}
