package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/floe-bft/floe/api"
	apiclient "github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/genesis"
	floeledger "github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/payload"
)

// The execution-results check (pipeline networks, at the final check):
//
//   - Honest executors agree. Every execution node that publishes what it
//     computes (no fault, or withhold_packs) must have computed the same
//     result, by ID, for every height both executed: one killed and
//     restarted resumes from its last committed state and must give
//     identical results.
//   - A byzantine executor is seen. With an executor publishing wrong
//     results (wrong_end_state, wrong_events), every reachable consensus
//     node must list at least one disagreement that is that executor's
//     (its receipt disagrees, or the result incorporated first is one it
//     published), and the other side of each must be the honest
//     executors' result. Without one, any disagreement is a violation.
//   - Data packs verify. For a few sampled heights with collections, an
//     honest executor serves every chunk's data pack and it re-executes to
//     the chunk (execution.VerifyChunk against the result it serves); an
//     executor that withholds its packs answers 404 for each.
//
// Violations are of kind "results"; nodes that do not answer are skipped
// with a note, like the execution counters.

// Bounds of the check: it compares at most maxResultHeights heights per
// node (all of them in a run of up to that many; beyond, a spread of the
// older ones and every recent one), looks at most maxDisagreementHeights
// disagreeing heights up, and samples packSampleHeights heights' packs
// among the packWindow newest executed heights (execution nodes keep
// packs for role/execution.DefaultRetain = 1000 heights: well within).
const (
	maxResultHeights       = 2000
	maxDisagreementHeights = 512
	packSampleHeights      = 4
	packWindow             = 400
	resultsParallel        = 4 // requests in flight per execution node
	// byzantineHeights: the newest compared heights read from a byzantine
	// executor up front (its published results; more are looked up one
	// by one for the disagreements).
	byzantineHeights     = 200
	metricExecutedHeight = "floe_executed_height"
)

// ResultsReport is what the execution-results check found.
type ResultsReport struct {
	// Compared are the heights whose results were compared across the
	// honest executors (Honest), up to UpTo, the lowest height they all
	// executed.
	Compared int      `json:"heights_compared"`
	UpTo     uint64   `json:"up_to"`
	Honest   []string `json:"honest_executors"`
	// Byzantine publish results other than what they computed; Published
	// counts, among the newest byzantineHeights compared heights, those
	// at which one did.
	Byzantine []string `json:"byzantine_executors,omitempty"`
	Published int      `json:"wrong_results_published,omitempty"`
	// Disagreements lists, per consensus node, how many disagreements it
	// lists and how many of them are a byzantine executor's.
	Disagreements map[string]int `json:"disagreements"`
	Attributed    map[string]int `json:"disagreements_of_byzantine"`
	// PacksVerified counts data packs re-executed against their chunk;
	// PacksWithheld the 404 answers of executors withholding theirs.
	PacksVerified int `json:"packs_verified"`
	PacksWithheld int `json:"packs_withheld"`
	// PacksRefusedUnsigned counts unsigned pack requests refused (401).
	PacksRefusedUnsigned int      `json:"packs_refused_unsigned"`
	Notes                []string `json:"notes,omitempty"`
}

// resultsCheck is one run of the check over the execution and consensus
// nodes the runner believes reachable.
type resultsCheck struct {
	r   *Runner
	rep *ResultsReport
	// honest publish what they compute; byzantine do not; withholders
	// (honest too) serve no packs.
	honest, byzantine, withholders []*nodeState
	// byzIDs names the byzantine executors by node ID (hex) and name.
	byzIDs map[string]string
	// agreed is the honest result ID by height; answers caches what
	// each node served.
	agreed  map[uint64]string
	answers map[string]map[uint64]api.ExecutionResultResponse // node → height →
	// lookups bounds the results looked up one by one (disagreements).
	lookups int
	// executed is each honest node's floe_executed_height.
	executed map[string]uint64
	// signer signs pack requests: packs are served to staked nodes only,
	// so the check asks as a consensus node, with its keys.
	signer *genesis.NodeKeys
	chain  model.ChainID
	// vm re-executes chunks from their packs: the network's VM.
	vm execution.VM
}

// checkResults runs the execution-results check and records its report.
func (r *Runner) checkResults(ctx context.Context) {
	rc := &resultsCheck{r: r, rep: &ResultsReport{Disagreements: map[string]int{}, Attributed: map[string]int{}},
		byzIDs: map[string]string{}, agreed: map[uint64]string{}, answers: map[string]map[uint64]api.ExecutionResultResponse{},
		executed: map[string]uint64{}, chain: r.verifier.Chain()}
	rc.classify()
	rc.compare(ctx)
	rc.disagreements(ctx)
	rc.packs(ctx)
	r.report.Pipeline.Results = rc.rep
	for _, n := range rc.rep.Notes {
		r.logf("  results: %s", n)
	}
}

func (c *resultsCheck) note(format string, args ...any) {
	c.rep.Notes = append(c.rep.Notes, fmt.Sprintf(format, args...))
}

// classify sorts the reachable execution nodes by fault and learns the
// byzantine ones' node IDs (from their keys: receipts name executors by ID).
func (c *resultsCheck) classify() {
	reachable := map[string]bool{}
	for _, nd := range c.r.reachableRole(config.RoleExecution) {
		reachable[nd.Name] = true
	}
	for _, nd := range c.r.nodes {
		if nd.Role != config.RoleExecution {
			continue
		}
		f := nd.Override.ExecutionFault
		if publishesWrong(f) {
			c.rep.Byzantine = append(c.rep.Byzantine, nd.Name)
			c.byzIDs[nd.Name] = nd.Name
			if keys, err := genesis.LoadKeys(filepath.Join(nd.Home, "config", "keys.json")); err == nil {
				c.byzIDs[keys.NodeID().Hex()] = nd.Name
			} else {
				c.note("%s: its node ID is unknown (%v); its disagreements are matched by name", nd.Name, err)
			}
		}
		if !reachable[nd.Name] {
			c.note("%s is not running: skipped", nd.Name)
			continue
		}
		switch {
		case publishesWrong(f):
			c.byzantine = append(c.byzantine, nd)
		case f == ExecFaultWithholdPacks:
			c.withholders = append(c.withholders, nd)
			c.honest = append(c.honest, nd)
		default:
			c.honest = append(c.honest, nd)
		}
	}
	for _, nd := range c.honest {
		c.rep.Honest = append(c.rep.Honest, nd.Name)
	}
}

// resultHeights picks at most limit heights of 1..top: all of them if
// they fit, else every recent one (the newest limit/2, where restarts and
// faults leave their marks last) and an even spread of the older ones.
func resultHeights(top uint64, limit int) []uint64 {
	if top == 0 || limit <= 0 {
		return nil
	}
	if top <= uint64(limit) {
		out := make([]uint64, top)
		for i := range out {
			out[i] = uint64(i) + 1
		}
		return out
	}
	recent := uint64(limit / 2)
	older := top - recent // heights 1..older get the other half, spread
	spread := uint64(limit) - recent
	var out []uint64
	for k := uint64(0); k < spread; k++ {
		out = append(out, 1+k*older/spread)
	}
	for h := older + 1; h <= top; h++ {
		out = append(out, h)
	}
	return out
}

// fetch asks nd for its results at heights, resultsParallel at a time;
// a height it does not serve is missing from the map, the first error
// is returned beside what did arrive.
func fetchResults(ctx context.Context, nd *nodeState, heights []uint64) (map[uint64]api.ExecutionResultResponse, error) {
	out := make(map[uint64]api.ExecutionResultResponse, len(heights))
	var mu sync.Mutex
	var first error
	work := make(chan uint64)
	var wg sync.WaitGroup
	for range resultsParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range work {
				resp, err := nd.client.result(ctx, h)
				mu.Lock()
				if err == nil {
					out[h] = resp
				} else if first == nil {
					first = fmt.Errorf("height %d: %w", h, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, h := range heights {
		if ctx.Err() != nil {
			break
		}
		work <- h
	}
	close(work)
	wg.Wait()
	return out, first
}

// compare checks that the honest executors computed the same results.
func (c *resultsCheck) compare(ctx context.Context) {
	var nodes []*nodeState
	top := ^uint64(0)
	for _, nd := range c.honest {
		h, err := nd.client.metric(ctx, metricExecutedHeight)
		if err != nil {
			c.note("%s: reading %s: %v; not compared", nd.Name, metricExecutedHeight, err)
			continue
		}
		nodes = append(nodes, nd)
		c.executed[nd.Name] = uint64(h)
		top = min(top, uint64(h))
	}
	if len(nodes) == 0 {
		return
	}
	heights := resultHeights(top, maxResultHeights)
	c.rep.UpTo = top
	var ref *nodeState
	for _, nd := range nodes {
		got, err := fetchResults(ctx, nd, heights)
		if err != nil {
			c.note("%s: %d of %d results read (%v)", nd.Name, len(got), len(heights), err)
		}
		c.answers[nd.Name] = got
		if ref == nil && len(got) > 0 {
			ref = nd
		}
	}
	if ref == nil {
		return
	}
	// A node that went astray differs at every later height: one
	// violation per node, with the first height and the count.
	type mismatch struct {
		count  int
		detail string
	}
	differ, lied := map[string]*mismatch{}, map[string]*mismatch{}
	for _, h := range heights {
		want, ok := c.answers[ref.Name][h]
		if !ok {
			continue
		}
		c.agreed[h] = want.Result
		all := true
		for _, nd := range nodes {
			got, ok := c.answers[nd.Name][h]
			if !ok {
				all = false
				continue
			}
			if got.Result != want.Result {
				if differ[nd.Name] == nil {
					differ[nd.Name] = &mismatch{detail: fmt.Sprintf("%s and %s computed different results for height %d: %s (end state %s) and %s (end state %s)",
						ref.Name, nd.Name, h, short(want.Result), short(want.EndState), short(got.Result), short(got.EndState))}
				}
				differ[nd.Name].count++
			}
			if got.Published != "" {
				if lied[nd.Name] == nil {
					lied[nd.Name] = &mismatch{detail: fmt.Sprintf("%s, an honest executor, published result %s for height %d instead of the %s it computed",
						nd.Name, short(got.Published), h, short(got.Result))}
				}
				lied[nd.Name].count++
			}
		}
		if all {
			c.rep.Compared++
		}
	}
	for _, nd := range nodes {
		for _, m := range []*mismatch{differ[nd.Name], lied[nd.Name]} {
			if m != nil {
				c.r.violate("results", "%s (%d of the %d heights compared)", m.detail, m.count, len(heights))
			}
		}
	}
	if len(c.byzantine) > 0 {
		// The byzantine executor computes honestly and publishes its own
		// results: how many of the compared heights did it lie about?
		recent := heights[max(0, len(heights)-byzantineHeights):]
		for _, nd := range c.byzantine {
			got, err := fetchResults(ctx, nd, recent)
			if err != nil {
				c.note("%s: %d of %d results read (%v)", nd.Name, len(got), len(recent), err)
			}
			c.answers[nd.Name] = got
			for h, resp := range got {
				if resp.Published != "" && resp.Published != resp.Result {
					c.rep.Published++
				}
				if a, ok := c.agreed[h]; ok && resp.Result != a {
					c.note("%s computed %s for height %d, the honest executors %s (it should execute honestly)", nd.Name, short(resp.Result), h, short(a))
				}
			}
		}
	}
}

// lookup is a node's result for height, from the answers read or asked
// now (at most maxDisagreementHeights such lookups per check).
func (c *resultsCheck) lookup(ctx context.Context, nd *nodeState, h uint64) (api.ExecutionResultResponse, bool) {
	if got, ok := c.answers[nd.Name][h]; ok {
		return got, true
	}
	if c.lookups >= maxDisagreementHeights {
		return api.ExecutionResultResponse{}, false
	}
	c.lookups++
	resp, err := nd.client.result(ctx, h)
	if err != nil {
		return resp, false
	}
	if c.answers[nd.Name] == nil {
		c.answers[nd.Name] = map[uint64]api.ExecutionResultResponse{}
	}
	c.answers[nd.Name][h] = resp
	return resp, true
}

// honestAt is the honest executors' result for height ("" if unknown).
func (c *resultsCheck) honestAt(ctx context.Context, h uint64) string {
	if a, ok := c.agreed[h]; ok {
		return a
	}
	for _, nd := range c.honest {
		if resp, ok := c.lookup(ctx, nd, h); ok {
			c.agreed[h] = resp.Result
			return resp.Result
		}
	}
	return ""
}

// publishedBy names the byzantine executor that published result at
// height h ("" if none did, as far as the reachable ones say), and
// whether every byzantine executor answered.
func (c *resultsCheck) publishedBy(ctx context.Context, h uint64, result string) (string, bool) {
	complete := true
	for _, nd := range c.byzantine {
		resp, ok := c.lookup(ctx, nd, h)
		if !ok {
			complete = false
			continue
		}
		if resp.Published == result {
			return nd.Name, true
		}
	}
	return "", complete && len(c.byzantine) == len(c.rep.Byzantine)
}

// disagreements checks what every reachable consensus node lists.
func (c *resultsCheck) disagreements(ctx context.Context) {
	for _, nd := range c.r.reachableValidators() {
		resp, err := nd.client.disagreements(ctx)
		if err != nil {
			c.note("%s: reading disagreements: %v", nd.Name, err)
			continue
		}
		c.rep.Disagreements[nd.Name] = len(resp.Disagreements)
		c.checkNode(ctx, nd, resp)
	}
}

// checkNode checks one consensus node's disagreements.
func (c *resultsCheck) checkNode(ctx context.Context, nd *nodeState, resp api.DisagreementsResponse) {
	ds := resp.Disagreements
	if len(c.rep.Byzantine) == 0 {
		if len(ds) > 0 {
			d := ds[0]
			c.r.violate("results", "%s lists %d disagreements with no byzantine executor in the network, e.g. height %d: result %s incorporated first, %s by %s",
				nd.Name, len(ds), d.Height, short(d.Results[0].Result), short(d.Results[1].Result), executorOf(d.Results[1]))
		}
		return
	}
	attributed, unexplained, wrongHonest := 0, 0, 0
	var example string
	for _, d := range ds {
		first, second := d.Results[0], d.Results[1]
		byz, honestSide, byzSide := c.byzIDs[second.Executor], first.Result, second.Result
		if byz == "" {
			byz = c.byzIDs[second.ExecutorName]
		}
		if byz == "" {
			// The honest receipt came second: the first result must be
			// one a byzantine executor published.
			name, complete := c.publishedBy(ctx, d.Height, first.Result)
			if name == "" {
				if complete {
					unexplained++
					if example == "" {
						example = fmt.Sprintf("height %d: %s incorporated first, %s by %s, neither published by %s",
							d.Height, short(first.Result), short(second.Result), executorOf(second), strings.Join(c.rep.Byzantine, ", "))
					}
				}
				continue
			}
			byz, honestSide, byzSide = name, second.Result, first.Result
		}
		attributed++
		if a := c.honestAt(ctx, d.Height); a != "" && a != honestSide {
			wrongHonest++
			c.r.violate("results", "%s: the disagreement at height %d sets %s's %s against %s, but the honest executors computed %s",
				nd.Name, d.Height, byz, short(byzSide), short(honestSide), short(a))
		}
	}
	c.rep.Attributed[nd.Name] = attributed
	if unexplained > 0 {
		c.r.violate("results", "%s lists %d disagreements that are no byzantine executor's, e.g. %s", nd.Name, unexplained, example)
	}
	if attributed == 0 {
		c.r.violate("results", "%s lists no disagreement by %s, which published wrong results (%d disagreements listed, %d dropped)",
			nd.Name, strings.Join(c.rep.Byzantine, ", "), len(ds), resp.Dropped)
	}
}

func executorOf(ri api.ResultInfo) string {
	if ri.ExecutorName != "" {
		return ri.ExecutorName
	}
	if ri.Executor != "" {
		return short(ri.Executor)
	}
	return "an unnamed executor"
}

// short abbreviates a hex ID for reports.
func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	if id == "" {
		return "(none)"
	}
	return id
}

// packs verifies the data packs of a few sampled recent heights with
// collections on every honest executor that serves them, and checks that
// every withholding executor refuses the same chunks. The newest such
// height is always in the sample: a node that serves it but not older
// ones prunes too early; one that serves none does not serve packs.
func (c *resultsCheck) packs(ctx context.Context) {
	var servers []*nodeState
	for _, nd := range c.honest {
		if nd.Override.ExecutionFault != ExecFaultWithholdPacks && len(c.answers[nd.Name]) > 0 {
			servers = append(servers, nd)
		}
	}
	if len(servers) == 0 {
		if len(c.withholders) > 0 {
			c.note("no honest executor serving packs answered: packs not checked")
		}
		return
	}
	for _, nd := range c.r.nodes {
		if nd.Role != "" || nd.Follower { // validators (consensus nodes) have no role name
			continue
		}
		keys, err := genesis.LoadKeys(filepath.Join(nd.Home, "config", "keys.json"))
		if err != nil {
			c.note("%s's keys: %v", nd.Name, err)
			continue
		}
		c.signer = keys
		break
	}
	if c.signer == nil {
		c.r.violate("results", "no consensus node's keys to sign pack requests with: packs not checked")
		return
	}
	vm, closeVM, err := floeledger.NewVM(ctx, c.r.net.Genesis)
	if err != nil {
		c.r.violate("results", "the network's VM: %v", err)
		return
	}
	defer closeVM()
	c.vm = vm
	ref := servers[0]
	var candidates []uint64
	for h, resp := range c.answers[ref.Name] {
		if resp.Chunks > 1 && h+packWindow > c.rep.UpTo {
			candidates = append(candidates, h)
		}
	}
	if len(candidates) == 0 {
		c.note("no recent height with collections: packs not checked")
		return
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i] < candidates[j] })
	newest := candidates[len(candidates)-1]
	rest := candidates[:len(candidates)-1]
	c.r.rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	sample := append([]uint64{newest}, rest[:min(packSampleHeights-1, len(rest))]...)
	sort.Slice(sample, func(i, j int) bool { return sample[i] < sample[j] })
	for _, nd := range servers {
		var missing, served []uint64
		missingChunks, chunks := 0, 0
		for _, h := range sample {
			resp, ok := c.answers[nd.Name][h]
			if !ok {
				continue
			}
			res, err := decodeServedResult(resp)
			if err != nil {
				c.r.violate("results", "%s serves an undecodable result for height %d: %v", nd.Name, h, err)
				continue
			}
			miss := 0
			for i := range res.Chunks {
				chunks++
				chunk := payload.ChunkID(res.ID(), i)
				raw, err := c.pack(ctx, nd, chunk)
				if err != nil {
					if apiclient.IsStatus(err, http.StatusNotFound) {
						miss++
					} else {
						c.note("%s: data pack of chunk %d of height %d: %v", nd.Name, i, h, err)
					}
					continue
				}
				if err := verifyPack(c.vm, res, i, raw); err != nil {
					c.r.violate("results", "%s's data pack of chunk %d of height %d does not verify: %v", nd.Name, i, h, err)
					continue
				}
				c.rep.PacksVerified++
				if nd == ref {
					c.checkWithheld(ctx, chunk, i, h)
					if i == 0 {
						c.checkUnsigned(ctx, nd, chunk)
					}
				}
			}
			missingChunks += miss
			if miss > 0 {
				missing = append(missing, h)
			} else {
				served = append(served, h)
			}
		}
		if missingChunks > 0 {
			c.r.violate("results", "%s answers 404 for %d of the %d data packs of sampled heights %v (executed height %d; packs of the newest %d heights must be served), while it served every pack of heights %v",
				nd.Name, missingChunks, chunks, missing, c.executed[nd.Name], packWindow, served)
		}
	}
}

// pack asks nd for chunk's data pack, signed as the check's consensus
// node.
func (c *resultsCheck) pack(ctx context.Context, nd *nodeState, chunk model.Identifier) ([]byte, error) {
	auth, err := payload.SignPackRequest(c.signer.Staking, c.chain, c.signer.NodeID(), chunk, time.Now())
	if err != nil {
		return nil, err
	}
	return nd.client.pack(ctx, chunk, auth)
}

// checkUnsigned asks nd for a chunk's pack without signing: it must
// refuse (401), packs are for staked nodes only.
func (c *resultsCheck) checkUnsigned(ctx context.Context, nd *nodeState, chunk model.Identifier) {
	_, err := nd.client.pack(ctx, chunk, payload.PackAuth{})
	switch {
	case apiclient.IsStatus(err, http.StatusUnauthorized):
		c.rep.PacksRefusedUnsigned++
	case err == nil:
		c.r.violate("results", "%s served a chunk data pack to an unsigned request", nd.Name)
	default:
		c.note("%s: unsigned pack request: %v", nd.Name, err)
	}
}

// checkWithheld asks every withholding executor for a chunk's pack, which
// it must refuse (404).
func (c *resultsCheck) checkWithheld(ctx context.Context, chunk model.Identifier, i int, h uint64) {
	for _, w := range c.withholders {
		_, err := c.pack(ctx, w, chunk)
		switch {
		case apiclient.IsStatus(err, http.StatusNotFound):
			c.rep.PacksWithheld++
		case err == nil:
			c.r.violate("results", "%s, set to withhold its data packs, served chunk %d of height %d", w.Name, i, h)
		default:
			c.note("%s: data pack of chunk %d of height %d: %v", w.Name, i, h, err)
		}
	}
}

// decodeServedResult decodes the result an execution node serves and
// checks that it is the one the node names.
func decodeServedResult(resp api.ExecutionResultResponse) (*payload.ExecutionResult, error) {
	raw, err := hex.DecodeString(resp.Encoded)
	if err != nil {
		return nil, fmt.Errorf("encoded: %w", err)
	}
	res, err := payload.DecodeExecutionResult(raw)
	if err != nil {
		return nil, err
	}
	if id := res.ID().Hex(); id != resp.Result {
		return nil, fmt.Errorf("the encoding is result %s, the node names %s", short(id), short(resp.Result))
	}
	if res.Height != resp.Height {
		return nil, fmt.Errorf("the encoding is of height %d", res.Height)
	}
	return res, nil
}

// verifyPack re-executes chunk i of res from a served data pack on vm,
// the network's VM (floeledger.NewVM).
func verifyPack(vm execution.VM, res *payload.ExecutionResult, i int, raw []byte) error {
	p, err := execution.DecodeChunkDataPack(raw)
	if err != nil {
		return err
	}
	return execution.VerifyChunk(vm, res, i, p)
}

// resultsLine summarizes the check for the text report.
func (rr *ResultsReport) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "results: %d heights up to %d compared across %s", rr.Compared, rr.UpTo, orNone(rr.Honest))
	if len(rr.Byzantine) > 0 {
		fmt.Fprintf(&b, "; %s published %d wrong results among the recent heights", strings.Join(rr.Byzantine, ","), rr.Published)
	}
	names := make([]string, 0, len(rr.Disagreements))
	for n := range rr.Disagreements {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d (%d byzantine)", n, rr.Disagreements[n], rr.Attributed[n]))
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "; disagreements listed: %s", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "; %d data packs verified, %d withheld, %d unsigned requests refused", rr.PacksVerified, rr.PacksWithheld, rr.PacksRefusedUnsigned)
	return b.String()
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "no honest executor"
	}
	return strings.Join(names, ",")
}
