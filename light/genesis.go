package light

import "github.com/floe-bft/floe/genesis"

// LoadGenesis reads a genesis file and keeps what a light client trusts:
// the epoch rules, the genesis identity table, leader seed and clusters.
func LoadGenesis(path string) (Genesis, error) {
	g, err := genesis.Load(path)
	if err != nil {
		return Genesis{}, err
	}
	return GenesisOf(g)
}

// GenesisOf is what a light client of g's chain trusts; a genesis with
// params.clusters > 0 is a pipeline network's (Genesis.Pipeline).
func GenesisOf(g *genesis.Genesis) (Genesis, error) {
	p, err := g.EpochParams()
	if err != nil {
		return Genesis{}, err
	}
	ids, seed, err := g.Identities()
	if err != nil {
		return Genesis{}, err
	}
	clusters, err := g.Clusters()
	if err != nil {
		return Genesis{}, err
	}
	return Genesis{Params: p, Identities: ids, Seed: seed, Clusters: clusters, Pipeline: g.Params.Clusters > 0}, nil
}
