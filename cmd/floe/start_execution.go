package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/role/execution"
)

var _ api.Node = (*execution.Node)(nil)

// runExecution runs the execution role (role = "execution"): it follows
// the main chain from [follower] upstreams (default: the consensus
// members' genesis api), fetches collections from their guarantors and
// sends receipts signed with the staking key of config/keys.json to the
// consensus members' genesis api.
func runExecution(ctx context.Context, cfg *config.Node, home string, log *slog.Logger) error {
	g, keys, err := loadMember(home)
	if err != nil {
		return err
	}
	if cfg.Follower.Workers < 0 || cfg.Follower.MaxUncertified < 0 {
		return config.ErrNegativeFollower
	}
	if err := os.MkdirAll(cfg.Storage.DataDir, 0o700); err != nil {
		return err
	}
	fault, err := execution.ParseFault(os.Getenv(execution.EnvFault))
	if err != nil {
		return err
	}
	if fault != execution.FaultNone {
		log.Warn("TEST FAULT: this execution node is byzantine", "fault", string(fault))
	}
	return serveNode(ctx, cfg, g, log, func(reg prometheus.Registerer) (api.Node, error) {
		return execution.New(execution.Config{
			Genesis:        g,
			DataDir:        cfg.Storage.DataDir,
			StakingKey:     keys.Staking,
			Upstreams:      cfg.Follower.Upstreams,
			Workers:        cfg.Follower.Workers,
			MaxUncertified: cfg.Follower.MaxUncertified,
			PollInterval:   cfg.Node.StatusInterval.Duration,
			Fetch: execution.FetchConfig{
				Parallel:       cfg.Execution.FetchParallel,
				PrefetchBlocks: cfg.Execution.PrefetchBlocks,
				RequestTimeout: cfg.Execution.FetchTimeout.Duration,
			},
			ExecWorkers:     cfg.Execution.Workers,
			Retain:          uint64(cfg.Execution.Retain),
			StateCacheBytes: int64(cfg.Execution.StateCacheMB) << 20,
			Fault:           fault,
			Logger:          log,
			Metrics:         reg,
		})
	})
}
