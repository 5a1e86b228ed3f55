package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/localnet"
	"github.com/floe-bft/floe/workload"
)

// pipelineRatePerCluster is a pipeline testnet's default load per
// cluster, in transactions per second.
const pipelineRatePerCluster = 500

// defaultTestnetDir is where 'floe testnet' puts its nodes (docs/cli.md).
const defaultTestnetDir = "testnet-data"

// testnetFlags holds the testnet command's flags; options turns them into
// localnet.Options.
type testnetFlags struct {
	nodes, followers, txSize, maxPending int
	dir, rate, logLevel, kill, appState  string
	app                                  string
	loadAccounts, keysPerAccount         int
	duration                             time.Duration
	json                                 bool
	epochViews                           uint64
	idleMS, blockMS                      int64
	// A pipeline network: --clusters > 0.
	clusters, clusterSize, executors, access int
}

func newTestnetCmd() *cobra.Command {
	f := &testnetFlags{}
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Run a local multi-process network under transaction load",
		Long: `Start a local network of N node processes on 127.0.0.1, drive it with
key-value transactions through the client API, and report throughput and
latency.

It generates deterministic keys and a genesis file, writes each node's home
directory under --dir (node0, node1, ...; each with config/, data/ and
node.log), starts every node as a separate process of this same binary
('floe start --home DIR/nodeN'), waits until their APIs answer, then submits
--tx-size byte transactions round-robin at --rate tx/s ('max': as fast as
the nodes accept, backing off while mempools are full). Latency is measured
from submission until the transaction appears in a block streamed by node0.

A progress line is printed on stderr every second. The run ends after
--duration (0: at Ctrl-C); Ctrl-C at any time stops the load, then the nodes
(SIGTERM, then a wait), prints the summary and leaves --dir for inspection.
The next run deletes a --dir left by a previous run (and refuses to touch any
other non-empty directory).

With --json exactly one JSON object is printed on stdout at the end:
nodes, duration_s, submitted_tx, finalized_tx, finalized_tx_per_s,
latency_p50_ms, latency_p99_ms, finalized_blocks, timeouts, max_rss_mb and
more (see docs/cli.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.clusters > 0 && !cmd.Flags().Changed("rate") {
				// One cluster collects ~1,000-1,800 tx/s on a 2-core
				// machine shared with every other role (docs/performance.md):
				// the default load keeps each at about half of that.
				f.rate = strconv.Itoa(pipelineRatePerCluster * f.clusters)
			}
			o, err := f.options()
			if err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if o, err = withFloeNodes(o); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// Messages go to stderr in both modes: with --json, stdout
			// carries only the summary object.
			sum, err := localnet.Run(ctx, o, cmd.ErrOrStderr())
			if sum == nil {
				return err
			}
			if f.json {
				if perr := json.NewEncoder(cmd.OutOrStdout()).Encode(sum); perr != nil {
					return perr
				}
			} else {
				sum.WriteText(cmd.OutOrStdout())
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&f.nodes, "nodes", 4, "number of node processes (committee size)")
	fs.StringVar(&f.dir, "dir", defaultTestnetDir, "directory for the nodes' homes, logs and the genesis file")
	fs.DurationVar(&f.duration, "duration", 0, "how long to run the load (0: until Ctrl-C)")
	fs.StringVar(&f.rate, "rate", "1000", "transactions per second to submit, or 'max' (with --clusters the default is 500 per cluster)")
	fs.IntVar(&f.txSize, "tx-size", 250, "size of each transaction in bytes")
	fs.BoolVar(&f.json, "json", false, "print one JSON summary object on stdout")
	fs.StringVar(&f.logLevel, "log-level", "info", "nodes' log level (debug, info, warn, error)")
	fs.IntVar(&f.followers, "followers", 0, "follower processes ('floe follow', never vote), each following a validator's API")
	fs.Uint64Var(&f.epochViews, "epoch-views", 0, "epoch length in views; with it one extra validator is started and every epoch the committee rotates (0: one epoch forever)")
	fs.IntVar(&f.maxPending, "max-pending", 10_000, "with --rate max: most submitted transactions not yet finalized (0: no limit but the mempools)")
	fs.Int64Var(&f.idleMS, "idle-block-interval-ms", genesis.DefaultIdleBlockIntervalMS, "how long a leader with nothing to order waits before proposing (0: no idle pacing)")
	fs.Int64Var(&f.blockMS, "block-interval-ms", genesis.DefaultParams().BlockIntervalMS, "how long a leader waits after entering its view before proposing (batches light load into fewer blocks)")
	fs.StringVar(&f.appState, "app-state", "", "initial application state: a file 'floe export' wrote (docs/upgrades.md)")
	def := localnet.DefaultPipeline()
	fs.IntVar(&f.clusters, "clusters", 0, "collector clusters: > 0 runs a pipeline network (access, collection, consensus and execution nodes as separate processes, load through the access nodes; docs/pipeline.md)")
	fs.IntVar(&f.clusterSize, "cluster-size", def.ClusterSize, "with --clusters: collectors per cluster")
	fs.IntVar(&f.executors, "executors", def.Executors, "with --clusters: execution nodes")
	fs.IntVar(&f.access, "access", def.Access, "with --clusters: access nodes")
	fs.StringVar(&f.app, "app", workload.AppAccounts, "with --clusters: what the network runs: accounts (signed transfers between many accounts; the service account's key is written to DIR/"+workload.ServiceKeyFile+") or kv (unsigned key/value writes, a benchmark application)")
	fs.IntVar(&f.loadAccounts, "accounts", workload.DefaultLoadAccounts, "with --app accounts: genesis accounts the load signs for")
	fs.IntVar(&f.keysPerAccount, "keys-per-account", workload.DefaultKeysPerAccount, "with --app accounts: keys per load account (each key has one transaction in flight)")
	fs.StringVar(&f.kill, "kill", "", "kill a validator mid-run and keep it down, e.g. node3@10s (the load then goes to the others; node0 carries the measurements and cannot be killed)")
	return cmd
}

// options parses the flags that are not plain values (--rate, --kill,
// --log-level); localnet.Options.Validate checks the rest.
func (f *testnetFlags) options() (localnet.Options, error) {
	params := genesis.DefaultParams()
	params.BlockIntervalMS, params.IdleBlockIntervalMS = f.blockMS, f.idleMS
	o := localnet.Options{Dir: f.dir, Nodes: f.nodes, Followers: f.followers, LogLevel: f.logLevel, Params: &params,
		EpochViews: f.epochViews, Duration: f.duration, TxSize: f.txSize, MaxPending: f.maxPending}
	if f.clusters > 0 {
		o.Pipeline = &localnet.Pipeline{Clusters: f.clusters, ClusterSize: f.clusterSize, Executors: f.executors, Access: f.access,
			App: f.app, LoadAccounts: f.loadAccounts, KeysPerAccount: f.keysPerAccount}
	}
	var err error
	if o.Rate, err = localnet.ParseRate(f.rate); err != nil {
		return o, err
	}
	if f.kill != "" {
		if o.Kill, err = localnet.ParseKill(f.kill); err != nil {
			return o, err
		}
	}
	if f.appState != "" {
		if o.AppState, err = kvstore.ReadStateFile(f.appState); err != nil {
			return o, fmt.Errorf("--app-state: %w", err)
		}
	}
	if _, err := config.ParseLevel(f.logLevel); err != nil {
		return o, fmt.Errorf("--log-level: %w", err)
	}
	return o, nil
}

// withFloeNodes makes o's nodes processes of this executable ('go run'
// included: its binary lives until the command exits; under 'go test' it is
// the test binary, which TestMain turns into floe for the children), with
// homes as 'floe init' writes them and none of our floe.toml overrides,
// which would give every node the same addresses.
func withFloeNodes(o localnet.Options) (localnet.Options, error) {
	bin, err := os.Executable()
	if err != nil {
		return o, fmt.Errorf("finding the floe binary: %w", err)
	}
	o.Binary, o.Env, o.Homes = bin, config.WithoutOverrides(os.Environ()), localnet.ConfigHomes{}
	return o, nil
}
