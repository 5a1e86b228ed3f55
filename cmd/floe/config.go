package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Layout of a node's home directory, as written by `floe init` and read by
// `floe start`.
const (
	configDir     = "config"
	dataDir       = "data"
	keysFile      = "keys.json"
	configFile    = "floe.toml"
	validatorFile = "validator.json"
	genesisFile   = "genesis.json"
)

// Environment variables that override floe.toml, for containers and scripts
// that run many nodes from one template.
const (
	envAPI      = "FLOE_API"
	envP2P      = "FLOE_P2P"
	envDebug    = "FLOE_DEBUG"
	envLogLevel = "FLOE_LOG_LEVEL"
	envDataDir  = "FLOE_DATA_DIR"
	envRole     = "FLOE_ROLE"
)

// The roles 'floe start' runs (floe.toml's role).
const (
	roleConsensus = "consensus"
	roleObserver  = "observer"
)

// duration is a time.Duration that TOML reads and writes as "1s", "5ms".
type duration struct{ time.Duration }

func (d duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// nodeConfig is floe.toml. Zero values mean "the node's default", so an
// operator can delete any line.
type nodeConfig struct {
	// Role is what the node does: "consensus" (the default: a committee
	// member that orders, executes and serves) or "observer" (follows the
	// chain through upstream APIs without voting; see [follower]).
	Role string `toml:"role"`
	P2P  struct {
		// Listen is where peers connect; empty means this node's address
		// in the genesis file.
		Listen string `toml:"listen"`
	} `toml:"p2p"`
	API struct {
		Listen string `toml:"listen"`
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
	Node struct {
		VerifyWorkers  int      `toml:"verify_workers"`
		VerifyQueue    int      `toml:"verify_queue"`
		StatusInterval duration `toml:"status_interval"`
		GossipInterval duration `toml:"gossip_interval"`
	} `toml:"node"`
}

// defaultAPIAddr and defaultP2PAddr are what `floe init` writes when no flag
// says otherwise: loopback, so a fresh node is not exposed by accident.
const (
	defaultAPIAddr = "127.0.0.1:8080"
	defaultP2PAddr = "127.0.0.1:26656"
)

// configTemplate is floe.toml as `floe init` writes it: every setting
// present, with its default and a comment, so the file documents itself.
var configTemplate = template.Must(template.New("floe.toml").Parse(`# floe node configuration, written by 'floe init'.
# Every setting can be deleted to get its default. Environment variables
# override some of them: FLOE_API, FLOE_P2P, FLOE_DEBUG, FLOE_LOG_LEVEL,
# FLOE_DATA_DIR, FLOE_ROLE.

# What this node does: "consensus" (a committee member: orders, executes
# and serves) or "observer" (follows the chain from the [follower]
# upstreams' APIs without voting, executes it and serves the same reads).
role = "consensus"

[p2p]
# Address to accept peer connections on (host:port). Empty: this node's
# "address" in genesis.json. Peers always dial the genesis address, so set
# this only to listen on a different interface (e.g. 0.0.0.0:26656).
listen = "{{.P2P}}"

[api]
# Client API (HTTP/JSON, /v1/...) and Prometheus metrics (/metrics).
# Empty disables the API.
listen = "{{.API}}"

[debug]
# pprof (/debug/pprof/) on its own address; empty disables it. Keep it on
# loopback: profiles reveal internals and cost CPU.
listen = "{{.Debug}}"

[log]
# debug, info, warn or error. Logs go to stderr.
level = "{{.Level}}"

[storage]
# Pebble database directory; relative paths are relative to the home
# directory.
data_dir = "data"

[mempool]
# Transactions and bytes held waiting for a block. When full, submissions
# get HTTP 503 with code "full" until blocks drain it.
max_txs = 200000
max_bytes = 268435456 # 256 MiB

[node]
# Signature verification goroutines (0: the node's default).
verify_workers = 0
# Messages waiting for verification; beyond it they are dropped and counted.
verify_queue = 8192
# How often the node tells peers its finalized height (drives block sync).
status_interval = "1s"
# How long transaction gossip is batched before sending to peers.
gossip_interval = "5ms"
`))

// writeDefaultConfig writes a commented floe.toml with the given addresses
// and log level and defaults for everything else.
func writeDefaultConfig(path, p2p, api, debug, level string) error {
	if level == "" {
		level = "info"
	}
	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, map[string]string{"P2P": p2p, "API": api, "Debug": debug, "Level": level}); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// loadConfig reads floe.toml (a missing file means all defaults), applies
// environment overrides (lookupEnv is os.LookupEnv outside tests; a variable
// set to "" counts, so FLOE_DEBUG= disables a debug address from the file)
// and resolves the data directory against home.
// Unknown keys are errors: a misspelled setting silently ignored is worse
// than a node that refuses to start.
func loadConfig(home string, lookupEnv func(string) (string, bool)) (*nodeConfig, error) {
	var c nodeConfig
	path := filepath.Join(home, configDir, configFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		dec := toml.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case os.IsNotExist(err):
		c.API.Listen = defaultAPIAddr
	default:
		return nil, err
	}
	if v, ok := lookupEnv(envAPI); ok {
		c.API.Listen = v
	}
	if v, ok := lookupEnv(envP2P); ok {
		c.P2P.Listen = v
	}
	if v, ok := lookupEnv(envDebug); ok {
		c.Debug.Listen = v
	}
	if v, ok := lookupEnv(envLogLevel); ok {
		c.Log.Level = v
	}
	if v, ok := lookupEnv(envDataDir); ok {
		c.Storage.DataDir = v
	}
	if v, ok := lookupEnv(envRole); ok {
		c.Role = v
	}
	switch c.Role {
	case "":
		c.Role = roleConsensus
	case roleConsensus, roleObserver:
	default:
		return nil, fmt.Errorf("%s: role %q: want %q or %q", path, c.Role, roleConsensus, roleObserver)
	}
	if c.Storage.DataDir == "" {
		c.Storage.DataDir = dataDir
	}
	if !filepath.IsAbs(c.Storage.DataDir) {
		c.Storage.DataDir = filepath.Join(home, c.Storage.DataDir)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		return nil, err
	}
	if c.Mempool.MaxTxs < 0 || c.Mempool.MaxBytes < 0 || c.Node.VerifyWorkers < 0 || c.Node.VerifyQueue < 0 ||
		c.Node.StatusInterval.Duration < 0 || c.Node.GossipInterval.Duration < 0 {
		return nil, fmt.Errorf("%s: negative values are not allowed", path)
	}
	return &c, nil
}

// parseLevel maps a level name to slog; empty means info.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}
