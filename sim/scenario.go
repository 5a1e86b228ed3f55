package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
)

// Scenario is a Twins-style test case (Bano et al., "Twins: BFT Systems Made
// Robust", OPODIS 2021): for each round it fixes the leader and how the
// instances — twin halves counted separately — are partitioned. Round r is
// view r+1. A message belongs to the round of its view, and crosses only
// inside one group of that round's partition; after the last round the
// network heals and the run continues as a stable phase, where liveness and
// the rate of finalization are checked as in any run.
//
// The twins run honest code; the scenario alone makes them equivocate: a
// twin leader's two halves each propose, and each half votes and times out
// with the part of the network it shares a group with.
type Scenario struct {
	Rounds []Round
}

// Round is one round of a scenario.
type Round struct {
	// Leader is the index of the identity that leads the round's view.
	Leader int
	// Groups partition the instances; an instance in no group hears
	// nothing in that round.
	Groups [][]int
	// Restart lists instances that crash when an honest replica enters
	// the round's view and restart from their store shortly after.
	Restart []int
}

func (sc *Scenario) validate(nodes, twins int) error {
	n := nodes + twins
	if len(sc.Rounds) == 0 {
		return fmt.Errorf("sim: scenario has no rounds")
	}
	for r, rd := range sc.Rounds {
		if rd.Leader < 0 || rd.Leader >= nodes {
			return fmt.Errorf("sim: scenario round %d: leader %d is not one of %d identities", r, rd.Leader, nodes)
		}
		seen := map[int]bool{}
		for _, g := range rd.Groups {
			for _, i := range g {
				if i < 0 || i >= n || seen[i] {
					return fmt.Errorf("sim: scenario round %d: instance %d out of range or in two groups", r, i)
				}
				seen[i] = true
			}
		}
		for _, i := range rd.Restart {
			if i < 0 || i >= n {
				return fmt.Errorf("sim: scenario round %d: restart of instance %d out of range", r, i)
			}
		}
	}
	return nil
}

// leaders fixes the leader of every scenario round's view.
func (sc *Scenario) leaders(c *committee.Committee, ids []*identity) (*committee.Committee, error) {
	fixed := make(map[model.View]model.NodeID, len(sc.Rounds))
	for r, rd := range sc.Rounds {
		fixed[model.View(r+1)] = ids[rd.Leader].id
	}
	return c.WithLeaders(fixed)
}

// connected reports whether a message of view v crosses from one instance
// to another.
func (sc *Scenario) connected(v model.View, from, to int) bool {
	if v == 0 || int(v) > len(sc.Rounds) {
		return true
	}
	for _, g := range sc.Rounds[v-1].Groups {
		var hasFrom, hasTo bool
		for _, i := range g {
			hasFrom = hasFrom || i == from
			hasTo = hasTo || i == to
		}
		if hasFrom || hasTo {
			return hasFrom && hasTo
		}
	}
	return false
}

// String prints a scenario one round per line: leader, then groups.
func (sc *Scenario) String() string {
	var b strings.Builder
	for r, rd := range sc.Rounds {
		fmt.Fprintf(&b, "round %d (view %d): leader %d, groups %v, restart %v\n", r, r+1, rd.Leader, rd.Groups, rd.Restart)
	}
	return b.String()
}

// GenerateScenario draws scenario number index for a committee of nodes
// identities, the first twins of which run as twins. The same arguments
// always give the same scenario, so a search is sharded by index ranges.
//
// The draw favours the shapes that break BFT protocols (Twins §5): a twin
// leads half the rounds; most rounds split the network in two or three
// groups, and twin halves go to different groups, so each half can gather
// a quorum with a different part of the honest replicas; a fifth of the
// rounds are fully connected, letting certificates form and spread.
func GenerateScenario(nodes, twins, rounds int, index uint64) *Scenario {
	rng := rand.New(rand.NewPCG(index, 0x7477696e73)) // "twins"
	n := nodes + twins
	sc := &Scenario{}
	for r := 0; r < rounds; r++ {
		var rd Round
		if twins > 0 && rng.IntN(2) == 0 {
			rd.Leader = rng.IntN(twins)
		} else {
			rd.Leader = rng.IntN(nodes)
		}
		groups := 1
		switch x := rng.Float64(); {
		case x < 0.2:
		case x < 0.85:
			groups = 2
		default:
			groups = 3
		}
		assign := make([]int, n)
		for i := range assign {
			assign[i] = rng.IntN(groups)
		}
		// Instances 2t and 2t+1 are the halves of twin t.
		for t := 0; t < twins && groups > 1; t++ {
			if assign[2*t] == assign[2*t+1] && rng.Float64() < 0.8 {
				assign[2*t+1] = (assign[2*t] + 1 + rng.IntN(groups-1)) % groups
			}
		}
		rd.Groups = make([][]int, groups)
		for i, g := range assign {
			rd.Groups[g] = append(rd.Groups[g], i)
		}
		// A restart now and then, of an honest instance: what it persisted
		// must keep it from contradicting what it signed before.
		if rng.Float64() < 0.25 {
			rd.Restart = []int{2*twins + rng.IntN(nodes-twins)}
		}
		sc.Rounds = append(sc.Rounds, rd)
	}
	return sc
}
