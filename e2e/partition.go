package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
)

// Partitions drop packets inside the nodes' own network namespaces. The
// node image is FROM scratch (no iptables in it) and nothing can be pulled,
// so the runner enters each container's namespace from the host, as root,
// with nsenter and runs the host's iptables there: a chain FLOE_E2E, jumped
// to from INPUT and OUTPUT, holds one DROP rule per unreachable peer
// address and direction. Healing flushes the chain. The rules live in the
// container's namespace, so a container that restarts comes back without
// them (the runner never restarts a node inside a partition).

const iptablesChain = "FLOE_E2E"

// checkPartitionTools verifies that the host can apply partitions.
func checkPartitionTools() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("partitions need root (nsenter into the containers' network namespaces); run as root or remove partition steps")
	}
	for _, tool := range []string{"nsenter", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("partitions need %s on the host (Debian: apt-get install util-linux iptables)", tool)
		}
	}
	return nil
}

// nsIptables runs iptables in the network namespace of process pid.
func (d *Docker) nsIptables(ctx context.Context, pid int, args ...string) error {
	full := append([]string{"--net=/proc/" + strconv.Itoa(pid) + "/ns/net", "iptables", "-w"}, args...)
	_, err := d.run(ctx, "nsenter", full...)
	return err
}

// Isolate makes the container with process pid drop all traffic to and
// from the given addresses (replacing any earlier rules).
func (d *Docker) Isolate(ctx context.Context, pid int, blocked []string) error {
	// Create the chain and the jumps once per namespace; -C tests for a
	// rule, so reapplying does not stack jumps.
	if err := d.nsIptables(ctx, pid, "-L", iptablesChain, "-n"); err != nil {
		if err := d.nsIptables(ctx, pid, "-N", iptablesChain); err != nil {
			return err
		}
	}
	for _, hook := range []string{"INPUT", "OUTPUT"} {
		if err := d.nsIptables(ctx, pid, "-C", hook, "-j", iptablesChain); err != nil {
			if err := d.nsIptables(ctx, pid, "-I", hook, "-j", iptablesChain); err != nil {
				return err
			}
		}
	}
	if err := d.nsIptables(ctx, pid, "-F", iptablesChain); err != nil {
		return err
	}
	for _, ip := range blocked {
		if err := d.nsIptables(ctx, pid, "-A", iptablesChain, "-s", ip, "-j", "DROP"); err != nil {
			return err
		}
		if err := d.nsIptables(ctx, pid, "-A", iptablesChain, "-d", ip, "-j", "DROP"); err != nil {
			return err
		}
	}
	return nil
}

// Heal removes every partition rule in the namespace of process pid.
func (d *Docker) Heal(ctx context.Context, pid int) error {
	if err := d.nsIptables(ctx, pid, "-L", iptablesChain, "-n"); err != nil {
		return nil // never partitioned since it started
	}
	return d.nsIptables(ctx, pid, "-F", iptablesChain)
}

// partitionSides splits node indices 0..n-1 into the sides of a topology.
// For "ring" there are no sides: reach lists, per node, the nodes it still
// reaches. Every partition is checked against the committee so that the
// topology does what its name promises.
func partitionSides(s Step, w weights, names []string, rng *rand.Rand) (reach [][]int, desc string, err error) {
	n := len(w.byNode)
	perm := rng.Perm(n)
	sideOf := make([]int, n)
	var sides [][]int
	switch s.Topology {
	case TopologyMinority:
		f := w.maxFaulty()
		if f == 0 {
			return nil, "", fmt.Errorf("a committee of %d tolerates no faulty member: no minority to cut off", n)
		}
		sides = [][]int{perm[:f], perm[f:]}
	case TopologySplit:
		if n < 2 {
			return nil, "", fmt.Errorf("cannot split a committee of %d", n)
		}
		sides = [][]int{perm[:n/2], perm[n/2:]}
		for _, side := range sides {
			if w.of(side) >= w.supermajority {
				return nil, "", fmt.Errorf("a split of %d nodes into %d and %d leaves a supermajority on one side", n, n/2, n-n/2)
			}
		}
	case TopologyGroups:
		index := map[string]int{}
		for i, nm := range names {
			index[nm] = i
		}
		grouped := make([]bool, n)
		for _, g := range s.Groups {
			var side []int
			for _, nm := range g {
				side = append(side, index[nm])
				grouped[index[nm]] = true
			}
			sides = append(sides, side)
		}
		for i := range grouped {
			if !grouped[i] {
				sides = append(sides, []int{i})
			}
		}
	case TopologyRing:
		if n < 4 {
			return nil, "", fmt.Errorf("a ring of %d nodes is a full mesh", n)
		}
		reach = make([][]int, n)
		for k, i := range perm {
			reach[i] = []int{perm[(k+n-1)%n], perm[(k+1)%n]}
		}
		desc = "ring"
		for _, i := range perm {
			desc += " " + names[i]
		}
		return reach, desc, nil
	default:
		return nil, "", fmt.Errorf("unknown topology %q", s.Topology)
	}
	for k, side := range sides {
		sort.Ints(side)
		for _, i := range side {
			sideOf[i] = k
		}
	}
	reach = make([][]int, n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if j != i && sideOf[j] == sideOf[i] {
				reach[i] = append(reach[i], j)
			}
		}
	}
	for k, side := range sides {
		if k > 0 {
			desc += " | "
		}
		for x, i := range side {
			if x > 0 {
				desc += ","
			}
			desc += names[i]
		}
	}
	return reach, desc, nil
}

// weights are the committee's voting weights by node index (the
// committee's own order is by ID) and its supermajority threshold.
type weights struct {
	byNode        []uint64
	supermajority uint64
}

func committeeWeights(com *committee.Committee, ids []model.NodeID) weights {
	w := weights{byNode: make([]uint64, len(ids)), supermajority: com.SupermajorityThreshold()}
	for i, id := range ids {
		w.byNode[i] = com.WeightOf(id)
	}
	return w
}

// of is the weight of a set of nodes.
func (w weights) of(nodes []int) uint64 {
	var sum uint64
	for _, i := range nodes {
		sum += w.byNode[i]
	}
	return sum
}

// maxFaulty is f: the largest number of members whose failure the
// committee tolerates whichever they are (the rest keep a supermajority
// even when the heaviest fail).
func (w weights) maxFaulty() int {
	sorted := append([]uint64(nil), w.byNode...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] > sorted[b] })
	var total uint64
	for _, x := range sorted {
		total += x
	}
	f := 0
	for _, x := range sorted {
		if total-x < w.supermajority {
			break
		}
		total -= x
		f++
	}
	return f
}
