package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/role/access"
	"github.com/floe-bft/floe/role/observer"
)

var _ api.Node = (*access.Node)(nil)

// runAccess runs an access node (role = "access"): it follows the main
// chain from floe.toml's [follower] upstreams, or else from the genesis
// consensus members' APIs, and takes transactions for the collectors
// (docs/pipeline.md, "The access role"). Per-client submission limits are
// floe.toml's [api] submit_tx_rate / submit_tx_burst.
func runAccess(ctx context.Context, cfg *config.Node, home string, log *slog.Logger) error {
	g, err := loadGenesis(home)
	if err != nil {
		return err
	}
	upstreams, err := cfg.FollowerUpstreams(nil)
	if errors.Is(err, config.ErrNoUpstream) {
		if upstreams = g.RoleAPIs(epoch.RoleConsensus); len(upstreams) == 0 {
			return fmt.Errorf("access: no upstream: the genesis lists no consensus member with an api, and floe.toml's [follower] upstreams is empty")
		}
	} else if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Storage.DataDir, 0o700); err != nil {
		return err
	}
	a := cfg.Access // config.Load refused negative values
	return serveNode(ctx, cfg, g, log, func(reg prometheus.Registerer) (api.Node, error) {
		return access.NewNode(access.NodeConfig{
			Observer: observer.Config{
				Genesis:        g,
				DataDir:        cfg.Storage.DataDir,
				Upstreams:      upstreams,
				Workers:        cfg.Follower.Workers,
				MaxUncertified: cfg.Follower.MaxUncertified,
				PollInterval:   cfg.Node.StatusInterval.Duration,
				Logger:         log,
				Metrics:        reg,
			},
			Access: access.Config{
				Redundancy: a.Redundancy, QueueTxs: a.QueueTxs, TrackTxs: a.TrackTxs, RefWait: a.RefWait.Duration,
			},
		})
	})
}
