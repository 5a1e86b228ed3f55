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
	"github.com/floe-bft/floe/payload"
	node "github.com/floe-bft/floe/role/consensus"
	"github.com/floe-bft/floe/role/observer"
)

var (
	_ api.Node = (*node.Node)(nil)
	_ api.Node = (*observer.Observer)(nil)
)

// serveNode runs a node of any role under api.Host with the addresses of
// floe.toml.
func serveNode(ctx context.Context, cfg *config.Node, g *genesis.Genesis, log *slog.Logger, build func(prometheus.Registerer) (api.Node, error)) error {
	maxTxs := g.Params.MaxBlockTxs
	limits, err := apiLimits(cfg)
	if err != nil {
		return err
	}
	return api.Host(ctx, api.HostConfig{
		APIListen: cfg.API.Listen, DebugListen: cfg.Debug.Listen, Logger: log,
		DecodeTxs: func(p []byte) ([][]byte, error) { return payload.TransactionsOf(p, maxTxs) },
		Limits:    &limits,
	}, build)
}

// apiLimits overlays floe.toml's [api] limits on the defaults.
func apiLimits(cfg *config.Node) (api.Limits, error) {
	l := api.DefaultLimits()
	a := cfg.API
	setInt := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setFloat := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	setInt(&l.MaxConnections, a.MaxConnections)
	setInt(&l.MaxConnectionsPerIP, a.MaxConnectionsPerIP)
	setFloat(&l.RequestRate, a.RateLimit)
	setInt(&l.RequestBurst, a.RateBurst)
	setInt(&l.MaxExpensiveReads, a.MaxExpensiveReads)
	setFloat(&l.ReadBlockRate, a.ReadBlockRate)
	setInt(&l.ReadBlockBurst, a.ReadBlockBurst)
	if a.ReadMBRate != nil {
		// The burst stays two seconds' worth, and at least one largest answer.
		l.ReadBytesRate = *a.ReadMBRate * (1 << 20)
		l.ReadBytesBurst = max(int(2*l.ReadBytesRate), api.MaxAnswerBytes)
	}
	setFloat(&l.SubmitTxRate, a.SubmitTxRate)
	setInt(&l.SubmitTxBurst, a.SubmitTxBurst)
	if a.TotalSubmitTxRate != nil {
		l.TotalSubmitTxRate = *a.TotalSubmitTxRate
		l.TotalSubmitTxBurst = max(int(2*l.TotalSubmitTxRate), 1)
	}
	if a.RangeCacheMB != nil {
		l.RangeCacheBytes = int64(*a.RangeCacheMB) << 20
	}
	setInt(&l.MaxStreams, a.MaxStreams)
	setInt(&l.MaxStreamsPerIP, a.MaxStreamsPerIP)
	if err := l.Validate(); err != nil {
		return l, fmt.Errorf("floe.toml [api]: %w", err)
	}
	return l, nil
}

func newStartCmd() *cobra.Command {
	var home string
	var forgetSafetyData bool
	cmd := &cobra.Command{
		Use:   "start --home DIR",
		Short: "Run a node from its home directory",
		Long: `Run a node in the role floe.toml names (role = "consensus", the default, or
"observer"). A consensus node reads DIR/config/genesis.json, keys.json and
floe.toml, opens the database, joins the network, and serves the client API
(with /metrics) and, if configured, pprof on a separate address. An observer
needs no keys: it follows the chain from the upstream APIs its [follower]
section lists (see 'floe follow').

Environment overrides of floe.toml: FLOE_API (api.listen), FLOE_P2P
(p2p.listen), FLOE_DEBUG (debug.listen), FLOE_LOG_LEVEL (log.level),
FLOE_DATA_DIR (storage.data_dir), FLOE_ROLE (role). An empty value disables
the API or debug listener.

Test-only, never for a real network: --unsafe-forget-safety-data (or
FLOE_UNSAFE_FORGET_SAFETY_DATA=true) and FLOE_CLOCK_OFFSET (e.g. 20s) break
the node on purpose for the end-to-end runner (docs/e2e.md).

SIGINT or SIGTERM stops the node cleanly. The exit status is non-zero if the
node stops because of a fatal error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if home == "" {
				return fmt.Errorf("--home is required")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			config.TuneGC(os.LookupEnv)
			faults, err := node.FaultsFromEnv(forgetSafetyData, os.LookupEnv)
			if err != nil {
				return err
			}
			return runNode(ctx, home, cmd.ErrOrStderr(), faults)
		},
	}
	cmd.Flags().StringVar(&home, "home", "", "node home directory (see 'floe init')")
	cmd.Flags().BoolVar(&forgetSafetyData, "unsafe-forget-safety-data", false,
		"TESTS ONLY: reset the persisted safety data at startup, so the node may sign conflicting messages (also "+node.EnvForgetSafetyData+"=1)")
	return cmd
}

// runNode runs a node in its configured role until ctx ends or the node
// stops by itself.
func runNode(ctx context.Context, home string, logOut io.Writer, faults node.Faults) error {
	cfg, err := config.Load(home, os.LookupEnv)
	if err != nil {
		return err
	}
	log := cfg.Logger(logOut)
	if cfg.Role != config.RoleConsensus && faults.Any() {
		return fmt.Errorf("test faults apply to consensus nodes, not to role %q", cfg.Role)
	}
	switch cfg.Role {
	case config.RoleObserver:
		return runObserver(ctx, cfg, home, "", nil, log)
	case config.RoleCollection:
		return runCollection(ctx, cfg, home, log)
	case config.RoleExecution:
		return runExecution(ctx, cfg, home, log)
	case config.RoleAccess:
		return runAccess(ctx, cfg, home, log)
	}

	g, keys, err := loadMember(home)
	if err != nil {
		return err
	}

	return serveNode(ctx, cfg, g, log, func(reg prometheus.Registerer) (api.Node, error) {
		return node.New(node.Config{
			Genesis:         g,
			Keys:            keys,
			DataDir:         cfg.Storage.DataDir,
			P2PListen:       cfg.P2PListen(home),
			MempoolMaxTxs:   cfg.Mempool.MaxTxs,
			MempoolMaxBytes: cfg.Mempool.MaxBytes,
			VerifyWorkers:   cfg.Node.VerifyWorkers,
			VerifyQueue:     cfg.Node.VerifyQueue,
			StatusInterval:  cfg.Node.StatusInterval.Duration,
			GossipInterval:  cfg.Node.GossipInterval.Duration,
			Logger:          log,
			Metrics:         reg,
			Faults:          faults,
		})
	})
}

// loadGenesis reads the home's genesis file.
func loadGenesis(home string) (*genesis.Genesis, error) {
	g, err := genesis.Load(filepath.Join(home, config.Dir, config.GenesisFile))
	if err != nil {
		return nil, fmt.Errorf("%w (assemble one with 'floe genesis')", err)
	}
	return g, nil
}

// loadMember reads the home's genesis file and the member's keys.
func loadMember(home string) (*genesis.Genesis, *genesis.NodeKeys, error) {
	g, err := loadGenesis(home)
	if err != nil {
		return nil, nil, err
	}
	keys, err := genesis.LoadKeys(filepath.Join(home, config.Dir, config.KeysFile))
	if err != nil {
		return nil, nil, err
	}
	return g, keys, nil
}
