package localnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/workload"
)

// PipelineSummary is what a pipeline run adds to the Summary: the roles,
// the transactions at each stage and the latency from submission to it,
// collection sizes and guarantees per block, and the evidence that
// consensus nodes hold and execute no transactions.
type PipelineSummary struct {
	// App is what the network ran (AppAccounts, AppKV); in a network of
	// accounts ServiceAccount is the service account's address and
	// ServiceKey the file with its key (for the CLI).
	App            string `json:"app"`
	ServiceAccount string `json:"service_account,omitempty"`
	ServiceKey     string `json:"service_key,omitempty"`
	// FailedTx is what execution node 0 executed during the run with a
	// failed outcome (floe_executed_failed_txs_total): 0 for a load of
	// valid transactions.
	FailedTx    int64 `json:"failed_tx"`
	Clusters    int   `json:"clusters"`
	ClusterSize int   `json:"cluster_size"`
	Executors   int   `json:"executors"`
	Access      int   `json:"access"`
	// Stages: collected, finalized, executed.
	Stages         map[string]StageLatency `json:"stages"`
	ExecutedTx     int64                   `json:"executed_tx"`
	ExecutedTxPerS float64                 `json:"executed_tx_per_s"`
	ExpiredTx      int64                   `json:"expired_tx"`
	// RepeatedTx counts a transaction reported at one stage twice.
	RepeatedTx int64 `json:"repeated_tx"`
	// ExecutionSlots is what execution node 0 executed during the run
	// (floe_executed_txs_total); with no other load it equals ExecutedTx
	// unless a transaction ran twice.
	ExecutionSlots     int64   `json:"execution_slots"`
	CollectionSizeMean float64 `json:"collection_size_mean"`
	CollectionSizeMax  int     `json:"collection_size_max"`
	// GuaranteesPerBlock: guarantees consensus node0 finalized over the
	// main-chain blocks it finalized during the run.
	GuaranteesPerBlock float64 `json:"guarantees_per_block"`
	// ConsensusExecutedTx and ConsensusMempoolTx sum what consensus nodes
	// executed and hold in their mempools: 0 in a pipeline network.
	ConsensusExecutedTx float64 `json:"consensus_executed_tx"`
	ConsensusMempoolTx  float64 `json:"consensus_mempool_tx"`
	// ResultsCompared is how many heights every execution node executed
	// and had the same result for (compared by result ID, which covers
	// every chunk's end state, events hash, transaction count and
	// computation); Disagreements is what consensus node 0 recorded.
	ResultsCompared int `json:"results_compared"`
	Disagreements   int `json:"disagreements"`
	// ConsensusBytesPer1000Tx is the encoded size of the main-chain
	// blocks finalized during the run (what every consensus node stores
	// and sends its peers) per 1,000 executed transactions.
	ConsensusBytesPer1000Tx float64 `json:"consensus_bytes_per_1000_tx"`
	// CPUSecondsPer1000Tx is each role's CPU time (all its processes)
	// per 1,000 executed transactions.
	CPUSecondsPer1000Tx map[string]float64 `json:"cpu_s_per_1000_tx"`
	CPUSeconds          map[string]float64 `json:"cpu_s"`
}

// Metric names read from the nodes (docs/pipeline.md).
const (
	metricExecutedTxs        = "floe_executed_txs_total"
	metricFailedTxs          = "floe_executed_failed_txs_total"
	metricMempoolTxs         = "floe_mempool_txs"
	metricGuaranteesIncluded = "floe_guarantees_included_total"
	metricFinalizedHeight    = "floe_finalized_height"
	metricExecutedHeight     = "floe_executed_height"
)

// refLag is how far below access0's newest finalized block the load's
// reference blocks are.
const refLag = 4

// runPipeline is Run for a pipeline network: load through the access
// nodes, latency per stage from their transition streams.
func runPipeline(ctx context.Context, o Options, log io.Writer) (_ *Summary, err error) {
	shape, _ := newTxShape(o.TxSize, KeySpace) // validated
	o.defaultHTTPClient()
	net, err := Setup(o)
	if err != nil {
		return nil, err
	}
	nodes := net.Nodes
	access := net.ByRole(config.RoleAccess)
	consensus := net.ByRole(config.RoleConsensus)
	executors := net.ByRole(config.RoleExecution)
	logf := func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		dir = o.Dir
	}
	pl := *o.Pipeline
	logf("testnet: pipeline of %d consensus, %d×%d collectors, %d execution and %d access nodes in %s (logs: %s)",
		o.Nodes, pl.Clusters, pl.ClusterSize, pl.Executors, pl.Access, dir, filepath.Join(dir, "NAME", "node.log"))

	sum := &Summary{Nodes: o.Nodes, Rate: rateName(o.Rate), TxSize: o.TxSize, Dir: dir}
	ps := &PipelineSummary{Clusters: pl.Clusters, ClusterSize: pl.ClusterSize, Executors: pl.Executors, Access: pl.Access, App: workload.AppKV}
	if pl.accounts() {
		ps.App = workload.AppAccounts
		ps.ServiceAccount = account.ServiceAddress(model.MainChain(net.Genesis.ChainID)).Hex()
		ps.ServiceKey = filepath.Join(dir, workload.ServiceKeyFile)
	}
	sum.Pipeline = ps
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
	logf("testnet: all %d APIs up; access0 API at http://%s, consensus node0 at http://%s", len(nodes), access[0].APIAddr, consensus[0].APIAddr)

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	// The reference block every transaction names: a finalized block a
	// few heights below the newest access0 knows, refreshed as the chain
	// grows. Access nodes follow the chain a little apart; a reference
	// every one of them already holds is not waited for (docs/pipeline.md,
	// "The access role").
	var ref atomic.Pointer[model.Identifier]
	refresh := func() {
		st, err := access[0].Client.Status(runCtx)
		if err != nil || st.FinalizedHeight == 0 {
			return
		}
		if st.FinalizedHeight <= refLag {
			if id, err := model.ParseIdentifier(st.FinalizedID); err == nil {
				ref.Store(&id)
			}
			return
		}
		if b, err := access[0].Client.Block(runCtx, st.FinalizedHeight-refLag, client.BlockQuery{}); err == nil {
			if id, err := model.ParseIdentifier(b.ID); err == nil {
				ref.Store(&id)
			}
		}
	}
	startBy := time.Now().Add(readyTimeout)
	for ref.Load() == nil {
		if time.Now().After(startBy) || runCtx.Err() != nil {
			return nil, fmt.Errorf("access0 never saw a finalized main-chain block (see %s)", access[0].logPath)
		}
		refresh()
		time.Sleep(100 * time.Millisecond)
	}
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				refresh()
			}
		}
	}()

	if pl.accounts() {
		// Access nodes check signed transactions against the accounts as
		// the executors prove them: wait for the first executed result a
		// finalized block carries.
		if err := waitAccounts(runCtx, access[0], ps.ServiceAccount); err != nil {
			return nil, err
		}
	}
	pending := newPendingTxs()
	st := newStageTracker(pending)
	var sl *workload.Signer
	if pl.accounts() {
		sl = workload.NewSigner(model.MainChain(net.Genesis.ChainID), net.loadAccounts, func() model.Identifier { return *ref.Load() })
		st.settled = sl.Settled
	}
	var subscribed sync.WaitGroup
	subscribed.Add(len(access))
	for _, a := range access {
		go st.run(runCtx, a.Client, subscribed.Done)
	}
	waitSubs := make(chan struct{})
	go func() { subscribed.Wait(); close(waitSubs) }()
	select {
	case <-waitSubs:
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("could not subscribe to the access nodes' transaction streams (%s)", AccessEventsPath)
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted while the nodes were starting")
	}

	clients := make([]*client.Client, len(access))
	for i, a := range access {
		clients[i] = a.Client
	}
	gen := newLoadGen(clients, shape, o.Rate, o.MaxPending, pending)
	gen.envelope = func(body []byte) ([]byte, [32]byte) {
		tx := collection.Tx{Ref: *ref.Load(), Body: body}
		return tx.Encode(), tx.ID()
	}
	if sl != nil {
		gen.source = sl.Take
		gen.dropped = func(id [32]byte) { sl.Settled(id, false) }
		logf("testnet: accounts: service account %s (key %s); the load signs transfers between %d accounts with %d keys each (%d in flight at most)",
			ps.ServiceAccount, ps.ServiceKey, len(net.loadAccounts), len(net.loadAccounts[0].Keys), sl.Slots())
	}
	before := readCounters(runCtx, consensus[0], executors[0])
	cpu0 := roleCPU(nodes)
	loadCtx, stopLoad := context.WithCancel(runCtx)
	defer stopLoad()
	start := time.Now()
	st.startCounting()
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		gen.run(loadCtx)
	}()
	logf("testnet: load started through %d access node(s): %s tx/s, %d-byte transactions", len(access), sum.Rate, o.TxSize)

	var deadline <-chan time.Time
	if o.Duration > 0 {
		deadline = time.After(o.Duration)
	}
	var controlDone chan error
	if o.Control != nil {
		controlDone = make(chan error, 1)
		h := &Harness{nodes: nodes, gen: gen}
		go func() { controlDone <- o.Control(runCtx, h) }()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var failure error
loop:
	for {
		select {
		case <-tick.C:
			lat, _, _, _, _, _ := st.stages()
			logf("testnet: %5.0fs submitted %d, collected %d, finalized %d, executed %d, pending %d",
				time.Since(start).Seconds(), gen.submitted.Load(), lat["collected"].Count, lat["finalized"].Count,
				lat["executed"].Count, pending.len())
		case <-deadline:
			break loop
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
	if failure == nil && !sum.Interrupted {
		// The pipeline has more stages than one chain: give the last
		// transactions time to be executed.
		drainEnd := time.Now().Add(4 * drainTimeout)
		for pending.len() > 0 && time.Now().Before(drainEnd) && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	cpu1 := roleCPU(nodes)
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer fcancel()
	after := readCounters(fctx, consensus[0], executors[0])
	if s, err := consensus[0].Client.Status(fctx); err == nil {
		sum.View, sum.FinalHeight = uint64(s.View), s.FinalizedHeight
	}
	for _, c := range consensus {
		ps.ConsensusExecutedTx += metricOr0(fctx, c, metricExecutedTxs)
		ps.ConsensusMempoolTx += metricOr0(fctx, c, metricMempoolTxs)
	}
	sum.Timeouts = sumTimeouts(fctx, consensus)
	var blockBytes int64
	if failure == nil && !sum.Interrupted {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		blockBytes = chainBytes(cctx, consensus[0], uint64(before.height)+1, uint64(after.height))
		ps.ResultsCompared, failure = compareResults(cctx, executors)
		if d, err := consensus[0].Client.Disagreements(cctx); err == nil {
			ps.Disagreements = len(d.Disagreements)
		}
		ccancel()
	}
	cancelRun()
	if controlDone != nil {
		<-controlDone // it saw runCtx end
	}
	stopErr := stopNodes()

	lat, meanCol, maxCol, perSecond, repeats, expired := st.stages()
	ps.Stages, ps.CollectionSizeMean, ps.CollectionSizeMax = lat, meanCol, maxCol
	ps.RepeatedTx, ps.ExpiredTx = repeats, expired
	ps.ExecutedTx = lat["executed"].Count
	ps.ExecutedTxPerS = round2(float64(ps.ExecutedTx) / elapsed.Seconds())
	ps.ExecutionSlots = int64(after.executed - before.executed)
	ps.FailedTx = int64(after.failed - before.failed)
	if blocks := after.height - before.height; blocks > 0 {
		ps.GuaranteesPerBlock = round2((after.guarantees - before.guarantees) / blocks)
	}
	if ps.ExecutedTx > 0 {
		ps.ConsensusBytesPer1000Tx = math.Round(float64(blockBytes) / float64(ps.ExecutedTx) * 1000)
	}
	ps.CPUSeconds, ps.CPUSecondsPer1000Tx = map[string]float64{}, map[string]float64{}
	for role, c := range cpu1 {
		used := (c - cpu0[role]).Seconds()
		ps.CPUSeconds[role] = round2(used)
		if ps.ExecutedTx > 0 {
			ps.CPUSecondsPer1000Tx[role] = math.Round(used/float64(ps.ExecutedTx)*1000*1000) / 1000
		}
	}

	sum.DurationS = round2(elapsed.Seconds())
	sum.SubmittedTx = gen.submitted.Load()
	sum.RejectedTx = gen.rejected.Load() + expired
	sum.FailedTx = gen.failed.Load()
	sum.SkippedTx = gen.skipped.Load()
	// In a pipeline network "finalized" for a client is "executed": the
	// result is known. The stage latencies are in Pipeline.Stages.
	sum.FinalizedTx = ps.ExecutedTx
	sum.FinalizedTxPerS = ps.ExecutedTxPerS
	sum.BlockTx = ps.ExecutionSlots
	sum.UnfinalizedTx = pending.len()
	ex := lat["executed"]
	sum.LatencyP50MS, sum.LatencyP99MS, sum.LatencyMeanMS, sum.LatencyMaxMS = ex.P50MS, ex.P99MS, ex.MeanMS, ex.MaxMS
	sum.FinalizedBlocks = int64(after.height - before.height)
	sum.FinalizedPerSecond = perSecond
	sum.LongestStallS = longestStall(perSecond, 2, int(min(elapsed, loadElapsed)/time.Second))
	if e, ok := gen.lastErr.Load().(string); ok {
		sum.LastSubmitError = e
	}
	failure = errors.Join(failure, stopErr)
	if failure != nil {
		sum.Error = failure.Error()
	}
	return sum, failure
}

// waitAccounts waits until access node a can read account addr proven
// (GET /v1/accounts/{addr} answers 200).
func waitAccounts(ctx context.Context, a *Node, addr string) error {
	url := "http://" + a.APIAddr + "/v1/accounts/" + addr
	by := time.Now().Add(readyTimeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := a.Client.HTTPClient().Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(by) || ctx.Err() != nil {
			return fmt.Errorf("access0 could not read the service account proven within %v (see %s)", readyTimeout, a.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// chainBytes sums the encoded size of the finalized blocks from..to as
// node reports them (GET /v1/chain); 0 if it cannot read them.
func chainBytes(ctx context.Context, node *Node, from, to uint64) int64 {
	var total int64
	for h := from; h <= to; {
		blocks, err := node.Client.Chain(ctx, h, 100)
		if err != nil || len(blocks) == 0 {
			return 0
		}
		for _, b := range blocks {
			if b.Height > to {
				return total
			}
			total += int64(len(b.Block) / 2) // hex
			h = b.Height + 1
		}
	}
	return total
}

// compareResults checks that every execution node computed the same
// result for every height all of them executed, and returns how many
// heights it compared. Honest execution nodes never differ: a
// difference fails the run.
func compareResults(ctx context.Context, executors []*Node) (int, error) {
	top := math.MaxFloat64
	for _, e := range executors {
		top = min(top, metricOr0(ctx, e, metricExecutedHeight))
	}
	if len(executors) < 2 {
		return 0, nil
	}
	for h := uint64(1); h <= uint64(top); h++ {
		var first api.ExecutionResultResponse
		for i, e := range executors {
			r, err := e.Client.ExecutionResult(ctx, h)
			if err != nil {
				return int(h - 1), fmt.Errorf("result of height %d from %s: %w", h, e.Name, err)
			}
			if i == 0 {
				first = r
			} else if r.Result != first.Result {
				return int(h - 1), fmt.Errorf("execution nodes disagree at height %d: %s has result %s (end state %s), %s has %s (end state %s)",
					h, executors[0].Name, first.Result, first.EndState, e.Name, r.Result, r.EndState)
			}
		}
	}
	return int(top), nil
}

// counters are the node metrics a pipeline run differences.
type counters struct{ executed, failed, guarantees, height float64 }

func readCounters(ctx context.Context, consensus, execution *Node) counters {
	return counters{
		executed:   metricOr0(ctx, execution, metricExecutedTxs),
		failed:     metricOr0(ctx, execution, metricFailedTxs),
		guarantees: metricOr0(ctx, consensus, metricGuaranteesIncluded),
		height:     metricOr0(ctx, consensus, metricFinalizedHeight),
	}
}

// metricOr0 reads one series of a node's metrics (0 if absent or
// unreachable).
func metricOr0(ctx context.Context, tn *Node, name string) float64 {
	v, ok, err := tn.Client.Metric(ctx, name)
	if err != nil || !ok {
		return 0
	}
	return v
}

// roleCPU sums the CPU time of the running processes by role.
func roleCPU(nodes []*Node) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, tn := range nodes {
		role := tn.Role
		if role == "" {
			role = config.RoleConsensus
		}
		if c, ok := tn.CPUTime(); ok {
			out[role] += c
		}
	}
	return out
}
