// Package config is a node's home directory and its floe.toml: the layout
// 'floe init' writes and 'floe start' and 'floe follow' read (Init,
// CheckNoClobber), the settings with their defaults and environment
// overrides (Node, Load), what a role derives from them (Logger,
// P2PListen, FollowerUpstreams), the process's GC defaults (TuneGC), and
// the commented file that documents them (WriteDefault).
package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Layout of a node's home directory, as written by `floe init` and read by
// `floe start`.
const (
	// Dir is the subdirectory that holds the files below.
	Dir = "config"
	// DataDir is the database directory unless floe.toml says otherwise.
	DataDir = "data"
	// KeysFile holds the node's secret keys.
	KeysFile = "keys.json"
	// File is floe.toml, the node's settings.
	File = "floe.toml"
	// ValidatorFile is the node's public entry for the genesis file.
	ValidatorFile = "validator.json"
	// GenesisFile is the chain's genesis.
	GenesisFile = "genesis.json"
)

// Environment variables that override floe.toml, for containers and scripts
// that run many nodes from one template.
const (
	EnvAPI      = "FLOE_API"
	EnvP2P      = "FLOE_P2P"
	EnvDebug    = "FLOE_DEBUG"
	EnvLogLevel = "FLOE_LOG_LEVEL"
	EnvDataDir  = "FLOE_DATA_DIR"
	EnvRole     = "FLOE_ROLE"
)

// The roles a node runs (floe.toml's role).
const (
	// RoleConsensus is a committee member: it orders, executes and serves.
	RoleConsensus = "consensus"
	// RoleObserver follows the chain through upstream APIs without voting,
	// executes it and serves the same reads.
	RoleObserver = "observer"
	// RoleCollection is a collector: it follows the main chain, runs its
	// cluster's chain and certifies collections (docs/pipeline.md).
	RoleCollection = "collection"
	// RoleExecution follows the main chain, fetches the collections its
	// guarantees name, executes them and signs the results.
	RoleExecution = "execution"
	// RoleAccess takes users' transactions, routes them to their cluster
	// and tracks them to execution.
	RoleAccess = "access"
)

// DefaultAPIAddr and DefaultP2PAddr are what `floe init` writes when no flag
// says otherwise: loopback, so a fresh node is not exposed by accident.
const (
	DefaultAPIAddr = "127.0.0.1:8080"
	DefaultP2PAddr = "127.0.0.1:26656"
)

// Duration is a time.Duration that TOML reads and writes as "1s", "5ms".
type Duration struct{ time.Duration }

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration as time.ParseDuration does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Node is floe.toml. Zero values mean "the node's default", so an operator
// can delete any line.
type Node struct {
	// Role is what the node does: RoleConsensus (the default) or
	// RoleObserver (see Follower).
	Role string `toml:"role"`
	P2P  struct {
		// Listen is where peers connect; empty means this node's address
		// in the genesis file.
		Listen string `toml:"listen"`
	} `toml:"p2p"`
	API struct {
		Listen string `toml:"listen"`
		// Admission limits (docs/security.md). Absent: the default; 0
		// turns a limit off.
		MaxConnections      *int     `toml:"max_connections"`
		MaxConnectionsPerIP *int     `toml:"max_connections_per_ip"`
		RateLimit           *float64 `toml:"rate_limit"`
		RateBurst           *int     `toml:"rate_burst"`
		MaxExpensiveReads   *int     `toml:"max_expensive_reads"`
		ReadBlockRate       *float64 `toml:"read_block_rate"`
		ReadBlockBurst      *int     `toml:"read_block_burst"`
		ReadMBRate          *float64 `toml:"read_mb_rate"`
		SubmitTxRate        *float64 `toml:"submit_tx_rate"`
		SubmitTxBurst       *int     `toml:"submit_tx_burst"`
		TotalSubmitTxRate   *float64 `toml:"total_submit_tx_rate"`
		RangeCacheMB        *int     `toml:"range_cache_mb"`
		MaxStreams          *int     `toml:"max_streams"`
		MaxStreamsPerIP     *int     `toml:"max_streams_per_ip"`
	} `toml:"api"`
	Debug struct {
		// Listen serves pprof; empty disables it.
		Listen string `toml:"listen"`
	} `toml:"debug"`
	Log struct {
		Level string `toml:"level"`
	} `toml:"log"`
	Storage struct {
		// DataDir is relative to the home directory unless absolute.
		DataDir string `toml:"data_dir"`
	} `toml:"storage"`
	Mempool struct {
		MaxTxs   int `toml:"max_txs"`
		MaxBytes int `toml:"max_bytes"`
	} `toml:"mempool"`
	// Follower configures the observer role ('floe follow', or role =
	// "observer"); consensus nodes ignore it.
	Follower struct {
		// Upstreams are the API base URLs to pull blocks from.
		Upstreams      []string `toml:"upstreams"`
		Workers        int      `toml:"workers"`
		MaxUncertified int      `toml:"max_uncertified"`
	} `toml:"follower"`
	// Access configures the access role (role = "access"); zero values
	// take the role's defaults (docs/pipeline.md, "The access role").
	Access struct {
		// Redundancy is how many members of its cluster each
		// transaction is sent to.
		Redundancy int `toml:"redundancy"`
		// QueueTxs bounds each cluster's forwarding queue; TrackTxs the
		// transactions tracked through their stages.
		QueueTxs int `toml:"queue_txs"`
		TrackTxs int `toml:"track_txs"`
		// RefWait is how long a submission naming a reference block this
		// node does not hold yet waits for it.
		RefWait Duration `toml:"ref_wait"`
	} `toml:"access"`
	// Collection configures the collection role (role = "collection"):
	// this node's bounds, not the cluster's rules (collection limits and
	// expiry are the same for every member, so they are not settings).
	// Zero values take the role's defaults (docs/pipeline.md).
	Collection struct {
		// MaxGuarantees bounds a cluster's formed guarantees not yet taken
		// by the hand-off; while full its leader proposes empty
		// collections.
		MaxGuarantees int `toml:"max_guarantees"`
		// Retain is how many finalized collections are kept to serve by ID.
		Retain int `toml:"retain"`
		// MaxHandoff bounds guarantees taken and not yet included by
		// consensus.
		MaxHandoff int `toml:"max_handoff"`
	} `toml:"collection"`
	// Execution configures the execution role (role = "execution"); zero
	// values take the role's defaults.
	Execution struct {
		// FetchParallel bounds collection requests in flight;
		// PrefetchBlocks is how many finalized blocks ahead have their
		// collections fetched; FetchTimeout bounds one request to one
		// guarantor.
		FetchParallel  int      `toml:"fetch_parallel"`
		PrefetchBlocks int      `toml:"prefetch_blocks"`
		FetchTimeout   Duration `toml:"fetch_timeout"`
		// Workers execute a block's transactions in parallel (0: one per
		// core; 1: sequentially); the results are the same either way.
		Workers int `toml:"workers"`
		// Retain is how many executed heights of state versions and
		// chunk data packs are kept before online pruning.
		Retain int `toml:"retain"`
		// StateCacheMB bounds the state store's caches, in MiB.
		StateCacheMB int `toml:"state_cache_mb"`
	} `toml:"execution"`
	Node struct {
		VerifyWorkers  int      `toml:"verify_workers"`
		VerifyQueue    int      `toml:"verify_queue"`
		StatusInterval Duration `toml:"status_interval"`
		GossipInterval Duration `toml:"gossip_interval"`
	} `toml:"node"`
}

// Load reads floe.toml (a missing file means all defaults), applies
// environment overrides (lookupEnv is os.LookupEnv outside tests; a variable
// set to "" counts, so FLOE_DEBUG= disables a debug address from the file)
// and resolves the data directory against home.
// Unknown keys are errors: a misspelled setting silently ignored is worse
// than a node that refuses to start.
func Load(home string, lookupEnv func(string) (string, bool)) (*Node, error) {
	var c Node
	path := filepath.Join(home, Dir, File)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		dec := toml.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case os.IsNotExist(err):
		c.API.Listen = DefaultAPIAddr
	default:
		return nil, err
	}
	for _, o := range []struct {
		env string
		to  *string
	}{{EnvAPI, &c.API.Listen}, {EnvP2P, &c.P2P.Listen}, {EnvDebug, &c.Debug.Listen}, {EnvLogLevel, &c.Log.Level}, {EnvDataDir, &c.Storage.DataDir}, {EnvRole, &c.Role}} {
		if v, ok := lookupEnv(o.env); ok {
			*o.to = v
		}
	}
	switch c.Role {
	case "":
		c.Role = RoleConsensus
	case RoleConsensus, RoleObserver, RoleCollection, RoleExecution, RoleAccess:
	default:
		return nil, fmt.Errorf("%s: role %q: want one of %q, %q, %q, %q, %q", path, c.Role,
			RoleConsensus, RoleObserver, RoleCollection, RoleExecution, RoleAccess)
	}
	if c.Storage.DataDir == "" {
		c.Storage.DataDir = DataDir
	}
	if !filepath.IsAbs(c.Storage.DataDir) {
		c.Storage.DataDir = filepath.Join(home, c.Storage.DataDir)
	}
	if _, err := ParseLevel(c.Log.Level); err != nil {
		return nil, err
	}
	a, col, ex := c.Access, c.Collection, c.Execution
	if c.Mempool.MaxTxs < 0 || c.Mempool.MaxBytes < 0 || c.Node.VerifyWorkers < 0 || c.Node.VerifyQueue < 0 ||
		c.Node.StatusInterval.Duration < 0 || c.Node.GossipInterval.Duration < 0 ||
		a.Redundancy < 0 || a.QueueTxs < 0 || a.TrackTxs < 0 || a.RefWait.Duration < 0 ||
		col.MaxGuarantees < 0 || col.Retain < 0 || col.MaxHandoff < 0 ||
		ex.FetchParallel < 0 || ex.PrefetchBlocks < 0 || ex.FetchTimeout.Duration < 0 ||
		ex.Workers < 0 || ex.Retain < 0 || ex.StateCacheMB < 0 {
		return nil, fmt.Errorf("%s: negative values are not allowed", path)
	}
	return &c, nil
}

// WithoutOverrides is env (os.Environ's form) minus the variables that
// override floe.toml: child node processes started with it read their own
// files, rather than all getting the parent's addresses.
func WithoutOverrides(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case EnvAPI, EnvP2P, EnvDebug, EnvLogLevel, EnvDataDir:
			continue
		}
		out = append(out, kv)
	}
	return out
}

// ParseLevel maps a level name to slog; empty means info.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}
