// Package localnet runs a local multi-process floe network under load and
// measures it: the logic behind 'floe testnet' (docs/cli.md). Setup writes
// node homes with deterministic keys and a genesis, Run starts every node
// as a process of the floe binary, drives key-value transactions through
// the nodes' APIs (package client), follows node0's finalized block
// stream to measure latency, optionally kills a validator or rotates the
// committee every epoch (EpochDriver), and returns a Summary.
package localnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/genesis"
)

// Defaults and limits (documented in docs/cli.md).
const (
	// KeySpace is how many distinct keys the load writes.
	KeySpace = 100_000
	// MaxNodes bounds the validators and, separately, the followers.
	MaxNodes = 64
	// readyTimeout bounds the wait for every node's API after launch.
	readyTimeout = 60 * time.Second
	// drainTimeout bounds the wait, after the load stops, for transactions
	// still in flight to be finalized, so their latency is measured.
	drainTimeout = 5 * time.Second
	// StopGrace is how long a node gets to exit after SIGTERM.
	StopGrace = 15 * time.Second
	// maxRate is beyond anything a local testnet can take.
	maxRate = 10_000_000
)

// Options configures a testnet. Validation error messages name the
// 'floe testnet' flag of each field.
type Options struct {
	// Binary is the floe executable the nodes run ('floe start', 'floe
	// follow').
	Binary string
	// Env is the node processes' environment (nil: this process's). It
	// should not set the variables that override floe.toml.
	Env []string
	// Homes writes the node home directories.
	Homes HomeWriter
	// HTTPClient carries all API traffic (nil: Run uses a pooled client
	// with a 30 s timeout; Setup the client package's default).
	HTTPClient *http.Client

	Dir       string // homes, logs and genesis (see PrepareDir)
	Nodes     int    // validators in the genesis committee, 1..MaxNodes
	Followers int    // 'floe follow' processes, follower i following validator i mod Nodes
	LogLevel  string // the nodes' log level
	// Params are the genesis consensus parameters, block intervals
	// included (nil: genesis.DefaultParams()).
	Params *genesis.Params
	// EpochViews > 0: epochs of that many views; one more validator than
	// Nodes starts outside the genesis committee and the committee
	// rotates every epoch (EpochDriver).
	EpochViews uint64
	// AppState is the initial application state the genesis carries (nil:
	// empty), e.g. a file 'floe export' wrote (docs/upgrades.md).
	AppState *kvstore.StateFile

	Duration time.Duration // load duration; 0: until ctx ends
	Rate     int           // transactions per second; 0: as fast as the nodes accept
	TxSize   int           // bytes per transaction
	// MaxPending bounds submitted, unfinalized transactions when Rate is
	// 0 (0: only the mempools bound them).
	MaxPending int
	// Kill, if set, SIGKILLs a validator during the load.
	Kill *Kill
	// Pipeline, if set, makes the network a pipeline network: collector
	// clusters, execution and access nodes beside the validators, with
	// the load through the access nodes (RunPipeline).
	Pipeline *Pipeline
	// Control, if set, runs in its own goroutine once the load has
	// started, with a Harness on the running network; the run ends when
	// it returns (or after Duration, if that comes first), and an error
	// it returns ends the run as a failure. Benchmarks use it to measure
	// windows of the load and act on the nodes meanwhile.
	Control func(ctx context.Context, h *Harness) error
}

// Kill says which validator to SIGKILL (not node0, which carries the
// measurements) how long into the load; it stays down.
type Kill struct {
	Node int
	At   time.Duration
}

// params is o.Params or the defaults.
func (o *Options) params() genesis.Params {
	if o.Params != nil {
		return *o.Params
	}
	return genesis.DefaultParams()
}

// Validate checks the options Run needs (not Binary, Homes or Env).
func (o *Options) Validate() error {
	p := o.params()
	switch {
	case o.Nodes < 1 || o.Nodes > MaxNodes:
		return fmt.Errorf("--nodes must be between 1 and %d", MaxNodes)
	case o.Dir == "":
		return fmt.Errorf("--dir must not be empty")
	case o.Followers < 0 || o.Followers > MaxNodes:
		return fmt.Errorf("--followers must be between 0 and %d", MaxNodes)
	case o.Duration < 0:
		return fmt.Errorf("--duration must not be negative")
	case o.Rate < 0:
		return fmt.Errorf("--rate must be a positive number of transactions per second or 'max', not %d", o.Rate)
	case o.Rate > maxRate:
		return fmt.Errorf("--rate %d is beyond anything a local testnet can take; use 'max'", o.Rate)
	case o.MaxPending < 0:
		return fmt.Errorf("--max-pending must not be negative")
	case p.BlockIntervalMS < 0 || p.BlockIntervalMS >= p.TimeoutMinMS:
		return fmt.Errorf("--block-interval-ms must be in [0, %d)", p.TimeoutMinMS)
	case p.IdleBlockIntervalMS != 0 && (p.IdleBlockIntervalMS < p.BlockIntervalMS || p.IdleBlockIntervalMS >= p.TimeoutMinMS):
		return fmt.Errorf("--idle-block-interval-ms must be 0 or in [%d, %d)", p.BlockIntervalMS, p.TimeoutMinMS)
	}
	if pl := o.Pipeline; pl != nil {
		if err := pl.validate(); err != nil {
			return err
		}
		if o.EpochViews > 0 || o.Followers > 0 {
			return fmt.Errorf("--epoch-views and --followers do not apply to a pipeline testnet yet")
		}
	}
	if k := o.Kill; k != nil {
		switch {
		case k.Node < 1 || k.Node >= o.Nodes:
			return fmt.Errorf("--kill: node%d is not a validator other than node0 (node1..node%d)", k.Node, o.Nodes-1)
		case k.At <= 0 || (o.Duration > 0 && k.At >= o.Duration):
			return fmt.Errorf("--kill: %v must be positive and before the end of the run", k.At)
		}
	}
	_, err := newTxShape(o.TxSize, KeySpace)
	return err
}

// Summary is the outcome of a run; its JSON form is 'floe testnet --json'
// (fields in docs/cli.md).
type Summary struct {
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
	// With epochs: the epoch the network reached, the newest committed
	// one, and the last governance error if any.
	EpochViews          uint64 `json:"epoch_views,omitempty"`
	Epoch               uint64 `json:"epoch"`
	EpochsCommitted     uint64 `json:"epochs_committed"`
	LastGovernanceError string `json:"last_governance_error,omitempty"`
	// Finalized transactions per second of the run, the longest run of
	// seconds with none (after the first two), and with Kill the node,
	// when, and the throughput from the kill to the end of the load.
	FinalizedPerSecond     []int64 `json:"finalized_per_second"`
	LongestStallS          int     `json:"longest_stall_s"`
	Killed                 string  `json:"killed,omitempty"`
	KilledAtS              float64 `json:"killed_at_s,omitempty"`
	FinalizedPerSAfterKill float64 `json:"finalized_tx_per_s_after_kill,omitempty"`
	// With followers: how many, the largest gap between node0's finalized
	// height and a follower's at the end, and whether every follower's
	// newest finalized block is the block node0 has at that height.
	Followers         int    `json:"followers,omitempty"`
	FollowerLagBlocks uint64 `json:"follower_lag_blocks,omitempty"`
	FollowersAgree    *bool  `json:"followers_agree,omitempty"`
	// Pipeline networks: the stages, roles and costs (RunPipeline).
	Pipeline *PipelineSummary `json:"pipeline,omitempty"`
}

// rateName is the rate as the flag gives it.
func rateName(rate int) string {
	if rate == 0 {
		return "max"
	}
	return strconv.Itoa(rate)
}

// Run sets the network up (Setup), starts it, runs the load until
// o.Duration passes or ctx ends (Ctrl-C: Summary.Interrupted), stops the
// nodes and returns the summary. Messages and a progress line every second
// go to log. If setup fails or the nodes never all answer, it returns only
// an error; after that the summary comes with the error that ended the run
// (a node exiting on its own, a failed kill or stop), also in
// Summary.Error. Whatever happens after the nodes are launched, they are
// stopped before Run returns.
func Run(ctx context.Context, o Options, log io.Writer) (_ *Summary, err error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Pipeline != nil {
		return runPipeline(ctx, o, log)
	}
	shape, _ := newTxShape(o.TxSize, KeySpace) // validated
	o.defaultHTTPClient()
	net, err := Setup(o)
	if err != nil {
		return nil, err
	}
	nodes := net.Nodes
	// Load goes to the genesis validators. A validator outside the
	// committee (the spare of EpochViews) cannot reach the others until
	// an epoch includes it, so it would hold its clients' transactions.
	clients := make([]*client.Client, o.Nodes)
	for i := range clients {
		clients[i] = nodes[i].Client
	}
	logf := func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
	// Reported absolute, so it can be found from any directory.
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		dir = o.Dir
	}
	logf("testnet: %d nodes in %s (logs: %s)", o.Nodes, dir, filepath.Join(dir, "nodeN", "node.log"))

	sum := &Summary{Nodes: o.Nodes, Rate: rateName(o.Rate), TxSize: o.TxSize, Dir: dir}
	stopNodes := stopper(nodes, sum)
	defer func() {
		if serr := stopNodes(); serr != nil && err == nil {
			err = serr
		}
	}()
	nodeExit, err := launch(ctx, nodes)
	if err != nil {
		return nil, err
	}
	logf("testnet: all %d APIs up; node0 API at http://%s, pprof at http://%s/debug/pprof/",
		o.Nodes, nodes[0].APIAddr, nodes[0].DebugAddr)

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
		return nil, fmt.Errorf("could not subscribe to node0's block stream")
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted while the nodes were starting")
	}

	var driver *EpochDriver
	if o.EpochViews > 0 {
		if driver, err = NewEpochDriver(nodes[:len(nodes)-net.Followers], net.Validators, net.Genesis); err != nil {
			return nil, err
		}
		go driver.Run(runCtx)
		logf("testnet: epochs of %d views; node%d starts outside the committee and the committee rotates every epoch",
			o.EpochViews, o.Nodes)
	}
	gen := newLoadGen(clients, shape, o.Rate, o.MaxPending, pending)
	loadCtx, stopLoad := context.WithCancel(runCtx)
	defer stopLoad()
	start := time.Now()
	tr.startCounting()
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		gen.run(loadCtx)
	}()
	rateDesc := sum.Rate + " tx/s"
	if o.Rate == 0 {
		rateDesc = "max rate"
	}
	until := ", until Ctrl-C"
	if o.Duration > 0 {
		until = ", for " + o.Duration.String()
	}
	logf("testnet: load started: %s, %d-byte transactions, %d keys%s", rateDesc, o.TxSize, KeySpace, until)

	prog := &progress{out: log, tty: isTerminal(log), nodes: nodes, tr: tr, gen: gen, pending: pending, start: start}
	var deadline, killAt <-chan time.Time
	if o.Duration > 0 {
		deadline = time.After(o.Duration)
	}
	var controlDone chan error
	if o.Control != nil {
		controlDone = make(chan error, 1)
		h := &Harness{nodes: nodes, tr: tr, gen: gen}
		go func() { controlDone <- o.Control(runCtx, h) }()
	}
	if o.Kill != nil {
		killAt = time.After(o.Kill.At)
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
			victim := nodes[o.Kill.Node]
			gen.down(o.Kill.Node)
			if err := victim.Kill(); err != nil {
				failure = err
				break loop
			}
			sum.Killed, sum.KilledAtS = victim.Name, round2(time.Since(start).Seconds())
			logf("testnet: killed %s (SIGKILL) at %s; it stays down", victim.Name, time.Since(start).Round(time.Millisecond))
		case <-ctx.Done():
			sum.Interrupted = true
			break loop
		case tn := <-nodeExit:
			failure = tn.exitError()
			break loop
		case err := <-controlDone:
			controlDone = nil
			failure = err
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
	if st, err := clients[0].Status(fctx); err == nil {
		sum.View = uint64(st.View)
		sum.FinalHeight = st.FinalizedHeight
	}
	sum.Timeouts = sumTimeouts(fctx, nodes)
	if net.Followers > 0 {
		sum.Followers = net.Followers
		lag, agree := checkFollowers(fctx, nodes[0], nodes[len(nodes)-net.Followers:])
		sum.FollowerLagBlocks, sum.FollowersAgree = lag, &agree
	}
	cancelRun()
	<-trDone
	if controlDone != nil {
		<-controlDone // it saw runCtx end
	}
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
		sum.FinalizedPerSAfterKill = rateAfter(snap.perSecond, int(sum.KilledAtS), loadSeconds)
	}
	sum.MissedBlocks = snap.gaps
	if e, ok := gen.lastErr.Load().(string); ok {
		sum.LastSubmitError = e
	}
	if driver != nil {
		sum.EpochViews = o.EpochViews
		sum.Epoch = driver.Started()
		sum.EpochsCommitted = driver.Committed()
		sum.LastGovernanceError = driver.LastError()
	}
	failure = errors.Join(failure, stopErr)
	if failure != nil {
		sum.Error = failure.Error()
	}
	return sum, failure
}

// defaultHTTPClient gives o one transport for all API traffic, with enough
// idle connections per node that batches in flight do not reopen sockets,
// spread over client addresses (sources.go), unless it has a client.
func (o *Options) defaultHTTPClient() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			DialContext:  newSpreadDialer().DialContext,
			MaxIdleConns: 256, MaxIdleConnsPerHost: 32, IdleConnTimeout: time.Minute,
		}}
	}
}

// stopper returns the one function that stops the nodes (once, however
// often it is called) and records their peak memory in sum.
func stopper(nodes []*Node, sum *Summary) func() error {
	var once sync.Once
	return func() error {
		var errs []error
		once.Do(func() {
			errs = stopAll(nodes)
			for _, tn := range nodes {
				sum.MaxRSSMB = max(sum.MaxRSSMB, math.Round(float64(tn.MaxRSSKB())/1024*10)/10)
			}
		})
		return errors.Join(errs...)
	}
}

// launch starts every node and waits for their APIs. A node exiting on
// its own afterwards is sent on the returned channel, which ends the run
// (every process of it: a node Harness.Restart started again is watched
// too).
func launch(ctx context.Context, nodes []*Node) (<-chan *Node, error) {
	nodeExit := make(chan *Node, len(nodes))
	for _, tn := range nodes {
		tn.onExit = func(tn *Node) {
			select {
			case nodeExit <- tn:
			default:
			}
		}
		if err := tn.Start(); err != nil {
			return nil, err
		}
	}
	if err := WaitReady(ctx, nodes, readyTimeout); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted while the nodes were starting")
		}
		return nil, err
	}
	return nodeExit, nil
}

// stopAll stops the nodes in parallel (see Node.Stop) and returns their
// errors.
func stopAll(nodes []*Node) []error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, tn := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tn.Stop(StopGrace); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// checkFollowers compares each follower's newest finalized block with the
// block node0 finalized at that height.
func checkFollowers(ctx context.Context, ref *Node, followers []*Node) (lag uint64, agree bool) {
	refSt, err := ref.Client.Status(ctx)
	if err != nil {
		return 0, false
	}
	agree = true
	for _, f := range followers {
		st, err := f.Client.Status(ctx)
		if err != nil {
			return lag, false
		}
		if st.FinalizedHeight < refSt.FinalizedHeight {
			lag = max(lag, refSt.FinalizedHeight-st.FinalizedHeight)
		}
		b, err := ref.Client.Block(ctx, st.FinalizedHeight, client.BlockQuery{})
		if err != nil || b.ID != st.FinalizedID {
			agree = false
		}
	}
	return lag, agree
}

// sumTimeouts adds up floe_timeouts_total over the nodes (0 for a node that
// does not export it or cannot be reached).
func sumTimeouts(ctx context.Context, nodes []*Node) float64 {
	var total float64
	for _, tn := range nodes {
		if !tn.Running() {
			continue
		}
		if v, ok, err := tn.Client.Metric(ctx, "floe_timeouts_total"); err == nil && ok {
			total += v
		}
	}
	return total
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

// rateAfter is the mean of perSecond over the seconds [from, to) (0 when
// that range is empty), rounded to hundredths.
func rateAfter(perSecond []int64, from, to int) float64 {
	var after int64
	for i := from; i < to && i < len(perSecond); i++ {
		after += perSecond[i]
	}
	if to <= from {
		return 0
	}
	return round2(float64(after) / float64(to-from))
}

// ParseRate reads `floe testnet --rate`: a positive number of transactions
// per second, or "max" (returned as 0, Options.Rate's "as fast as the nodes
// accept").
func ParseRate(s string) (int, error) {
	if s == "max" {
		return 0, nil
	}
	r, err := strconv.Atoi(s)
	if err != nil || r <= 0 {
		return 0, fmt.Errorf("--rate must be a positive number of transactions per second or 'max', not %q", s)
	}
	return r, nil
}

// ParseKill reads `floe testnet --kill`: "nodeN@DURATION", e.g. node3@10s.
// Whether node N may be killed is Options.Validate's to say.
func ParseKill(s string) (*Kill, error) {
	name, at, ok := strings.Cut(s, "@")
	n, err := strconv.Atoi(strings.TrimPrefix(name, "node"))
	d, derr := time.ParseDuration(at)
	if !ok || !strings.HasPrefix(name, "node") || err != nil || derr != nil {
		return nil, fmt.Errorf("--kill wants nodeN@DURATION (e.g. node3@10s), not %q", s)
	}
	return &Kill{Node: n, At: d}, nil
}
