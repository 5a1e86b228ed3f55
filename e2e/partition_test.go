package e2e

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func unitWeights(n int) weights {
	w := weights{byNode: make([]uint64, n)}
	for i := range w.byNode {
		w.byNode[i] = 1
	}
	f := (n - 1) / 3
	w.supermajority = uint64(n - f)
	return w
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = nodeName(i)
	}
	return out
}

// reachable sets must be symmetric: a partition that lets a reach b but
// not b reach a is not what iptables rules on both ends produce.
func checkSymmetric(t *testing.T, reach [][]int) {
	t.Helper()
	for i, rs := range reach {
		for _, j := range rs {
			found := false
			for _, k := range reach[j] {
				found = found || k == i
			}
			if !found {
				t.Fatalf("%d reaches %d but not the other way", i, j)
			}
		}
	}
}

func TestMaxFaulty(t *testing.T) {
	for n, f := range map[int]int{1: 0, 3: 0, 4: 1, 6: 1, 7: 2, 10: 3} {
		if got := unitWeights(n).maxFaulty(); got != f {
			t.Errorf("n=%d: f=%d, want %d", n, got, f)
		}
	}
	// One heavy member: losing it alone breaks the supermajority.
	w := weights{byNode: []uint64{5, 1, 1, 1}, supermajority: 6}
	if got := w.maxFaulty(); got != 0 {
		t.Errorf("heavy member: f=%d, want 0", got)
	}
}

func TestPartitionTopologies(t *testing.T) {
	for _, n := range []int{4, 7} {
		w := unitWeights(n)
		rng := rand.New(rand.NewPCG(1, 2))

		reach, desc, err := partitionSides(Step{Topology: TopologyMinority}, w, names(n), rng)
		if err != nil {
			t.Fatal(err)
		}
		checkSymmetric(t, reach)
		small := 0
		for _, rs := range reach {
			if len(rs)+1 == w.maxFaulty() {
				small++
			}
		}
		if small != w.maxFaulty() {
			t.Errorf("n=%d minority %q: %d nodes in the small side, want f=%d", n, desc, small, w.maxFaulty())
		}

		reach, desc, err = partitionSides(Step{Topology: TopologySplit}, w, names(n), rng)
		if err != nil {
			t.Fatal(err)
		}
		checkSymmetric(t, reach)
		for i, rs := range reach {
			if uint64(len(rs)+1) >= w.supermajority {
				t.Errorf("n=%d split %q: node %d's side has a supermajority", n, desc, i)
			}
		}

		reach, desc, err = partitionSides(Step{Topology: TopologyRing}, w, names(n), rng)
		if err != nil {
			t.Fatal(err)
		}
		checkSymmetric(t, reach)
		for i, rs := range reach {
			if len(rs) != 2 || rs[0] == rs[1] || rs[0] == i || rs[1] == i {
				t.Errorf("n=%d ring %q: node %d reaches %v", n, desc, i, rs)
			}
		}
	}
	reach, desc, err := partitionSides(Step{Topology: TopologyGroups, Groups: [][]string{{"node0", "node2"}, {"node1"}}},
		unitWeights(4), names(4), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if desc != "node0,node2 | node1 | node3" || len(reach[0]) != 1 || reach[0][0] != 2 || len(reach[3]) != 0 {
		t.Errorf("groups: %q %v", desc, reach)
	}
}

func TestPartitionRefusals(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		s    Step
		w    weights
		want string
	}{
		{Step{Topology: TopologyMinority}, unitWeights(3), "tolerates no faulty member"},
		{Step{Topology: TopologyRing}, unitWeights(3), "full mesh"},
		{Step{Topology: TopologySplit}, weights{byNode: []uint64{1, 1, 5, 1}, supermajority: 6}, "supermajority on one side"},
	} {
		_, _, err := partitionSides(tc.s, tc.w, names(len(tc.w.byNode)), rng)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s over %v: %v, want %q", tc.s.Topology, tc.w.byNode, err, tc.want)
		}
	}
}
