package config

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/floe-bft/floe/genesis"
)

// Garbage collector defaults, unless GOGC / GOMEMLIMIT say otherwise. A
// loaded node allocates mostly short-lived buffers (frames, payloads,
// batches): collecting at 200% heap growth instead of 100% saved ~2% CPU
// at full load. The soft memory limit makes the collector work harder only
// as the heap approaches it, which keeps a loaded node within a small
// machine's budget (Pebble's block cache and memtables live outside the Go
// heap and come on top).
const (
	DefaultGCPercent   = 200
	DefaultMemoryLimit = 320 << 20
)

// TuneGC applies DefaultGCPercent and DefaultMemoryLimit to this process,
// each unless the environment lookupEnv reads sets the Go runtime's own
// variable (GOGC, GOMEMLIMIT), which then wins as it always does.
func TuneGC(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(DefaultGCPercent)
	}
	if _, set := lookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(DefaultMemoryLimit)
	}
}

// Logger is a text logger to w at the configured level (Load has checked
// it, so it parses).
func (c *Node) Logger(w io.Writer) *slog.Logger {
	level, _ := ParseLevel(c.Log.Level)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// P2PListen is the address a consensus node in home accepts peers on:
// p2p.listen if set, else the address of the node's own validator.json. A
// validator that joins in a later epoch is not in genesis, so it listens on
// the address it registered. Without a readable validator.json the result
// is empty and the node falls back to its genesis entry, as it would
// without this file; that is why a missing or unreadable file is no error.
func (c *Node) P2PListen(home string) string {
	if c.P2P.Listen != "" {
		return c.P2P.Listen
	}
	b, err := os.ReadFile(filepath.Join(home, Dir, ValidatorFile))
	if err != nil {
		return ""
	}
	var v genesis.Validator
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	return v.Address
}

// ErrNoUpstream is FollowerUpstreams' error when neither the command line
// nor floe.toml names an upstream.
var ErrNoUpstream = errors.New("no upstream: pass --upstream URL or list [follower] upstreams in floe.toml")

// ErrNegativeFollower is FollowerUpstreams' error for a negative
// follower.workers or follower.max_uncertified.
var ErrNegativeFollower = errors.New("follower.workers and follower.max_uncertified must not be negative")

// FollowerUpstreams checks the [follower] section for the observer role and
// returns the upstreams it follows: those given on the command line
// (flags), which replace the configured ones, else follower.upstreams.
// Only an observer needs these settings, so Load leaves them unchecked.
func (c *Node) FollowerUpstreams(flags []string) ([]string, error) {
	ups := flags
	if len(ups) == 0 {
		ups = c.Follower.Upstreams
	}
	if len(ups) == 0 {
		return nil, ErrNoUpstream
	}
	if c.Follower.Workers < 0 || c.Follower.MaxUncertified < 0 {
		return nil, ErrNegativeFollower
	}
	return ups, nil
}
