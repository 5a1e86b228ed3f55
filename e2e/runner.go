package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/workload"
)

// Options configure a run.
type Options struct {
	// Dir holds one directory per manifest (DIR/NAME): node homes, the
	// compose file, node logs and the report.
	Dir string
	// Repo is the repository root; the image is built by its
	// deploy/build.sh.
	Repo string
	// Build builds the image first; without it floe:local must exist.
	Build bool
	// Keep leaves the containers running at the end (for inspection).
	Keep bool
	// Progress receives one line per event (nil: discarded).
	Progress io.Writer
}

// Runner runs one manifest.
type Runner struct {
	m       *Manifest
	opts    Options
	dk      *Docker
	net     *Network
	project string
	dir     string

	committee *committee.Committee // the genesis committee
	verifier  *verify.Verifier     // against the genesis committee (tests)
	// epochs verifies finalized blocks in height order against the epoch
	// schedule the chain defines (see epochs.go).
	epochs *epochTracker
	// appliedCh, if set, is closed when the running step's fault is in
	// place (an epoch step submits its events then).
	appliedCh chan struct{}
	ids       []model.NodeID // validators' IDs by node index
	weights   weights
	rng       *rand.Rand

	mu    sync.Mutex // guards the nodes' flags and violations
	nodes []*nodeState

	ledger *ledger
	// pipe is the pipeline load's state (nil unless the manifest has a
	// [pipeline]).
	pipe  *pipeline
	chain *chainRecord
	// trackerNext is the next height the tracker reads (from genesis: the
	// chain record starts at height 0); owned by the tracker goroutine.
	trackerNext uint64
	// finalMempools are the mempool sizes at the final check.
	finalMempools string
	series        *series
	start         time.Time
	// loadRate is the load's current rate (load.rate, or a step's
	// load_rate while that step runs).
	loadRate atomic.Int64

	step       int // 1-based index of the running step (0: setup)
	violations []Violation
	// violationsOf counts kept violations by kind; suppressed counts those
	// beyond maxViolationsPerKind.
	violationsOf map[string]int
	suppressed   int
	evidence     map[string]bool // evidence already reported, by node/kind/offender/view
	// maxTimestampLead is how far ahead of the runner's clock a finalized
	// block's timestamp was at most (see noteTimestamp).
	maxTimestampLead time.Duration
	report           *Report
}

// nodeState is the runner's belief about one node. The flags are guarded
// by Runner.mu; checkedTo belongs to the schedule goroutine.
type nodeState struct {
	*Node
	client       *client
	started      bool
	down         bool // killed or stopped
	paused       bool
	disconnected bool
	partitioned  bool
	checkedTo    uint64 // heights 0..checkedTo were compared with the record
	checkedAny   bool
}

// Run executes a manifest: build, generate, start, apply the schedule with
// load and checks, tear down, report. The error is for runs that could not
// be carried out (no Docker, a failed build); violations are in the report.
func Run(ctx context.Context, m *Manifest, opts Options) (*Report, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	r := &Runner{m: m, opts: opts, project: "floe-e2e-" + m.Name, dir: filepath.Join(opts.Dir, m.Name),
		rng: rand.New(rand.NewPCG(m.Seed, 0x9e3779b97f4a7c15)), ledger: newLedger(), chain: newChainRecord(),
		evidence: make(map[string]bool), violationsOf: make(map[string]int)}
	if m.Pipeline.enabled() {
		r.pipe = &pipeline{ledger: newPipeLedger(), restarted: map[string]bool{}}
	}
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	defer r.teardown()
	r.execute(ctx)
	return r.report, nil
}

func (r *Runner) logf(format string, args ...any) {
	elapsed := ""
	if !r.start.IsZero() {
		elapsed = fmt.Sprintf("%6.1fs ", time.Since(r.start).Seconds())
	}
	fmt.Fprintf(r.opts.Progress, "[%s] %s%s\n", r.m.Name, elapsed, fmt.Sprintf(format, args...))
}

// maxViolationsPerKind bounds the violations kept of one kind: a fork
// repeats at every later height and would otherwise fill memory and the
// report. Further ones are counted in suppressed.
const maxViolationsPerKind = 20

// violate records a violation of the current step.
func (r *Runner) violate(kind, format string, args ...any) {
	v := Violation{Kind: kind, Step: r.currentStep(), Detail: fmt.Sprintf(format, args...)}
	r.mu.Lock()
	if r.violationsOf[kind] >= maxViolationsPerKind {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	r.violationsOf[kind]++
	r.violations = append(r.violations, v)
	r.mu.Unlock()
	r.logf("VIOLATION %s: %s", kind, v.Detail)
}

func (r *Runner) currentStep() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.step
}

func (r *Runner) setup(ctx context.Context) error {
	dk, err := NewDocker(ctx)
	if err != nil {
		return err
	}
	r.dk = dk
	if r.m.usesPartitions() {
		if err := checkPartitionTools(); err != nil {
			return err
		}
	}
	if r.opts.Build {
		r.logf("building the image (deploy/build.sh --image-only)")
		if _, err := dk.BuildImage(ctx, r.opts.Repo); err != nil {
			return err
		}
	}
	if _, err := dk.docker(ctx, "image", "inspect", defaultImage); err != nil {
		return fmt.Errorf("image %s is missing: build it with deploy/build.sh --image-only (or run without --no-build)", defaultImage)
	}
	r.removeLeftovers(ctx)
	params, err := r.m.genesisParams()
	if err != nil {
		return err
	}
	overrides := map[string]NodeOverride{}
	for i := 0; i < r.m.Validators; i++ {
		overrides[nodeName(i)] = r.m.override(nodeName(i))
	}
	for _, rm := range r.m.Pipeline.roleMembers() {
		switch rm.role {
		case config.RoleCollection:
			overrides[rm.name] = r.m.collectorOverride(rm.name)
		case config.RoleExecution:
			overrides[rm.name] = r.m.executorOverride(rm.name)
		}
	}
	r.net, err = GenerateNetwork(r.dir, NetworkSpec{
		Project: r.project, ChainID: "floe-e2e-" + r.m.Name, Validators: r.m.Validators, Followers: r.m.Followers,
		Pipeline: r.m.Pipeline, Subnet: r.m.Subnet, APIPortBase: r.m.APIPortBase, LogLevel: r.m.LogLevel, Params: params,
		Seed: r.m.Seed, Overrides: overrides,
	})
	if err != nil {
		return err
	}
	if err := r.useNetwork(r.net); err != nil {
		return err
	}
	r.logf("network: %d validators and %d followers on %s (compose: %s), homes in %s", r.m.Validators, r.m.Followers, r.m.Subnet, dk.ComposeCommand(), r.dir)
	if _, err := dk.Compose(ctx, r.project, r.net.ComposePath(), "up", "--no-start"); err != nil {
		return err
	}
	return nil
}

// useNetwork derives what the checks need from a generated network: the
// committee, a verifier, node IDs and weights by node index, and a client
// per node.
func (r *Runner) useNetwork(net *Network) error {
	com, members, err := net.Genesis.Committee()
	if err != nil {
		return err
	}
	root, rootQC, err := net.Genesis.Root(com.Size())
	if err != nil {
		return err
	}
	r.net = net
	r.committee = com
	if r.pipe != nil && len(net.LoadAccounts) > 0 {
		r.pipe.signer = workload.NewSigner(model.MainChain(net.Genesis.ChainID), net.LoadAccounts, func() model.Identifier {
			if ref := r.pipe.ref.Load(); ref != nil {
				return *ref
			}
			return model.Identifier{}
		})
	}
	r.verifier = verify.New(root.ChainID, com, crypto.BLS(), rootQC)
	est, err := net.Genesis.EpochState()
	if err != nil {
		return err
	}
	r.epochs = newEpochTracker(est, rootQC, net.Genesis.Params.Reputation(), root)
	r.ids = r.ids[:0]
	for _, mb := range members {
		r.ids = append(r.ids, mb.ID)
	}
	r.weights = committeeWeights(com, r.ids)
	r.nodes = r.nodes[:0]
	for _, nd := range net.Nodes {
		r.nodes = append(r.nodes, &nodeState{Node: nd, client: newClient(nd.APIURL)})
	}
	return nil
}

// removeLeftovers tears down what an interrupted earlier run of the same
// manifest may have left: its containers and its network.
func (r *Runner) removeLeftovers(ctx context.Context) {
	if _, err := os.Stat(filepath.Join(r.dir, composeFile)); err == nil {
		_, _ = r.dk.Compose(ctx, r.project, filepath.Join(r.dir, composeFile), "down", "--remove-orphans")
	}
	for i := 0; i < r.m.Validators; i++ {
		_, _ = r.dk.docker(ctx, "rm", "--force", r.project+"-"+nodeName(i))
	}
	for j := 0; j < r.m.Followers; j++ {
		_, _ = r.dk.docker(ctx, "rm", "--force", r.project+"-"+followerName(j))
	}
	for _, rm := range r.m.Pipeline.roleMembers() {
		_, _ = r.dk.docker(ctx, "rm", "--force", r.project+"-"+rm.name)
	}
	_, _ = r.dk.docker(ctx, "network", "rm", r.project)
}

// teardown saves every node's log and removes the containers (unless
// Keep). It runs even when the caller's context is cancelled.
func (r *Runner) teardown() {
	ctx := context.Background()
	logDir := filepath.Join(r.dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err == nil {
		for _, nd := range r.nodes {
			if err := r.saveLog(ctx, nd.Container, filepath.Join(logDir, nd.Name+".log")); err != nil {
				r.logf("saving the log of %s: %v", nd.Name, err)
			}
		}
	}
	if r.opts.Keep {
		r.logf("containers left running (--keep): %s -p %s -f %s down", r.dk.ComposeCommand(), r.project, r.net.ComposePath())
		return
	}
	// Paused containers cannot be stopped; partitions die with them.
	for _, nd := range r.nodes {
		if nd.paused {
			_ = r.dk.Unpause(ctx, nd.Container)
		}
	}
	if _, err := r.dk.Compose(ctx, r.project, r.net.ComposePath(), "down", "--remove-orphans", "--timeout", "15"); err != nil {
		r.logf("compose down: %v", err)
	}
}

// saveLog writes a container's output to a file, streaming (logs of long
// runs are large).
func (r *Runner) saveLog(ctx context.Context, container, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "logs", "--timestamps", container)
	cmd.Stdout, cmd.Stderr = f, f
	return cmd.Run()
}

// execute runs the schedule with the load and the tracker beside it.
func (r *Runner) execute(ctx context.Context) {
	r.start = time.Now()
	r.series = newSeries(r.start)
	r.report = r.newReport()
	r.loadRate.Store(int64(r.m.Load.Rate))
	loadCtx, stopLoad := context.WithCancel(ctx)
	trackCtx, stopTracker := context.WithCancel(ctx)
	var loadDone, trackDone sync.WaitGroup
	loadDone.Add(1)
	trackDone.Add(1)
	if r.pipe != nil {
		go func() { defer loadDone.Done(); r.runPipelineLoad(loadCtx) }()
		for _, nd := range r.nodes {
			if nd.Role == config.RoleAccess {
				trackDone.Add(1)
				go func() { defer trackDone.Done(); r.followAccess(trackCtx, nd) }()
			}
		}
	} else {
		go func() { defer loadDone.Done(); r.runLoad(loadCtx) }()
	}
	go func() { defer trackDone.Done(); r.runTracker(trackCtx) }()

	steps := r.m.Steps
	if len(steps) == 0 || steps[0].Action != ActionStart {
		// No start step: everything starts at once.
		steps = append([]Step{{Action: ActionStart, Order: "given"}}, steps...)
	}
	for i, s := range steps {
		r.mu.Lock()
		r.step = i + 1
		r.mu.Unlock()
		sr, err := r.runStep(ctx, s)
		sr.Index = i + 1
		r.report.Steps = append(r.report.Steps, sr)
		if err != nil {
			r.violate("aborted", "%v", err)
			r.logf("schedule aborted at step %d: %v", i+1, err)
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	r.mu.Lock()
	r.step = 0
	r.mu.Unlock()

	// Stop the load, give the tracker time to see the transactions still in
	// flight finalized, then check everything once more.
	stopLoad()
	loadDone.Wait()
	if ctx.Err() == nil && r.allUp() {
		r.drain(ctx)
	}
	var pipeNote string
	if r.pipe != nil && ctx.Err() == nil {
		// The access streams stay on while the last transactions settle.
		r.logf("load stopped; waiting up to %v for the pipeline's transactions in flight", r.m.Checks.MaxRecovery.Duration)
		pipeNote = r.checkPipeline(ctx, time.Now(), true)
	}
	stopTracker()
	trackDone.Wait()
	if ctx.Err() == nil {
		r.logf("final check")
		r.awaitAckedHeight(ctx)
		r.finalMempools = r.check(ctx, true)
		if r.pipe != nil {
			r.logf("  %s", pipeNote)
			r.checkExecutions(ctx)
			r.checkResults(ctx)
		}
	}
	r.finishReport()
}

// awaitAckedHeight waits (at most MaxRecovery) until every running node
// has finalized the highest height at which a transaction was
// acknowledged, so that the final check does not mistake a node a block
// behind for one that lost transactions; a node that never gets there is
// reported by the check.
func (r *Runner) awaitAckedHeight(ctx context.Context) {
	var target uint64
	for _, a := range r.ledger.ackedSnapshot() {
		target = max(target, a.height)
	}
	deadline := time.Now().Add(r.m.Checks.MaxRecovery.Duration)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		sts := r.statuses(ctx)
		reached := true
		for _, nd := range r.runningChain() {
			if st, ok := sts[nd.Index]; !ok || st.FinalizedHeight < target {
				reached = false
			}
		}
		if reached {
			return
		}
		sleep(ctx, recoveryPoll)
	}
}

// drainTimeout bounds the wait for submitted transactions after the load
// stops. It exceeds the node's 30 s before transactions of an orphaned
// block are proposed again (epoch/queue.go, inFlightViews).
const drainTimeout = 45 * time.Second

// drain waits, after the load stopped, until every submitted transaction is
// acknowledged, or every mempool is empty and nothing was acknowledged for
// a few seconds (the rest are gone: held only by a killed node's mempool,
// which is not persisted; they were never acknowledged), or drainTimeout.
func (r *Runner) drain(ctx context.Context) {
	r.logf("load stopped; waiting up to %v for the transactions in flight", drainTimeout)
	deadline := time.Now().Add(drainTimeout)
	last, lastChange := -1, time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c := r.ledger.counts()
		if c.Acked >= c.Submitted {
			return
		}
		if c.Acked != last {
			last, lastChange = c.Acked, time.Now()
		}
		if time.Since(lastChange) > 3*time.Second && r.mempoolsEmpty(ctx) {
			return
		}
		sleep(ctx, trackerTick)
	}
}

// mempoolsEmpty reports whether every reachable node's mempool is empty.
func (r *Runner) mempoolsEmpty(ctx context.Context) bool {
	for _, nd := range r.reachable() {
		st, err := nd.client.status(ctx)
		if err != nil || st.MempoolTxs > 0 {
			return false
		}
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// reachable lists the chain nodes (validators and followers) the runner
// expects to answer. Pipeline role members are not chain nodes: they hold
// no finalized chain of their own to compare, and sign no votes.
func (r *Runner) reachable() []*nodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*nodeState
	for _, nd := range r.nodes {
		if nd.Role == "" && nd.started && !nd.down && !nd.paused && !nd.disconnected {
			out = append(out, nd)
		}
	}
	return out
}

// reachableValidators lists the reachable nodes that are validators: the
// only ones that take transactions and governance events.
func (r *Runner) reachableValidators() []*nodeState {
	var out []*nodeState
	for _, nd := range r.reachable() {
		if !nd.Follower {
			out = append(out, nd)
		}
	}
	return out
}

// faultApplied tells an epoch step that the fault is in place.
func (r *Runner) faultApplied() {
	r.mu.Lock()
	ch := r.appliedCh
	r.appliedCh = nil
	r.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// allUp reports whether every node was started and none is stopped.
func (r *Runner) allUp() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, nd := range r.nodes {
		if !nd.started || nd.down {
			return false
		}
	}
	return true
}

func (r *Runner) setFlag(nodes []*nodeState, set func(*nodeState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, nd := range nodes {
		set(nd)
	}
}

// resolve turns a step's selectors into nodes. "leader" is the leader of
// the newest view a running node reports (view 1 before any runs); note
// says which view that was, for the report.
func (r *Runner) resolve(ctx context.Context, selectors []string, pool []*nodeState) (_ []*nodeState, note string, _ error) {
	chosen := map[int]bool{}
	var out []*nodeState
	add := func(nd *nodeState) {
		if !chosen[nd.Index] {
			chosen[nd.Index] = true
			out = append(out, nd)
		}
	}
	pickCollector := func() error {
		var free []*nodeState
		for _, nd := range pool {
			if !chosen[nd.Index] && nd.Role == config.RoleCollection {
				free = append(free, nd)
			}
		}
		if len(free) == 0 {
			return fmt.Errorf("no collector left to choose at random")
		}
		add(free[r.rng.IntN(len(free))])
		return nil
	}
	pickRandom := func() error {
		var free []*nodeState
		for _, nd := range pool {
			if !chosen[nd.Index] && !nd.Follower && nd.Role == "" { // random and f choose validators
				free = append(free, nd)
			}
		}
		if len(free) == 0 {
			return fmt.Errorf("no node left to choose at random")
		}
		add(free[r.rng.IntN(len(free))])
		return nil
	}
	inPool := map[int]bool{}
	for _, nd := range pool {
		inPool[nd.Index] = true
	}
	for _, sel := range selectors {
		switch sel {
		case "all":
			for _, nd := range pool {
				add(nd)
			}
		case "random":
			if err := pickRandom(); err != nil {
				return nil, "", err
			}
		case SelectCollector:
			if err := pickCollector(); err != nil {
				return nil, "", err
			}
		case "f":
			for k := 0; k < r.weights.maxFaulty(); k++ {
				if err := pickRandom(); err != nil {
					return nil, "", err
				}
			}
		case "leader":
			nd, view, err := r.currentLeader(ctx)
			if err != nil {
				return nil, "", err
			}
			if !inPool[nd.Index] {
				return nil, "", fmt.Errorf("the leader of view %d, %s, cannot be chosen here", view, nd.Name)
			}
			add(nd)
			note = fmt.Sprintf(" (%s led view %d)", nd.Name, view)
		default:
			found := false
			for _, nd := range pool {
				if nd.Name == sel {
					add(nd)
					found = true
				}
			}
			if !found {
				return nil, "", fmt.Errorf("%s cannot be chosen here", sel)
			}
		}
	}
	return out, note, nil
}

// currentLeader is the leader of the highest view any reachable validator
// is in, as the validators in it report it (with leader reputation it
// depends on the block the leader extends, which only they know). When
// none reports one, it falls back to the plain schedule the runner derived
// from the finalized chain (exact for views of known epochs; beyond them,
// the newest epoch's committee and seed).
func (r *Runner) currentLeader(ctx context.Context) (*nodeState, model.View, error) {
	view := model.View(1)
	var reported string
	for _, nd := range r.reachableValidators() {
		st, err := nd.client.status(ctx)
		if err != nil {
			continue
		}
		if st.View > view || st.View == view && reported == "" {
			view, reported = st.View, st.Leader
		}
	}
	com, _ := r.epochs.committeeAt(view)
	leader := com.Leader(view)
	if id, err := model.ParseIdentifier(reported); err == nil {
		leader = id
	}
	for i, id := range r.ids {
		if id == leader {
			return r.nodes[i], view, nil
		}
	}
	return nil, view, fmt.Errorf("the leader of view %d is not a known node", view)
}

// chainNodes lists the validators and followers: the nodes whose chains
// the checks compare (not the pipeline's role members).
func (r *Runner) chainNodes() []*nodeState {
	var out []*nodeState
	for _, nd := range r.nodes {
		if nd.Role == "" {
			out = append(out, nd)
		}
	}
	return out
}

// statuses asks every started chain node for its status; a node that does not
// answer is missing from the map.
func (r *Runner) statuses(ctx context.Context) map[int]api.StatusResponse {
	r.mu.Lock()
	var nodes []*nodeState
	for _, nd := range r.nodes {
		if nd.started && nd.Role == "" {
			nodes = append(nodes, nd)
		}
	}
	r.mu.Unlock()
	out := make(map[int]api.StatusResponse, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := nd.client.status(ctx); err == nil {
				mu.Lock()
				out[nd.Index] = st
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

func maxHeight(sts map[int]api.StatusResponse) uint64 {
	var m uint64
	for _, st := range sts {
		m = max(m, st.FinalizedHeight)
	}
	return m
}

// recoveryPoll is how often recovery is measured.
const recoveryPoll = 100 * time.Millisecond

// awaitRecovery waits until every node has finalized a block above
// heightAtHeal. It returns how long until the first node did (finalization
// resumed) and until all did (recovered), or a violation when MaxRecovery
// passes first.
func (r *Runner) awaitRecovery(ctx context.Context, healAt time.Time, heightAtHeal uint64) (resume, all time.Duration, ok bool) {
	deadline := healAt.Add(r.m.Checks.MaxRecovery.Duration)
	resume = -1
	var last map[int]api.StatusResponse
	for ctx.Err() == nil {
		last = r.statuses(ctx)
		now := time.Now()
		chainNodes := r.chainNodes()
		done := len(last) == len(chainNodes)
		for _, nd := range chainNodes {
			st, answered := last[nd.Index]
			if answered && st.FinalizedHeight > heightAtHeal && resume < 0 {
				resume = now.Sub(healAt)
			}
			if !answered || st.FinalizedHeight <= heightAtHeal {
				done = false
			}
		}
		if done {
			return resume, now.Sub(healAt), true
		}
		if now.After(deadline) {
			break
		}
		sleep(ctx, recoveryPoll)
	}
	var parts []string
	for _, nd := range r.chainNodes() {
		if st, ok := last[nd.Index]; ok {
			connected := 0
			for _, p := range st.Peers {
				if p.Connected {
					connected++
				}
			}
			parts = append(parts, fmt.Sprintf("%s height %d view %d peers %d/%d", nd.Name, st.FinalizedHeight, st.View, connected, len(st.Peers)))
		} else {
			parts = append(parts, nd.Name+" (no answer)")
		}
	}
	r.violate("recovery", "not every node finalized above height %d within %v of the heal; %s",
		heightAtHeal, r.m.Checks.MaxRecovery.Duration, strings.Join(parts, "; "))
	return resume, -1, false
}

// checkContainers reports nodes that stopped by themselves.
func (r *Runner) checkContainers(ctx context.Context) error {
	var exited []string
	for _, nd := range r.nodes {
		r.mu.Lock()
		expectRunning := nd.started && !nd.down
		r.mu.Unlock()
		if !expectRunning {
			continue
		}
		st, err := r.dk.Inspect(ctx, nd.Container)
		if err != nil {
			return err
		}
		if !st.Running {
			exited = append(exited, nd.Name)
			r.violate("node-exited", "%s exited by itself with status %d (see %s)", nd.Name, st.ExitCode,
				filepath.Join(r.dir, "logs", nd.Name+".log"))
			r.setFlag([]*nodeState{nd}, func(n *nodeState) { n.down = true })
		}
	}
	if len(exited) > 0 {
		return fmt.Errorf("%s exited", strings.Join(exited, ", "))
	}
	return nil
}

// sortedNames lists node names for reports.
func sortedNames(nodes []*nodeState) string {
	names := make([]string, len(nodes))
	for i, nd := range nodes {
		names[i] = nd.Name
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}
