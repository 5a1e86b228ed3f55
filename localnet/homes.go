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
// Every node of a testnet connects to the others from 127.0.0.1, so the
// per-address connection and stream caps are off (config.ShareClientAddress):
// five observers of a pipeline network (three collectors, an executor, an
// access node) opening live streams to each consensus node exceeded the
// default of four per address, and the one refused (429) followed the main
// chain by polling, late enough to stall its cluster at max rate.
func (ConfigHomes) WriteValidator(h Home, keys *genesis.NodeKeys) (genesis.Validator, error) {
	v, err := config.Init(h.Dir, config.InitOptions{Name: h.Name, P2P: h.P2PAddr, API: h.APIAddr, Debug: h.DebugAddr,
		LogLevel: h.LogLevel, Weight: 1, Force: true, Keys: keys, Role: h.Role})
	if err != nil {
		return v, err
	}
	return v, config.ShareClientAddress(h.Dir)
}

// WriteFollower writes floe.toml with the follower's API address.
func (ConfigHomes) WriteFollower(h Home) error {
	if err := config.InitFollower(h.Dir, h.APIAddr, h.LogLevel); err != nil {
		return err
	}
	return config.ShareClientAddress(h.Dir)
}

// WriteGenesis puts the genesis file where 'floe start' reads it.
func (ConfigHomes) WriteGenesis(home string, g *genesis.Genesis) error {
	return g.Save(filepath.Join(home, config.Dir, config.GenesisFile))
}
