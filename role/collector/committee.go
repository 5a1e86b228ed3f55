package collector

import (
	"fmt"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
)

// ClusterCommittee is a cluster's committee: its members with their
// weights and staking keys, seeded with the cluster chain's ID, so every
// member, and every consensus node checking a guarantee, derives the same
// one from the epoch (epoch.Epoch.Cluster).
func ClusterCommittee(scheme crypto.Scheme, members []epoch.Identity, chain model.ChainID) (*committee.Committee, error) {
	cms := make([]committee.Member, 0, len(members))
	for _, m := range members {
		pk, err := scheme.DecodePublicKey(m.StakingKey)
		if err != nil {
			return nil, fmt.Errorf("collector: cluster member %s: %w", m.Name, err)
		}
		cms = append(cms, committee.Member{ID: m.ID(), Weight: m.Weight, StakingKey: pk, Possession: m.Possession})
	}
	c, err := committee.New(cms, chain)
	if err != nil {
		return nil, fmt.Errorf("collector: cluster committee: %w", err)
	}
	return c, nil
}
