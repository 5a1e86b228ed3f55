package localnet

import (
	"path/filepath"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
)

// ConfigHomes writes testnet homes as 'floe init' does (package config):
// the HomeWriter for nodes that run the floe binary.
type ConfigHomes struct{}

// WriteValidator writes keys, floe.toml and validator.json, overwriting;
// the entry advertises the API at http://APIAddr.
// A home with SharedStreams > 0 lets one client address hold that many
// more streams than the default (config.SetStreamsPerIP).
func (ConfigHomes) WriteValidator(h Home, keys *genesis.NodeKeys) (genesis.Validator, error) {
	v, err := config.Init(h.Dir, config.InitOptions{Name: h.Name, P2P: h.P2PAddr, API: h.APIAddr, Debug: h.DebugAddr,
		LogLevel: h.LogLevel, Weight: 1, Force: true, Keys: keys, Role: h.Role})
	if err != nil || h.SharedStreams == 0 {
		return v, err
	}
	return v, config.SetStreamsPerIP(h.Dir, defaultStreamsPerIP+h.SharedStreams)
}

// defaultStreamsPerIP is the API's default per-address stream cap.
const defaultStreamsPerIP = 4

// WriteFollower writes floe.toml with the follower's API address.
func (ConfigHomes) WriteFollower(h Home) error {
	return config.InitFollower(h.Dir, h.APIAddr, h.LogLevel)
}

// WriteGenesis puts the genesis file where 'floe start' reads it.
func (ConfigHomes) WriteGenesis(home string, g *genesis.Genesis) error {
	return g.Save(filepath.Join(home, config.Dir, config.GenesisFile))
}
