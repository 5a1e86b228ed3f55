package localnet

import (
	"fmt"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/workload"
)

// Pipeline makes a testnet a pipeline network (docs/pipeline.md): beside
// the consensus validators, Clusters × ClusterSize collectors, Executors
// execution nodes and Access access nodes, each a process of its own
// ('floe start' in its role), with the load submitted to the access nodes.
type Pipeline struct {
	Clusters    int // k: collector clusters (genesis params.clusters)
	ClusterSize int // collectors per cluster
	Executors   int // execution nodes
	Access      int // access nodes
	// App is what the network runs: workload.AppAccounts (signed transfers between
	// LoadAccounts accounts of KeysPerAccount keys; "" means it) or
	// workload.AppKV.
	App            string
	LoadAccounts   int
	KeysPerAccount int
}

// accounts reports whether the network runs the accounts VM.
func (p *Pipeline) accounts() bool { return p.App == "" || p.App == workload.AppAccounts }

// Bounds of a pipeline testnet on one machine.
const (
	MaxClusters    = 16
	MaxClusterSize = 16
)

// DefaultPipeline is what 'floe testnet --pipeline' runs when no role flag
// says otherwise: small enough for a 2-core laptop (4 consensus nodes, 3
// collectors, two execution nodes and one access node: 10 processes).
func DefaultPipeline() Pipeline {
	return Pipeline{Clusters: 1, ClusterSize: 3, Executors: 2, Access: 1}
}

func (p *Pipeline) validate() error {
	switch {
	case p.Clusters < 1 || p.Clusters > MaxClusters:
		return fmt.Errorf("--clusters must be between 1 and %d", MaxClusters)
	case p.ClusterSize < 1 || p.ClusterSize > MaxClusterSize:
		return fmt.Errorf("--cluster-size must be between 1 and %d", MaxClusterSize)
	case p.Executors < 1 || p.Executors > MaxNodes:
		return fmt.Errorf("--executors must be between 1 and %d", MaxNodes)
	case p.Access < 1 || p.Access > MaxNodes:
		return fmt.Errorf("--access must be between 1 and %d", MaxNodes)
	case p.App != "" && p.App != workload.AppAccounts && p.App != workload.AppKV:
		return fmt.Errorf("--app must be %s or %s", workload.AppAccounts, workload.AppKV)
	case p.LoadAccounts < 0 || p.LoadAccounts > 10_000:
		return fmt.Errorf("--accounts must be between 1 and 10000")
	case p.KeysPerAccount < 0 || p.KeysPerAccount > 32:
		return fmt.Errorf("--keys-per-account must be between 1 and 32")
	}
	return nil
}

// pipelineMember is one role member of a pipeline testnet.
type pipelineMember struct{ name, role string }

// members lists the role members in node order: collectors, execution
// nodes, access nodes.
func (p *Pipeline) members() []pipelineMember {
	var out []pipelineMember
	for i := 0; i < p.Clusters*p.ClusterSize; i++ {
		out = append(out, pipelineMember{fmt.Sprintf("collector%d", i), config.RoleCollection})
	}
	for i := 0; i < p.Executors; i++ {
		out = append(out, pipelineMember{fmt.Sprintf("execution%d", i), config.RoleExecution})
	}
	for i := 0; i < p.Access; i++ {
		out = append(out, pipelineMember{fmt.Sprintf("access%d", i), config.RoleAccess})
	}
	return out
}

// addPipeline writes the homes of the pipeline's role members (keys
// NodeKeys(first), NodeKeys(first+1), ...) and returns their genesis
// entries. The epoch's random source deals the collectors into clusters.
func (n *Network) addPipeline(o Options, first int) ([]genesis.Validator, error) {
	ms := o.Pipeline.members()
	addrs, err := FreePorts(3 * len(ms))
	if err != nil {
		return nil, err
	}
	vals := make([]genesis.Validator, len(ms))
	for i, m := range ms {
		tn := o.newNode(m.name, addrs[3*i+1])
		tn.P2PAddr, tn.DebugAddr, tn.Role = addrs[3*i], addrs[3*i+2], m.role
		keys, err := NodeKeys(first + i)
		if err != nil {
			return nil, err
		}
		if vals[i], err = o.Homes.WriteValidator(tn.Home, keys); err != nil {
			return nil, err
		}
		n.Nodes = append(n.Nodes, tn)
	}
	return vals, nil
}

// ByRole returns the network's nodes of a role ("" or "consensus": the
// validators), in node order.
func (n *Network) ByRole(role string) []*Node {
	var out []*Node
	for _, tn := range n.Nodes {
		r := tn.Role
		if r == "" && tn.Upstream == "" {
			r = config.RoleConsensus
		}
		if r == role || (role == "" && r == config.RoleConsensus) {
			out = append(out, tn)
		}
	}
	return out
}
