package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/genesis"
)

// Testnet defaults (documented in docs/cli.md).
const (
	defaultTestnetDir = "testnet-data"
	testnetKeySpace   = 100_000
	// readyTimeout bounds the wait for every node's API after launch.
	readyTimeout = 60 * time.Second
	// drainTimeout bounds the wait, after the load stops, for transactions
	// still in flight to be finalized, so their latency is measured.
	drainTimeout = 5 * time.Second
	// stopGrace is how long a node gets to exit after SIGTERM.
	stopGrace       = 15 * time.Second
	maxTestnetNodes = 64
)

// testnetOptions holds the testnet command's flags.
type testnetOptions struct {
	nodes    int
	dir      string
	duration time.Duration
	rate     string
	txSize   int
	json     bool
	logLevel string
	// maxPending is the window of unfinalized transactions for --rate max.
	maxPending int
	// epochViews > 0: epochs of that many views with a rotating committee.
	epochViews uint64
	// followers: 'floe follow' processes next to the validators.
	followers int
	// kill is "nodeN@DURATION": SIGKILL that validator that long into the
	// load, and keep it down (killNode, killAt once validated).
	kill     string
	killNode int
	killAt   time.Duration
	// idleMS is the genesis idle block interval (idle_block_interval_ms).
	idleMS int64
	// blockMS is the genesis minimum block interval (block_interval_ms).
	blockMS int64
}

func newTestnetCmd() *cobra.Command {
	o := &testnetOptions{}
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
			rate, err := o.validate()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return o.run(ctx, rate, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.nodes, "nodes", 4, "number of node processes (committee size)")
	f.StringVar(&o.dir, "dir", defaultTestnetDir, "directory for the nodes' homes, logs and the genesis file")
	f.DurationVar(&o.duration, "duration", 0, "how long to run the load (0: until Ctrl-C)")
	f.StringVar(&o.rate, "rate", "1000", "transactions per second to submit, or 'max'")
	f.IntVar(&o.txSize, "tx-size", 250, "size of each transaction in bytes")
	f.BoolVar(&o.json, "json", false, "print one JSON summary object on stdout")
	f.StringVar(&o.logLevel, "log-level", "info", "nodes' log level (debug, info, warn, error)")
	f.IntVar(&o.followers, "followers", 0, "follower processes ('floe follow', never vote), each following a validator's API")
	f.Uint64Var(&o.epochViews, "epoch-views", 0, "epoch length in views; with it one extra validator is started and every epoch the committee rotates (0: one epoch forever)")
	f.IntVar(&o.maxPending, "max-pending", 10_000, "with --rate max: most submitted transactions not yet finalized (0: no limit but the mempools)")
	f.Int64Var(&o.idleMS, "idle-block-interval-ms", genesis.DefaultIdleBlockIntervalMS, "how long a leader with nothing to order waits before proposing (0: no idle pacing)")
	f.Int64Var(&o.blockMS, "block-interval-ms", testnetParams().BlockIntervalMS, "how long a leader waits after entering its view before proposing (batches light load into fewer blocks)")
	f.StringVar(&o.kill, "kill", "", "kill a validator mid-run and keep it down, e.g. node3@10s (the load then goes to the others; node0 carries the measurements and cannot be killed)")
	return cmd
}

// validate checks the flags and returns the rate (0 for max).
func (o *testnetOptions) validate() (int, error) {
	if o.nodes < 1 || o.nodes > maxTestnetNodes {
		return 0, fmt.Errorf("--nodes must be between 1 and %d", maxTestnetNodes)
	}
	if o.dir == "" {
		return 0, fmt.Errorf("--dir must not be empty")
	}
	if o.followers < 0 || o.followers > maxTestnetNodes {
		return 0, fmt.Errorf("--followers must be between 0 and %d", maxTestnetNodes)
	}
	if o.duration < 0 {
		return 0, fmt.Errorf("--duration must not be negative")
	}
	rate := 0
	if o.rate != "max" {
		r, err := strconv.Atoi(o.rate)
		if err != nil || r <= 0 {
			return 0, fmt.Errorf("--rate must be a positive number of transactions per second or 'max', not %q", o.rate)
		}
		if r > 10_000_000 {
			return 0, fmt.Errorf("--rate %d is beyond anything a local testnet can take; use 'max'", r)
		}
		rate = r
	}
	if o.maxPending < 0 {
		return 0, fmt.Errorf("--max-pending must not be negative")
	}
	p := testnetParams()
	if o.blockMS < 0 || o.blockMS >= p.TimeoutMinMS {
		return 0, fmt.Errorf("--block-interval-ms must be in [0, %d)", p.TimeoutMinMS)
	}
	if o.idleMS != 0 && (o.idleMS < o.blockMS || o.idleMS >= p.TimeoutMinMS) {
		return 0, fmt.Errorf("--idle-block-interval-ms must be 0 or in [%d, %d)", o.blockMS, p.TimeoutMinMS)
	}
	if o.kill != "" {
		name, at, ok := strings.Cut(o.kill, "@")
		n, err := strconv.Atoi(strings.TrimPrefix(name, "node"))
		d, derr := time.ParseDuration(at)
		switch {
		case !ok || !strings.HasPrefix(name, "node") || err != nil || derr != nil:
			return 0, fmt.Errorf("--kill wants nodeN@DURATION (e.g. node3@10s), not %q", o.kill)
		case n < 1 || n >= o.nodes:
			return 0, fmt.Errorf("--kill: node%d is not a validator other than node0 (node1..node%d)", n, o.nodes-1)
		case d <= 0 || (o.duration > 0 && d >= o.duration):
			return 0, fmt.Errorf("--kill: %v must be positive and before the end of the run", d)
		}
		o.killNode, o.killAt = n, d
	}
	if _, err := newTxShape(o.txSize, testnetKeySpace); err != nil {
		return 0, err
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return 0, fmt.Errorf("--log-level: %w", err)
	}
	return rate, nil
}

// testnetSummary is the --json output.
type testnetSummary struct {
	Nodes           int     `json:"nodes"`
	DurationS       float64 `json:"duration_s"`
	Rate            string  `json:"rate"`
	TxSize          int     `json:"tx_size"`
	SubmittedTx     int64   `json:"submitted_tx"`
	RejectedTx      int64   `json:"rejected_tx"`
	FailedTx        int64   `json:"failed_tx"`
	SkippedTx       int64   `json:"skipped_tx"`
	FinalizedTx     int64   `json:"finalized_tx"` // distinct submitted transactions seen finalized
	FinalizedTxPerS float64 `json:"finalized_tx_per_s"`
	BlockTx         int64   `json:"block_tx"` // transactions in finalized blocks, duplicates included
	UnfinalizedTx   int     `json:"unfinalized_tx"`
	LatencyP50MS    float64 `json:"latency_p50_ms"`
	LatencyP99MS    float64 `json:"latency_p99_ms"`
	LatencyMeanMS   float64 `json:"latency_mean_ms"`
	LatencyMaxMS    float64 `json:"latency_max_ms"`
	FinalizedBlocks int64   `json:"finalized_blocks"`
	MissedBlocks    int64   `json:"missed_blocks"` // blocks the tracker could not read; their transactions count as unfinalized
	FinalHeight     uint64  `json:"final_height"`
	View            uint64  `json:"view"`
	Timeouts        float64 `json:"timeouts"`
	MaxRSSMB        float64 `json:"max_rss_mb"`
	Dir             string  `json:"dir"`
	Interrupted     bool    `json:"interrupted"`
	LastSubmitError string  `json:"last_submit_error,omitempty"`
	Error           string  `json:"error,omitempty"`
	// With --epoch-views: the epoch the network reached, the newest
	// committed one, and the last governance error if any.
	EpochViews          uint64 `json:"epoch_views,omitempty"`
	Epoch               uint64 `json:"epoch"`
	EpochsCommitted     uint64 `json:"epochs_committed"`
	LastGovernanceError string `json:"last_governance_error,omitempty"`
	// With --followers: how many, the largest gap between node0's finalized
	// height and a follower's at the end, and whether every follower's
	// newest finalized block is the block node0 has at that height.
	// Finalized transactions per second of the run, the longest run of
	// seconds with none (after the first two), and with --kill the node,
	// when, and the throughput from the kill to the end of the load.
	FinalizedPerSecond     []int64 `json:"finalized_per_second"`
	LongestStallS          int     `json:"longest_stall_s"`
	Killed                 string  `json:"killed,omitempty"`
	KilledAtS              float64 `json:"killed_at_s,omitempty"`
	FinalizedPerSAfterKill float64 `json:"finalized_tx_per_s_after_kill,omitempty"`
	Followers              int     `json:"followers,omitempty"`
	FollowerLagBlocks      uint64  `json:"follower_lag_blocks,omitempty"`
	FollowersAgree         *bool   `json:"followers_agree,omitempty"`
}

// run sets the network up, runs the load and reports. Whatever happens
// after the nodes are launched, they are stopped before run returns.
func (o *testnetOptions) run(ctx context.Context, rate int, stdout, stderr io.Writer) (err error) {
	// Nodes run this same executable ('go run' included: its binary lives
	// until the command exits; under 'go test' it is the test binary, which
	// TestMain turns into floe for the children).
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the floe binary: %w", err)
	}
	shape, _ := newTxShape(o.txSize, testnetKeySpace) // validated
	ts, err := setupTestnetEpochs(o.dir, o.nodes, o.logLevel, o.epochViews, o.idleMS, o.blockMS)
	if err != nil {
		return err
	}
	if err := addTestnetFollowers(o.dir, ts, o.nodes, o.followers, o.logLevel); err != nil {
		return err
	}
	nodes := ts.nodes
	// One transport for all API traffic, with enough idle connections per
	// node that batches in flight do not reopen sockets.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 32, IdleConnTimeout: time.Minute,
	}}
	// Load goes to the genesis validators. A validator outside the
	// committee (the spare of --epoch-views) cannot reach the others until
	// an epoch includes it, so it would hold its clients' transactions.
	clients := make([]*client, o.nodes)
	for i, tn := range nodes {
		tn.client = newClient(tn.apiAddr, hc)
		if i < o.nodes {
			clients[i] = tn.client
		}
	}
	// Messages go to stderr in both modes: with --json, stdout carries
	// only the summary object.
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	// Reported absolute, so it can be found from any directory.
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		dir = o.dir
	}
	logf("testnet: %d nodes in %s (logs: %s)", o.nodes, dir, filepath.Join(dir, "nodeN", "node.log"))

	sum := testnetSummary{Nodes: o.nodes, Rate: o.rate, TxSize: o.txSize, Dir: dir}
	var stopOnce sync.Once
	stopNodes := func() error {
		var errs []error
		stopOnce.Do(func() {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for _, tn := range nodes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := tn.stop(stopGrace); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			for _, tn := range nodes {
				sum.MaxRSSMB = max(sum.MaxRSSMB, math.Round(float64(tn.maxRSSKB.Load())/1024*10)/10)
			}
		})
		return errors.Join(errs...)
	}
	defer func() {
		if serr := stopNodes(); serr != nil && err == nil {
			err = serr
		}
	}()

	for _, tn := range nodes {
		if err := tn.start(bin); err != nil {
			return err
		}
	}
	// A node exiting on its own ends the run.
	nodeExit := make(chan *testnetNode, len(nodes))
	for _, tn := range nodes {
		go func() {
			<-tn.exited
			if !tn.stopping.Load() && !tn.killed.Load() {
				nodeExit <- tn
			}
		}()
	}
	if err := waitReady(ctx, nodes, readyTimeout); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while the nodes were starting")
		}
		return err
	}
	logf("testnet: all %d APIs up; node0 API at http://%s, pprof at http://%s/debug/pprof/",
		o.nodes, nodes[0].apiAddr, nodes[0].dbgAddr)

	pending := newPendingTxs()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	tr := newTracker(clients[0], pending)
	connected := make(chan struct{})
	trDone := make(chan struct{})
	go func() {
		defer close(trDone)
		tr.run(runCtx, connected)
	}()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("could not subscribe to node0's block stream")
	case <-ctx.Done():
		return fmt.Errorf("interrupted while the nodes were starting")
	}

	var driver *epochDriver
	if o.epochViews > 0 {
		if driver, err = newEpochDriver(nodes[:len(nodes)-ts.followers], ts.vals, ts.genesis); err != nil {
			return err
		}
		go driver.run(runCtx)
		logf("testnet: epochs of %d views; node%d starts outside the committee and the committee rotates every epoch",
			o.epochViews, o.nodes)
	}
	gen := newLoadGen(clients, shape, rate, o.maxPending, pending)
	loadCtx, stopLoad := context.WithCancel(runCtx)
	defer stopLoad()
	start := time.Now()
	tr.startCounting()
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		gen.run(loadCtx)
	}()
	rateDesc := o.rate + " tx/s"
	if rate == 0 {
		rateDesc = "max rate"
	}
	until := ", until Ctrl-C"
	if o.duration > 0 {
		until = ", for " + o.duration.String()
	}
	logf("testnet: load started: %s, %d-byte transactions, %d keys%s", rateDesc, o.txSize, testnetKeySpace, until)

	prog := &progress{out: stderr, tty: isTerminal(stderr), nodes: nodes, tr: tr, gen: gen, pending: pending, start: start}
	var deadline, killAt <-chan time.Time
	if o.duration > 0 {
		deadline = time.After(o.duration)
	}
	if o.kill != "" {
		killAt = time.After(o.killAt)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var failure error
loop:
	for {
		select {
		case <-tick.C:
			prog.line(runCtx)
		case <-deadline:
			break loop
		case <-killAt:
			victim := nodes[o.killNode]
			gen.down(o.killNode)
			if err := victim.kill(); err != nil {
				failure = err
				break loop
			}
			sum.Killed, sum.KilledAtS = victim.name, round2(time.Since(start).Seconds())
			logf("testnet: killed %s (SIGKILL) at %s; it stays down", victim.name, time.Since(start).Round(time.Millisecond))
		case <-ctx.Done():
			sum.Interrupted = true
			break loop
		case tn := <-nodeExit:
			failure = tn.exitError()
			break loop
		}
	}
	stopLoad()
	<-loadDone
	loadElapsed := time.Since(start)
	prog.clear()
	if failure == nil && !sum.Interrupted {
		// Give transactions in flight a moment, so the latency of the
		// last ones is measured instead of reported as unfinalized.
		drainEnd := time.Now().Add(drainTimeout)
		for pending.len() > 0 && time.Now().Before(drainEnd) && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	elapsed := time.Since(start)

	// Final readings while the nodes still run.
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer fcancel()
	if st, err := clients[0].status(fctx); err == nil {
		sum.View = uint64(st.View)
		sum.FinalHeight = st.FinalizedHeight
	}
	sum.Timeouts = sumTimeouts(fctx, nodes)
	if ts.followers > 0 {
		sum.Followers = ts.followers
		lag, agree := checkFollowers(fctx, nodes[0], nodes[len(nodes)-ts.followers:])
		sum.FollowerLagBlocks, sum.FollowersAgree = lag, &agree
	}
	cancelRun()
	<-trDone
	snap := tr.snapshot()
	stopErr := stopNodes()

	sum.DurationS = round2(elapsed.Seconds())
	sum.SubmittedTx = gen.submitted.Load()
	sum.RejectedTx = gen.rejected.Load()
	sum.FailedTx = gen.failed.Load()
	sum.SkippedTx = gen.skipped.Load()
	// Throughput counts each submitted transaction once, when first seen
	// in a block: a transaction a buggy node includes twice is not twice
	// the work done for clients.
	sum.FinalizedTx = snap.matched
	sum.BlockTx = snap.blockTx
	sum.FinalizedTxPerS = round2(float64(snap.matched) / elapsed.Seconds())
	sum.UnfinalizedTx = pending.len()
	sum.LatencyP50MS = round2(snap.p50)
	sum.LatencyP99MS = round2(snap.p99)
	sum.LatencyMeanMS = round2(snap.meanMS)
	sum.LatencyMaxMS = round2(snap.maxMS)
	sum.FinalizedBlocks = snap.blocks
	sum.FinalizedPerSecond = snap.perSecond
	loadSeconds := int(min(elapsed, loadElapsed) / time.Second)
	sum.LongestStallS = longestStall(snap.perSecond, 2, loadSeconds)
	if sum.Killed != "" {
		var after int64
		from := int(sum.KilledAtS)
		for i := from; i < loadSeconds && i < len(snap.perSecond); i++ {
			after += snap.perSecond[i]
		}
		if loadSeconds > from {
			sum.FinalizedPerSAfterKill = round2(float64(after) / float64(loadSeconds-from))
		}
	}
	sum.MissedBlocks = snap.gaps
	if e, ok := gen.lastErr.Load().(string); ok {
		sum.LastSubmitError = e
	}
	if driver != nil {
		sum.EpochViews = o.epochViews
		sum.Epoch = driver.started.Load()
		sum.EpochsCommitted = driver.committed.Load()
		if e, ok := driver.lastErr.Load().(string); ok {
			sum.LastGovernanceError = e
		}
	}
	failure = errors.Join(failure, stopErr)
	if failure != nil {
		sum.Error = failure.Error()
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		printSummary(stdout, &sum)
	}
	return failure
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// checkFollowers compares each follower's newest finalized block with the
// block node0 finalized at that height.
func checkFollowers(ctx context.Context, ref *testnetNode, followers []*testnetNode) (lag uint64, agree bool) {
	refSt, err := ref.client.status(ctx)
	if err != nil {
		return 0, false
	}
	agree = true
	for _, f := range followers {
		st, err := f.client.status(ctx)
		if err != nil {
			return lag, false
		}
		if st.FinalizedHeight < refSt.FinalizedHeight {
			lag = max(lag, refSt.FinalizedHeight-st.FinalizedHeight)
		}
		b, err := ref.client.block(ctx, st.FinalizedHeight, "")
		if err != nil || b.ID != st.FinalizedID {
			agree = false
		}
	}
	return lag, agree
}

// sumTimeouts adds up floe_timeouts_total over the nodes (0 for a node that
// does not export it or cannot be reached).
func sumTimeouts(ctx context.Context, nodes []*testnetNode) float64 {
	var total float64
	for _, tn := range nodes {
		if !tn.running() {
			continue
		}
		if v, ok, err := tn.client.metric(ctx, "floe_timeouts_total"); err == nil && ok {
			total += v
		}
	}
	return total
}

func printSummary(w io.Writer, s *testnetSummary) {
	note := ""
	if s.Interrupted {
		note = " (interrupted)"
	}
	fmt.Fprintf(w, "\ntestnet summary: %d nodes, %.1fs, rate %s, %d-byte transactions%s\n",
		s.Nodes, s.DurationS, s.Rate, s.TxSize, note)
	fmt.Fprintf(w, "  submitted     %d tx accepted by mempools", s.SubmittedTx)
	if s.RejectedTx+s.FailedTx+s.SkippedTx > 0 {
		fmt.Fprintf(w, " (%d rejected, %d lost to request errors, %d not sent: rate not kept up)",
			s.RejectedTx, s.FailedTx, s.SkippedTx)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  finalized     %d tx in %d blocks: %.1f tx/s (%d not finalized at the end)\n",
		s.FinalizedTx, s.FinalizedBlocks, s.FinalizedTxPerS, s.UnfinalizedTx)
	fmt.Fprintf(w, "  latency       p50 %.1f ms, p99 %.1f ms, mean %.1f ms, max %.1f ms (submit to finalized, %d tx)\n",
		s.LatencyP50MS, s.LatencyP99MS, s.LatencyMeanMS, s.LatencyMaxMS, s.FinalizedTx)
	if s.BlockTx > s.FinalizedTx {
		fmt.Fprintf(w, "  WARNING       blocks held %d transactions, %d more than distinct ones finalized (included twice?)\n",
			s.BlockTx, s.BlockTx-s.FinalizedTx)
	}
	fmt.Fprintf(w, "  stalls        longest run of seconds with nothing finalized: %d s\n", s.LongestStallS)
	if s.Killed != "" {
		fmt.Fprintf(w, "  kill          %s killed at %.1f s; %.0f tx/s finalized from then on\n", s.Killed, s.KilledAtS, s.FinalizedPerSAfterKill)
	}
	fmt.Fprintf(w, "  chain         height %d, view %d, %.0f view timeouts signed\n", s.FinalHeight, s.View, s.Timeouts)
	fmt.Fprintf(w, "  max RSS       %.1f MB (largest node)\n", s.MaxRSSMB)
	fmt.Fprintf(w, "  directory     %s (logs in nodeN/node.log)\n", s.Dir)
	if s.LastSubmitError != "" {
		fmt.Fprintf(w, "  last submit error: %s\n", s.LastSubmitError)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "  ERROR: %s\n", s.Error)
	}
}

// progress prints the live line.
type progress struct {
	out     io.Writer
	tty     bool
	nodes   []*testnetNode
	tr      *tracker
	gen     *loadGen
	pending *pendingTxs
	start   time.Time
	lastTx  int64
	lastAt  time.Time
	printed bool
}

func (p *progress) line(ctx context.Context) {
	for _, tn := range p.nodes {
		tn.sampleRSS()
	}
	rctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
	defer cancel()
	view, height := "?", "?"
	if st, err := p.nodes[0].client.status(rctx); err == nil {
		view, height = strconv.FormatUint(uint64(st.View), 10), strconv.FormatUint(st.FinalizedHeight, 10)
	}
	timeouts := sumTimeouts(rctx, p.nodes)
	snap := p.tr.snapshot()
	now := time.Now()
	since := p.lastAt
	if since.IsZero() {
		since = p.start
	}
	tps := float64(snap.matched-p.lastTx) / now.Sub(since).Seconds()
	p.lastTx, p.lastAt = snap.matched, now
	s := fmt.Sprintf("[%4.0fs] view %s  height %s  %7.0f tx/s finalized  p50 %6.1f ms  p99 %6.1f ms  timeouts %.0f  submitted %d  pending %d",
		now.Sub(p.start).Seconds(), view, height, tps, snap.winP50, snap.winP99, timeouts,
		p.gen.submitted.Load(), p.pending.len())
	if p.tty {
		// Rewrite one line in place on a terminal.
		fmt.Fprintf(p.out, "\r\033[K%s", s)
		p.printed = true
	} else {
		fmt.Fprintln(p.out, s)
	}
}

// clear ends the in-place progress line before other output.
func (p *progress) clear() {
	if p.tty && p.printed {
		fmt.Fprintln(p.out)
	}
}

// isTerminal reports whether w is a character device (a terminal), where
// the progress line can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}

// longestStall is the longest run of seconds in perSecond[from:to] in
// which nothing was finalized.
func longestStall(perSecond []int64, from, to int) int {
	longest, run := 0, 0
	for i := from; i < to; i++ {
		if i < len(perSecond) && perSecond[i] > 0 {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return longest
}
