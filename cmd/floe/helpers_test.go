package main

import (
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
)

func noEnv(string) (string, bool) { return "", false }

// initHome is 'floe init' without the command: fresh keys, weight 1.
func initHome(home, name, p2p, apiAddr, debug string, weight uint64, force bool) (genesis.Validator, error) {
	return config.Init(home, config.InitOptions{Name: name, P2P: p2p, API: apiAddr, Debug: debug, LogLevel: "info", Weight: weight, Force: force})
}

// buildGenesis is genesis.Build.
func buildGenesis(chainID string, vals []genesis.Validator, params genesis.Params, seed, when string) (*genesis.Genesis, error) {
	return genesis.Build(chainID, vals, params, seed, when)
}
