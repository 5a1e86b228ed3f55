package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/node"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/role/observer"
)

// roleNode is a running node of any role, as the CLI serves it.
type roleNode interface {
	api.Backend
	Start(context.Context) error
	Stop()
	Done() <-chan struct{}
	Err() error
}

var (
	_ roleNode = (*node.Node)(nil)
	_ roleNode = (*observer.Observer)(nil)
)

// shutdownGrace bounds how long the HTTP servers get to finish requests
// when the node stops.
const shutdownGrace = 5 * time.Second

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
			tuneGC(os.LookupEnv)
			faults, err := loadFaults(forgetSafetyData, os.LookupEnv)
			if err != nil {
				return err
			}
			return runNode(ctx, home, cmd.ErrOrStderr(), faults)
		},
	}
	cmd.Flags().StringVar(&home, "home", "", "node home directory (see 'floe init')")
	cmd.Flags().BoolVar(&forgetSafetyData, "unsafe-forget-safety-data", false,
		"TESTS ONLY: reset the persisted safety data at startup, so the node may sign conflicting messages (also "+envForgetSafetyData+"=1)")
	return cmd
}

// runNode runs a node in its configured role until ctx ends or the node
// stops by itself.
func runNode(ctx context.Context, home string, logOut io.Writer, faults node.Faults) error {
	cfg, err := loadConfig(home, os.LookupEnv)
	if err != nil {
		return err
	}
	level, _ := parseLevel(cfg.Log.Level) // validated by loadConfig
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
	if cfg.Role == roleObserver {
		if faults.Any() {
			return fmt.Errorf("test faults apply to consensus nodes, not to role %q", cfg.Role)
		}
		return runObserver(ctx, cfg, home, "", nil, log)
	}

	g, err := genesis.Load(filepath.Join(home, configDir, genesisFile))
	if err != nil {
		return fmt.Errorf("%w (assemble one with 'floe genesis')", err)
	}
	keys, err := genesis.LoadKeys(filepath.Join(home, configDir, keysFile))
	if err != nil {
		return err
	}

	p2pListen := cfg.P2P.Listen
	if p2pListen == "" {
		// A validator that joins in a later epoch is not in genesis: it
		// listens on the address it registered (its validator.json).
		if b, err := os.ReadFile(filepath.Join(home, configDir, validatorFile)); err == nil {
			var v genesis.Validator
			if json.Unmarshal(b, &v) == nil {
				p2pListen = v.Address
			}
		}
	}
	return serveNode(ctx, cfg, g, log, func(reg *prometheus.Registry) (roleNode, error) {
		return node.New(node.Config{
			Genesis:         g,
			Keys:            keys,
			DataDir:         cfg.Storage.DataDir,
			P2PListen:       p2pListen,
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

// serveNode binds the API and debug listeners (before the node opens its
// database, so a taken port fails fast), builds the node with build, runs
// it and serves its API until ctx ends or the node stops. Participants
// (floe start) and followers (floe follow) share it.
func serveNode(ctx context.Context, cfg *nodeConfig, g *genesis.Genesis, log *slog.Logger, build func(*prometheus.Registry) (roleNode, error)) error {
	var err error
	// Bind the HTTP listeners before opening the node, so that a taken port
	// fails the start before the database and peer connections are opened.
	var apiLn, debugLn net.Listener
	if cfg.API.Listen != "" {
		if apiLn, err = net.Listen("tcp", cfg.API.Listen); err != nil {
			return fmt.Errorf("api listener: %w", err)
		}
		defer apiLn.Close()
	}
	if cfg.Debug.Listen != "" {
		if debugLn, err = net.Listen("tcp", cfg.Debug.Listen); err != nil {
			return fmt.Errorf("debug listener: %w", err)
		}
		defer debugLn.Close()
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n, err := build(reg)
	if err != nil {
		return err
	}
	// The node gets its own context: it is stopped explicitly below, after
	// the API stopped taking requests, rather than torn down by the signal.
	if err := n.Start(context.Background()); err != nil {
		n.Stop()
		return fmt.Errorf("start node: %w", err)
	}

	// Request contexts derive from httpCtx, so cancelling it ends
	// long-lived block streams, which Shutdown would otherwise wait for.
	httpCtx, cancelHTTP := context.WithCancel(context.Background())
	defer cancelHTTP()
	serveErr := make(chan error, 2)
	var servers []*http.Server
	serve := func(name string, ln net.Listener, h http.Handler, writeTimeout time.Duration) {
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
			BaseContext:       func(net.Listener) context.Context { return httpCtx },
		}
		servers = append(servers, srv)
		log.Info("listening", "server", name, "addr", ln.Addr().String())
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("%s server: %w", name, err)
			}
		}()
	}
	if apiLn != nil {
		maxTxs := g.Params.MaxBlockTxs
		srv := api.New(n, api.Options{
			Logger:    log,
			Gatherer:  reg,
			DecodeTxs: func(p []byte) ([][]byte, error) { return payload.TransactionsOf(p, maxTxs) },
		})
		// Block streams set their own per-write deadlines.
		serve("api", apiLn, srv, 30*time.Second)
	}
	if debugLn != nil {
		// CPU profiles and traces run for as long as the client asks
		// (?seconds=N), so no write timeout here.
		serve("debug", debugLn, api.DebugHandler(), 0)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("signal received, stopping")
	case <-n.Done():
	case runErr = <-serveErr:
		log.Error("stopping", "err", runErr)
	}
	cancelHTTP()
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(shutCtx)
	}
	n.Stop()
	<-n.Done()
	if err := n.Err(); err != nil {
		return fmt.Errorf("node stopped with a fatal error: %w", err)
	}
	if runErr != nil {
		return runErr
	}
	log.Info("stopped")
	return nil
}

// Garbage collector defaults, unless GOGC / GOMEMLIMIT say otherwise. A
// loaded node allocates mostly short-lived buffers (frames, payloads,
// batches): collecting at 200% heap growth instead of 100% saved ~2% CPU
// at full load. The soft memory limit makes the collector work harder only
// as the heap approaches it, which keeps a loaded node within a small
// machine's budget (Pebble's block cache and memtables live outside the Go
// heap and come on top).
const (
	defaultGCPercent   = 200
	defaultMemoryLimit = 320 << 20
)

func tuneGC(lookup func(string) (string, bool)) {
	if _, set := lookup("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	if _, set := lookup("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
