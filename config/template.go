package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// configTemplate is floe.toml as `floe init` writes it: every setting
// present, with its default and a comment, so the file documents itself.
var configTemplate = template.Must(template.New("floe.toml").Parse(`# floe node configuration, written by 'floe init'.
# Every setting can be deleted to get its default. Environment variables
# override some of them: FLOE_API, FLOE_P2P, FLOE_DEBUG, FLOE_LOG_LEVEL,
# FLOE_DATA_DIR, FLOE_ROLE.

# What this node does: "consensus" (a committee member: orders and
# serves; in a network without collector clusters it also executes),
# "observer" (follows the chain from the [follower] upstreams' APIs without
# voting, executes it and serves the same reads), or one of the pipeline's
# roles, which must match this node's genesis entry: "collection" (runs its
# cluster's chain and certifies collections), "execution" (executes the
# collections the main chain orders) or "access" (takes transactions and
# tracks them); see docs/pipeline.md.
role = "{{.Role}}"

[p2p]
# Address to accept peer connections on (host:port). Empty: this node's
# "address" in genesis.json. Peers always dial the genesis address, so set
# this only to listen on a different interface (e.g. 0.0.0.0:26656).
listen = "{{.P2P}}"

[api]
# Client API (HTTP/JSON, /v1/...) and Prometheus metrics (/metrics).
# Empty disables the API.
listen = "{{.API}}"
# Admission limits against hostile or runaway clients (docs/security.md).
# Commented out: the default shown. 0 turns a limit off.
# max_connections = 1024        # open API connections (also capped by the open-files limit less 768)
# max_connections_per_ip = 64   # open connections of one client address
# rate_limit = 100              # requests per second per client address
# rate_burst = 200
# max_expensive_reads = 2       # ranges, chain, proofs, blocks with transactions served at once
# read_block_rate = 2048        # blocks per second one client may read through those
# read_block_burst = 4096
# read_mb_rate = 32             # MiB of ranges and chain answers per second, all clients together
# submit_tx_rate = 5000         # transactions per second per client address
# submit_tx_burst = 10000
# total_submit_tx_rate = 20000  # transactions per second, all clients together
# range_cache_mb = 64           # cache of immutable range answers
# max_streams = 64              # block streams and live sync subscriptions
# max_streams_per_ip = 4

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

[access]
# The access role (role = "access"); 0 or "0s": the role's default.
# Members of its cluster each transaction is sent to (default 2).
redundancy = 0
# Transactions waiting to be forwarded, per cluster (default 50000; beyond
# it submissions get "busy, retry"), and tracked through their stages
# (default 1000000).
queue_txs = 0
track_txs = 0
# How long a submission naming a reference block this node does not hold
# yet waits for it before it is refused (default 2s).
ref_wait = "0s"

[collection]
# The collection role (role = "collection"); 0: the role's default.
# Formed guarantees not yet handed off, per cluster (default 1024; while
# full the leader proposes empty collections), and guarantees handed to
# consensus not yet included (default 1024).
max_guarantees = 0
max_handoff = 0
# Finalized collections kept to serve by ID (default 4096).
retain = 0

[execution]
# The execution role (role = "execution"); 0 or "0s": the role's default.
# Collection requests in flight (default 8), finalized blocks whose
# collections are fetched ahead (default 4), and the bound on one request
# to one guarantor (default 5s).
fetch_parallel = 0
prefetch_blocks = 0
fetch_timeout = "0s"
# Goroutines executing a block's transactions (0: one per core; 1: the
# plain sequential loop). Parallel execution gives the same results.
workers = 0
# Executed heights of state versions and chunk data packs kept before
# online pruning (0: 1000).
retain = 0
# State store caches in MiB (0: 128).
state_cache_mb = 0

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

// WriteDefault writes a commented floe.toml with the given addresses
// and log level and defaults for everything else.
func WriteDefault(path, p2p, api, debug, level string) error {
	return writeConfig(path, RoleConsensus, p2p, api, debug, level)
}

// writeConfig is WriteDefault for a node of the given role.
func writeConfig(path, role, p2p, api, debug, level string) error {
	if level == "" {
		level = "info"
	}
	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, map[string]string{"Role": role, "P2P": p2p, "API": api, "Debug": debug, "Level": level}); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// SetStreamsPerIP rewrites the floe.toml under home, written from the
// default template, so that one client address may hold n streams (block
// streams and live sync subscriptions) instead of the default 4. A
// pipeline testnet on loopback needs it: every process connects from
// 127.0.0.1, and each collector, executor and access node follows every
// consensus node's live stream. Every other limit keeps its default.
func SetStreamsPerIP(home string, n int) error {
	path := filepath.Join(home, Dir, File)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	const from = "# max_streams_per_ip = 4"
	if !bytes.Contains(b, []byte(from)) {
		return fmt.Errorf("%s: not the default template (no %q)", path, from)
	}
	to := fmt.Sprintf("max_streams_per_ip = %d  # the network's own nodes share one loopback address", n)
	return os.WriteFile(path, bytes.Replace(b, []byte(from), []byte(to), 1), 0o644)
}
