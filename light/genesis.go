package light

import "github.com/floe-bft/floe/genesis"

// LoadGenesis reads a genesis file and keeps what a light client trusts:
// the epoch rules, the genesis identity table and leader seed.
func LoadGenesis(path string) (Genesis, error) {
	g, err := genesis.Load(path)
	if err != nil {
		return Genesis{}, err
	}
	p, err := g.EpochParams()
	if err != nil {
		return Genesis{}, err
	}
	ids, seed, err := g.Identities()
	if err != nil {
		return Genesis{}, err
	}
	return Genesis{Params: p, Identities: ids, Seed: seed}, nil
}
