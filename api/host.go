package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Node is a node of any role as Host runs it: the read (and, for consensus
// nodes, write) API and a lifecycle.
type Node interface {
	Backend
	Start(context.Context) error
	Stop()
	Done() <-chan struct{}
	Err() error
}

// HostConfig says where Host serves.
type HostConfig struct {
	// APIListen serves the client API with /metrics; empty disables it.
	APIListen string
	// DebugListen serves pprof; empty disables it.
	DebugListen string
	Logger      *slog.Logger
	// DecodeTxs reads binary transaction batches (Options.DecodeTxs).
	DecodeTxs func([]byte) ([][]byte, error)
	// Limits are the API's admission limits (nil: DefaultLimits()).
	Limits *Limits
}

// shutdownGrace bounds how long the HTTP servers get to finish requests
// when the node stops.
const shutdownGrace = 5 * time.Second

// Host binds the API and debug listeners (before the node opens its
// database, so a taken port fails fast), builds the node with build (its
// metrics go to the registry it is given, served at /metrics with the Go
// and process collectors), runs it and serves its API until ctx ends or
// the node stops. Every role runs under it.
func Host(ctx context.Context, cfg HostConfig, build func(prometheus.Registerer) (Node, error)) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var err error
	var apiLn, debugLn net.Listener
	if cfg.APIListen != "" {
		if apiLn, err = net.Listen("tcp", cfg.APIListen); err != nil {
			return fmt.Errorf("api listener: %w", err)
		}
		defer apiLn.Close()
	}
	if cfg.DebugListen != "" {
		if debugLn, err = net.Listen("tcp", cfg.DebugListen); err != nil {
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
		limits := DefaultLimits()
		if cfg.Limits != nil {
			limits = *cfg.Limits
		}
		fileLimit, ferr := raiseFileLimit()
		if ferr != nil {
			log.Warn("could not raise the open-files limit", "limit", fileLimit, "err", ferr)
		}
		if budget := apiConnBudget(limits.MaxConnections, fileLimit); budget != limits.MaxConnections {
			log.Warn("api connections capped by the open-files limit", "configured", limits.MaxConnections,
				"capped", budget, "open_files_limit", fileLimit, "reserved_for_peers_and_storage", FDReserve)
			limits.MaxConnections = budget
		}
		metrics := NewHTTPMetrics(reg)
		apiLn = limitConns(apiLn, limits.MaxConnections, limits.MaxConnectionsPerIP, metrics)
		srv := New(n, Options{Logger: log, Gatherer: reg, DecodeTxs: cfg.DecodeTxs, Limits: &limits, Metrics: metrics})
		// Block streams set their own per-write deadlines.
		serve("api", apiLn, srv, 30*time.Second)
	}
	if debugLn != nil {
		// CPU profiles and traces run for as long as the client asks
		// (?seconds=N), so no write timeout here.
		serve("debug", debugLn, DebugHandler(), 0)
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
