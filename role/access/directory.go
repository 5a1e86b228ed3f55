package access

import (
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
)

// Chain is what the access node reads of the finalized main chain (an
// observer's served ledger).
type Chain interface {
	// BlockByHeight returns a finalized block; height 0 is genesis.
	BlockByHeight(height uint64) (*model.Block, error)
	// LatestBlock returns the last finalized block.
	LatestBlock() (*model.Block, error)
}

// Directory answers the routing questions about the main chain's epochs.
type Directory interface {
	// EpochOf returns the counter of the epoch a finalized block's view
	// belongs to.
	EpochOf(view model.View) (uint64, error)
	// Route returns the cluster of epoch counter that collects the
	// transaction with ID id (txID mod k), its chain, and the base URLs of
	// its members' APIs (members listing none are left out). A route with
	// no member URL is ErrNoRoute.
	Route(counter uint64, id model.Identifier) (Route, error)
	// Executors returns the API base URLs of epoch counter's execution
	// members (those listing one).
	Executors(counter uint64) []string
	// ChainMembers returns the API base URLs of the members of the
	// cluster that runs chain (nil for a chain of no known epoch).
	ChainMembers(chain model.ChainID) []string
}

// Route is where one transaction goes.
type Route struct {
	Epoch   uint64
	Cluster int
	Chain   model.ChainID
	Members []string // API base URLs
}

// ScheduleDirectory is the Directory of a node that follows the main
// chain: the epoch schedule it holds (re-read on each call, since it
// changes as epochs commit) and the genesis API directory.
type ScheduleDirectory struct {
	Schedule func() *epoch.Schedule
	// APIs maps members to their API base URL (genesis.Genesis.APIs).
	APIs map[model.NodeID]string
	// Main is the network's main chain ID (model.MainChain of the genesis
	// chain ID): cluster chain IDs derive from it.
	Main model.ChainID
}

// EpochOf looks the view up in the schedule.
func (d ScheduleDirectory) EpochOf(view model.View) (uint64, error) {
	e, err := d.Schedule().EpochAt(view)
	if err != nil {
		return 0, err
	}
	return e.Counter, nil
}

// ChainMembers finds the cluster running chain among the known epochs'.
func (d ScheduleDirectory) ChainMembers(chain model.ChainID) []string {
	for _, e := range d.Schedule().Epochs() {
		for i := range e.Clusters {
			if model.ClusterChain(d.Main, e.Counter, uint32(i)) != chain {
				continue
			}
			members, _ := e.Cluster(i, d.Main)
			var out []string
			for _, m := range members {
				if u, ok := d.APIs[m.ID()]; ok {
					out = append(out, u)
				}
			}
			return out
		}
	}
	return nil
}

// Executors lists the epoch's execution members that have an API.
func (d ScheduleDirectory) Executors(counter uint64) []string {
	e, err := d.Schedule().Epoch(counter)
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range e.Members(epoch.RoleExecution) {
		if u, ok := d.APIs[m.ID()]; ok {
			out = append(out, u)
		}
	}
	return out
}

// Route applies the one routing rule (epoch.Epoch.ClusterOfTx).
func (d ScheduleDirectory) Route(counter uint64, id model.Identifier) (Route, error) {
	e, err := d.Schedule().Epoch(counter)
	if err != nil {
		return Route{}, fmt.Errorf("%w: epoch %d: %v", ErrNoRoute, counter, err)
	}
	i := e.ClusterOfTx(id)
	if i < 0 {
		return Route{}, fmt.Errorf("%w: epoch %d has no clusters", ErrNoRoute, counter)
	}
	members, chain := e.Cluster(i, d.Main)
	r := Route{Epoch: counter, Cluster: i, Chain: chain}
	for _, m := range members {
		if u, ok := d.APIs[m.ID()]; ok {
			r.Members = append(r.Members, u)
		}
	}
	if len(r.Members) == 0 {
		return Route{}, fmt.Errorf("%w: no member of cluster %d of epoch %d lists an API", ErrNoRoute, i, counter)
	}
	return r, nil
}
