package main

import (
	"log/slog"

	"github.com/floe-bft/floe/config"
)

// The home directory layout and floe.toml live in package config; these
// names are what start.go and follow.go use.
const (
	configDir     = config.Dir
	keysFile      = config.KeysFile
	validatorFile = config.ValidatorFile
	genesisFile   = config.GenesisFile
)

// nodeConfig is floe.toml (config.Node).
type nodeConfig = config.Node

// loadConfig is config.Load.
func loadConfig(home string, lookupEnv func(string) (string, bool)) (*nodeConfig, error) {
	return config.Load(home, lookupEnv)
}

// parseLevel is config.ParseLevel.
func parseLevel(s string) (slog.Level, error) { return config.ParseLevel(s) }
