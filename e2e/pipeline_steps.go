package e2e

import (
	"fmt"
	"strings"

	"github.com/floe-bft/floe/config"
)

// Steps on the pipeline's role members: kills, pauses and disconnects
// select them by name ("collector3") or at random ("collector"); a
// partition among collectors either names them in groups (every
// collector is on a side; one in no group is alone) or splits one
// cluster in two halves (topology "cluster"), leaving every other link
// alone.

// groupsNameCollectors reports whether a groups partition is among
// collectors (the manifest refuses groups that mix them with validators).
func (r *Runner) groupsNameCollectors(s Step) bool {
	if s.Topology != TopologyGroups {
		return false
	}
	for _, g := range s.Groups {
		for _, name := range g {
			for _, nd := range r.nodes {
				if nd.Name == name && nd.Role == config.RoleCollection {
					return true
				}
			}
		}
	}
	return false
}

// collectorPartition prepares a partition among collectors: the nodes it
// cuts (a cluster's members for topology cluster, else every collector),
// equal weights over them, and the cluster split (-1 for groups). A
// cluster split gets its two halves as groups, chosen at random (seeded),
// and is refused if one half would keep a supermajority of the cluster
// (more than two thirds of its equal-weight members): it would not stall.
func (r *Runner) collectorPartition(s *Step) (nodes []*nodeState, w weights, cluster int, err error) {
	byName := map[string]*nodeState{}
	for _, nd := range r.nodes {
		if nd.Role == config.RoleCollection {
			byName[nd.Name] = nd
		}
	}
	cluster = -1
	if s.Topology == TopologyCluster {
		cluster = *s.Cluster
		if cluster >= len(r.net.Clusters) {
			return nil, w, 0, fmt.Errorf("no cluster %d (the genesis has %d)", cluster, len(r.net.Clusters))
		}
		for _, name := range r.net.Clusters[cluster] {
			nodes = append(nodes, byName[name])
		}
	} else {
		for _, nd := range r.nodes {
			if nd.Role == config.RoleCollection {
				nodes = append(nodes, nd)
			}
		}
	}
	n := len(nodes)
	w = weights{byNode: make([]uint64, n), supermajority: uint64(2*n/3 + 1)}
	for i := range w.byNode {
		w.byNode[i] = 1
	}
	if cluster >= 0 {
		perm := r.rng.Perm(n)
		half := n / 2
		if uint64(n-half) >= w.supermajority {
			return nil, w, 0, fmt.Errorf("cluster %d of %d members: a half of %d keeps a supermajority (%d); it would not stall",
				cluster, n, n-half, w.supermajority)
		}
		s.Groups = [][]string{nil, nil}
		for k, i := range perm {
			side := 0
			if k >= half {
				side = 1
			}
			s.Groups[side] = append(s.Groups[side], nodes[i].Name)
		}
	}
	return nodes, w, cluster, nil
}

// noteRestarted remembers role members that are killed or stopped: an
// execution node's counter starts from 0 again after a restart.
func (r *Runner) noteRestarted(nodes []*nodeState) {
	if r.pipe == nil {
		return
	}
	r.pipe.mu.Lock()
	defer r.pipe.mu.Unlock()
	for _, nd := range nodes {
		if nd.Role != "" {
			r.pipe.restarted[nd.Name] = true
		}
	}
}

// clusterNote compares the clusters while a cluster partition was in
// place: the split cluster should execute (almost) nothing submitted
// during it, the others go on. A cluster that executed nothing during
// the fault although it was given transactions is a stall violation
// unless it is the split one.
func (f fault) clusterNote(r *Runner) string {
	if !f.split || r.pipe == nil {
		return ""
	}
	k := len(r.net.Clusters)
	executed, submitted := r.pipe.ledger.clusterActivity(k, f.applied, f.healed)
	var parts []string
	for i := 0; i < k; i++ {
		what := "goes on"
		if i == f.cluster {
			what = "split"
		}
		parts = append(parts, fmt.Sprintf("cluster %d (%s): %d submitted, %d executed", i, what, submitted[i], executed[i]))
		if i != f.cluster && submitted[i] > 0 && executed[i] == 0 {
			r.violate("stall", "cluster %d executed none of its %d transactions while cluster %d was split", i, submitted[i], f.cluster)
		}
	}
	return "during the fault: " + strings.Join(parts, "; ")
}

// joinNotes joins the non-empty notes of a step.
func joinNotes(notes []string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}
