package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/role/observer"
)

func newFollowCmd() *cobra.Command {
	var (
		home, genesisPath string
		upstreams         []string
	)
	cmd := &cobra.Command{
		Use:   "follow --home DIR --upstream URL [--upstream URL ...]",
		Short: "Follow a chain without voting (observers, exchanges, indexers)",
		Long: `Run the observer role (the same as 'floe start' with role = "observer"): a
consensus follower that pulls blocks from the HTTP APIs of upstream
nodes (participants or other followers), validates every block header by the
QC that certifies it against its epoch's identity table (seed 001), keeps
uncertified blocks in a bounded cache, stores only certified blocks, finalizes
with the 2-chain rule, executes the finalized chain and serves the same read
API as a participant (blocks, transactions, state with proofs, the finalized
stream, /metrics) plus the sync endpoints, so followers can follow followers.

DIR needs no keys: config/genesis.json (or --genesis) and an optional
config/floe.toml whose [follower] section may list upstreams, workers and
max_uncertified; --upstream flags replace the configured upstreams. The
environment overrides of 'floe start' apply (FLOE_API, FLOE_DEBUG,
FLOE_LOG_LEVEL, FLOE_DATA_DIR). A follower refuses transactions.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if home == "" {
				return fmt.Errorf("--home is required")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			config.TuneGC(os.LookupEnv)
			return runFollower(ctx, home, genesisPath, upstreams, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&home, "home", "", "follower home directory")
	cmd.Flags().StringVar(&genesisPath, "genesis", "", "genesis file (default DIR/config/genesis.json)")
	cmd.Flags().StringArrayVar(&upstreams, "upstream", nil, "upstream API base URL, e.g. http://127.0.0.1:8080 (repeatable)")
	return cmd
}

func runFollower(ctx context.Context, home, genesisPath string, upstreams []string, logOut io.Writer) error {
	cfg, err := config.Load(home, os.LookupEnv)
	if err != nil {
		return err
	}
	return runObserver(ctx, cfg, home, genesisPath, upstreams, cfg.Logger(logOut))
}

// runObserver runs the observer role: upstreams (or the configured ones)
// and the genesis file at genesisPath (or in the home directory).
func runObserver(ctx context.Context, cfg *config.Node, home, genesisPath string, upstreams []string, log *slog.Logger) error {
	if genesisPath == "" {
		genesisPath = filepath.Join(home, config.Dir, config.GenesisFile)
	}
	g, err := genesis.Load(genesisPath)
	if err != nil {
		return err
	}
	if upstreams, err = cfg.FollowerUpstreams(upstreams); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Storage.DataDir, 0o700); err != nil {
		return err
	}
	return serveNode(ctx, cfg, g, log, func(reg prometheus.Registerer) (api.Node, error) {
		return observer.New(observer.Config{
			Genesis:        g,
			DataDir:        cfg.Storage.DataDir,
			Upstreams:      upstreams,
			Workers:        cfg.Follower.Workers,
			MaxUncertified: cfg.Follower.MaxUncertified,
			PollInterval:   cfg.Node.StatusInterval.Duration,
			Logger:         log,
			Metrics:        reg,
		})
	})
}
