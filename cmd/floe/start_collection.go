package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/role/collector"
)

var _ api.Node = (*collector.Node)(nil)

// runCollection runs a collector (role = "collection"): it follows the
// main chain from [follower] upstreams, or else from the genesis api of
// every consensus member, runs its cluster of each epoch on p2p.listen (or
// its genesis address) and hands guarantees to the consensus members'
// APIs.
func runCollection(ctx context.Context, cfg *config.Node, home string, log *slog.Logger) error {
	g, keys, err := loadMember(home)
	if err != nil {
		return err
	}
	upstreams, err := cfg.FollowerUpstreams(nil)
	if errors.Is(err, config.ErrNoUpstream) {
		upstreams = nil // the genesis api directory then (collector.ConsensusAPIs)
	} else if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Storage.DataDir, 0o700); err != nil {
		return err
	}
	withhold, err := testFault(collector.EnvWithholdCollections, "withholds every collection it guarantees", log)
	if err != nil {
		return err
	}
	forge, err := testFault(collector.EnvForgeGuarantees, "hands every guarantee off with a broken signature", log)
	if err != nil {
		return err
	}
	return serveNode(ctx, cfg, g, log, func(reg prometheus.Registerer) (api.Node, error) {
		return collector.NewNode(collector.NodeConfig{
			WithholdCollections: withhold,
			ForgeGuarantees:     forge,
			Genesis:             g,
			Keys:                keys,
			DataDir:             cfg.Storage.DataDir,
			Upstreams:           upstreams,
			P2PListen:           cfg.P2PListen(home),
			PoolTxs:             cfg.Mempool.MaxTxs,
			PoolBytes:           cfg.Mempool.MaxBytes,
			MaxGuarantees:       cfg.Collection.MaxGuarantees,
			Retain:              cfg.Collection.Retain,
			MaxHandoff:          cfg.Collection.MaxHandoff,
			PollInterval:        cfg.Node.StatusInterval.Duration,
			ObserverWorkers:     cfg.Follower.Workers,
			MaxUncertified:      cfg.Follower.MaxUncertified,
			Logger:              log,
			Metrics:             reg,
		})
	})
}

// testFault reads a collector's test-fault switch from the environment
// (true or false), warning loudly when it is on.
func testFault(env, what string, log *slog.Logger) (bool, error) {
	v, ok := os.LookupEnv(env)
	if !ok || v == "" {
		return false, nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", env, v)
	}
	if on {
		log.Warn("TEST FAULT: this collector " + what + " (" + env + "); never on a real network")
	}
	return on, nil
}
