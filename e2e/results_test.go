package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
	"github.com/floe-bft/floe/workload"
)

// The heights compared are all of them up to the cap, and beyond it a
// bounded set that keeps the newest ones and spreads over the rest.
func TestResultHeights(t *testing.T) {
	if got := resultHeights(5, 10); len(got) != 5 || got[0] != 1 || got[4] != 5 {
		t.Fatalf("all of 5: %v", got)
	}
	if got := resultHeights(0, 10); len(got) != 0 {
		t.Fatalf("none executed: %v", got)
	}
	got := resultHeights(10_000, 2000)
	if len(got) != 2000 || got[0] != 1 || got[len(got)-1] != 10_000 || got[len(got)-1000] != 9001 {
		t.Fatalf("%d heights from %d to %d", len(got), got[0], got[len(got)-1])
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("heights not increasing at %d: %d after %d", i, got[i], got[i-1])
		}
	}
}

// fakeExecutor serves an execution node's results, packs and executed
// height; fakeConsensus a consensus node's disagreements.
type fakeExecutor struct {
	mu        sync.Mutex
	results   map[uint64]api.ExecutionResultResponse
	packs     map[model.Identifier][]byte
	withholds bool
	// servesUnsigned: packs go to requests without a valid signed
	// authorization too (a real node refuses them, 401).
	servesUnsigned bool
	height         uint64
}

func (f *fakeExecutor) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case req.URL.Path == "/metrics":
		fmt.Fprintf(w, "# TYPE floe_executed_height gauge\nfloe_executed_height %d\n", f.height)
	case strings.HasPrefix(req.URL.Path, "/v1/execution/results/"):
		h, _ := strconv.ParseUint(strings.TrimPrefix(req.URL.Path, "/v1/execution/results/"), 10, 64)
		resp, ok := f.results[h]
		if !ok {
			api.WriteError(w, http.StatusNotFound, "not executed here")
			return
		}
		json.NewEncoder(w).Encode(resp)
	case strings.HasPrefix(req.URL.Path, "/v1/execution/packs/"):
		id, err := model.ParseIdentifier(strings.TrimPrefix(req.URL.Path, "/v1/execution/packs/"))
		if _, aerr := payload.ParsePackAuth(req.Header.Get(payload.PackAuthHeader)); aerr != nil && !f.servesUnsigned {
			api.WriteError(w, http.StatusUnauthorized, aerr.Error())
			return
		}
		p, ok := f.packs[id]
		if err != nil || !ok || f.withholds {
			api.WriteError(w, http.StatusNotFound, "not held here")
			return
		}
		w.Write(p)
	default:
		http.NotFound(w, req)
	}
}

type fakeConsensus struct {
	mu   sync.Mutex
	list []api.Disagreement
}

func (f *fakeConsensus) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/v1/execution/disagreements" {
		http.NotFound(w, req)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	json.NewEncoder(w).Encode(api.DisagreementsResponse{Disagreements: f.list})
}

// executedChain executes n blocks of kvstore transactions (every other
// one with collections) with the real engine: results and data packs.
func executedChain(t *testing.T, n int) []*execution.Executed {
	t.Helper()
	st, err := state.OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, err := st.Root(0)
	if err != nil {
		t.Fatal(err)
	}
	e := &execution.Engine{State: st, VM: execution.KV{}, Workers: 1}
	prev := payload.GenesisResult(model.Identifier{0xee}, model.Identifier(root))
	version := uint64(0)
	var out []*execution.Executed
	for h := 1; h <= n; h++ {
		b := execution.Block{ID: model.Identifier{byte(h), 0xb0}, Height: uint64(h)}
		if h%2 == 0 {
			var txs []collection.Tx
			for k := range 3 {
				key := fmt.Appendf(nil, "k%d", k)
				txs = append(txs, collection.Tx{Ref: model.Identifier{1}, Body: kvstore.EncodeSet(key, fmt.Appendf(nil, "v%d", h), fmt.Appendf(nil, "n%d-%d", h, k))})
			}
			b.Collections = []*collection.Collection{collection.NewCollection(txs)}
		}
		x, err := e.Execute(context.Background(), b, prev, version)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
		prev, version = x.Result, x.EndVersion
	}
	return out
}

func served(res *payload.ExecutionResult) api.ExecutionResultResponse {
	return api.ExecutionResultResponse{Height: res.Height, Block: res.Block.Hex(), Result: res.ID().Hex(), EndState: res.EndState().Hex(),
		Chunks: len(res.Chunks), Encoded: hex.EncodeToString(res.Encode())}
}

// flipped is what a wrong_end_state executor publishes for res.
func flipped(res *payload.ExecutionResult) *payload.ExecutionResult {
	out := *res
	out.Chunks = append([]payload.Chunk(nil), res.Chunks...)
	for i := range out.Chunks {
		out.Chunks[i].EndState[0] ^= 1
	}
	return &out
}

// resultsWorld is a pipeline runner with 3 executors (execution2
// byzantine with wrong_end_state, unless honest) whose execution and
// consensus nodes are fakes serving an executed chain.
type resultsWorld struct {
	r         *Runner
	chain     []*execution.Executed
	exec      []*fakeExecutor
	cons      []*fakeConsensus
	byzantine string // execution2's node ID (hex)
}

func newResultsWorld(t *testing.T, byzantine, withholder bool) *resultsWorld {
	t.Helper()
	spec := testSpec()
	spec.Pipeline = PipelineSpec{Clusters: 1, ClusterSize: 4, Executors: 3, Access: 1, App: workload.AppKV} // the chain executedChain makes
	spec.Overrides = map[string]NodeOverride{}
	if byzantine {
		spec.Overrides["execution2"] = NodeOverride{ExecutionFault: ExecFaultWrongEndState}
	}
	if withholder {
		spec.Overrides["execution1"] = NodeOverride{ExecutionFault: ExecFaultWithholdPacks}
	}
	net, err := GenerateNetwork(t.TempDir()+"/net", spec)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Name: "p", Validators: 4, Pipeline: spec.Pipeline}
	r := &Runner{m: m, opts: Options{Progress: io.Discard}, rng: rand.New(rand.NewPCG(1, 2)), violationsOf: map[string]int{},
		pipe: &pipeline{ledger: newPipeLedger(), restarted: map[string]bool{}}, report: &Report{Pipeline: &PipelineReport{}}}
	if err := r.useNetwork(net); err != nil {
		t.Fatal(err)
	}
	w := &resultsWorld{r: r, chain: executedChain(t, 8)}
	for _, nd := range r.nodes {
		var h http.Handler
		switch {
		case nd.Role == config.RoleExecution:
			f := &fakeExecutor{results: map[uint64]api.ExecutionResultResponse{}, packs: map[model.Identifier][]byte{},
				withholds: nd.Override.ExecutionFault == ExecFaultWithholdPacks, height: uint64(len(w.chain))}
			for _, x := range w.chain {
				resp := served(x.Result)
				if nd.Override.ExecutionFault == ExecFaultWrongEndState {
					resp.Published = flipped(x.Result).ID().Hex()
				}
				f.results[x.Result.Height] = resp
				for _, p := range x.Packs {
					f.packs[p.ChunkID] = p.Encode()
				}
			}
			w.exec = append(w.exec, f)
			h = f
			if nd.Name == "execution2" {
				keys, err := genesis.LoadKeys(filepath.Join(nd.Home, "config", "keys.json"))
				if err != nil {
					t.Fatal(err)
				}
				w.byzantine = keys.NodeID().Hex()
			}
		case nd.Role == "":
			f := &fakeConsensus{}
			w.cons = append(w.cons, f)
			h = f
		default:
			continue
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		nd.client = newClient(srv.URL)
		nd.started = true
	}
	return w
}

// byzantineSecond is a disagreement whose second receipt is execution2's
// wrong result; byzantineFirst one where execution2's was incorporated
// first and an honest receipt disagreed.
func (w *resultsWorld) byzantineSecond(h int) api.Disagreement {
	res := w.chain[h-1].Result
	return api.Disagreement{Height: res.Height, Block: res.Block.Hex(), Results: [2]api.ResultInfo{
		{Result: res.ID().Hex()},
		{Result: flipped(res).ID().Hex(), Executor: w.byzantine, ExecutorName: "execution2"}}}
}

func (w *resultsWorld) byzantineFirst(h int) api.Disagreement {
	res := w.chain[h-1].Result
	return api.Disagreement{Height: res.Height, Block: res.Block.Hex(), Results: [2]api.ResultInfo{
		{Result: flipped(res).ID().Hex()},
		{Result: res.ID().Hex(), Executor: "ab", ExecutorName: "execution0"}}}
}

func (w *resultsWorld) check(t *testing.T) *ResultsReport {
	t.Helper()
	w.r.violations = nil
	w.r.violationsOf = map[string]int{}
	w.r.checkResults(context.Background())
	return w.r.report.Pipeline.Results
}

func violationsText(r *Runner) string {
	var b strings.Builder
	for _, v := range r.violations {
		fmt.Fprintf(&b, "[%s] %s\n", v.Kind, v.Detail)
	}
	return b.String()
}

// The honest network passes: the honest executors agree on every height,
// each consensus node lists the byzantine executor's disagreements (as the
// second receipt or as the result incorporated first) with the honest
// result on the other side, and the sampled packs verify.
func TestResultsCheckPassesAnHonestRunWithAByzantineExecutor(t *testing.T) {
	w := newResultsWorld(t, true, false)
	for _, c := range w.cons {
		c.list = []api.Disagreement{w.byzantineSecond(3), w.byzantineFirst(4)}
	}
	rep := w.check(t)
	if len(w.r.violations) != 0 {
		t.Fatalf("violations:\n%s", violationsText(w.r))
	}
	if rep.Compared != 8 || rep.UpTo != 8 || len(rep.Honest) != 2 || rep.Published != 8 {
		t.Errorf("compared %d up to %d over %v; %d wrong results published", rep.Compared, rep.UpTo, rep.Honest, rep.Published)
	}
	for _, nd := range w.r.reachableValidators() {
		if rep.Disagreements[nd.Name] != 2 || rep.Attributed[nd.Name] != 2 {
			t.Errorf("%s: %d disagreements, %d the byzantine executor's", nd.Name, rep.Disagreements[nd.Name], rep.Attributed[nd.Name])
		}
	}
	// 4 heights with a collection, 2 chunks each, on both honest
	// executors: all verified.
	if rep.PacksVerified != 16 || rep.PacksWithheld != 0 || rep.PacksRefusedUnsigned != 4 {
		t.Errorf("packs verified %d, withheld %d, unsigned refused %d", rep.PacksVerified, rep.PacksWithheld, rep.PacksRefusedUnsigned)
	}
	if line := rep.line(); !strings.Contains(line, "8 heights up to 8 compared across execution0,execution1") || !strings.Contains(line, "node0 2 (2 byzantine)") {
		t.Errorf("report line %q", line)
	}
}

// Each broken rule is a "results" violation.
func TestResultsCheckCatches(t *testing.T) {
	for name, tc := range map[string]struct {
		byzantine, withholder bool
		breakIt               func(w *resultsWorld)
		want                  string
	}{
		"an honest executor computing another result": {true, false, func(w *resultsWorld) {
			f := w.exec[1]
			for h := uint64(5); h <= 8; h++ {
				resp := f.results[h]
				resp.Result = strings.Repeat("0", 64)
				f.results[h] = resp
			}
		}, "execution0 and execution1 computed different results for height 5"},
		"a consensus node with no disagreement of the byzantine executor": {true, false, func(w *resultsWorld) {
			w.cons[2].list = nil
		}, "node2 lists no disagreement by execution2"},
		"a disagreement between honest results": {true, false, func(w *resultsWorld) {
			d := w.byzantineFirst(4)
			d.Results[0].Result = strings.Repeat("1", 64)
			w.cons[1].list = append(w.cons[1].list, d)
		}, "node1 lists 1 disagreements that are no byzantine executor's"},
		"a disagreement whose honest side is not what the honest executors computed": {true, false, func(w *resultsWorld) {
			d := w.byzantineSecond(6)
			d.Results[0].Result = strings.Repeat("2", 64)
			w.cons[0].list = append(w.cons[0].list, d)
		}, "node0: the disagreement at height 6"},
		"a disagreement with no byzantine executor configured": {false, false, func(w *resultsWorld) {
			w.cons[3].list = []api.Disagreement{w.byzantineSecond(3)}
		}, "node3 lists 1 disagreements with no byzantine executor"},
		"a data pack that does not verify": {true, false, func(w *resultsWorld) {
			for id, p := range w.exec[0].packs {
				bad := append([]byte(nil), p...)
				bad[len(bad)/2] ^= 1
				w.exec[0].packs[id] = bad
			}
		}, "execution0's data pack of chunk"},
		"an executor serving packs to unsigned requests": {true, false, func(w *resultsWorld) {
			w.exec[0].servesUnsigned = true
		}, "execution0 served a chunk data pack to an unsigned request"},
		"an honest executor serving no pack": {true, false, func(w *resultsWorld) {
			w.exec[0].packs = map[model.Identifier][]byte{}
		}, "execution0 answers 404 for 8 of the 8 data packs of sampled heights [2 4 6 8]"},
		"an honest executor pruning its packs too early": {true, false, func(w *resultsWorld) {
			for _, x := range w.chain[:7] {
				for _, p := range x.Packs {
					delete(w.exec[1].packs, p.ChunkID)
				}
			}
		}, "execution1 answers 404 for 6 of the 8 data packs of sampled heights [2 4 6] (executed height 8; packs of the newest 400 heights must be served), while it served every pack of heights [8]"},
		"a withholding executor serving a pack": {false, true, func(w *resultsWorld) {
			w.exec[1].withholds = false
		}, "execution1, set to withhold its data packs, served chunk"},
	} {
		t.Run(name, func(t *testing.T) {
			w := newResultsWorld(t, tc.byzantine, tc.withholder)
			if tc.byzantine {
				for _, c := range w.cons {
					c.list = []api.Disagreement{w.byzantineSecond(3), w.byzantineFirst(4)}
				}
			}
			tc.breakIt(w)
			w.check(t)
			got := violationsText(w.r)
			if !strings.Contains(got, tc.want) {
				t.Fatalf("violations:\n%s\nwant one containing %q", got, tc.want)
			}
			for _, v := range w.r.violations {
				if v.Kind != "results" {
					t.Errorf("violation of kind %q", v.Kind)
				}
			}
		})
	}
}

// A withholding executor answering 404 is what it should do: counted,
// and the honest one's packs verify; its results still count as honest.
// A node that is down is skipped with a note, not a violation.
func TestResultsCheckWithholderAndDownNode(t *testing.T) {
	w := newResultsWorld(t, false, true)
	rep := w.check(t)
	if len(w.r.violations) != 0 {
		t.Fatalf("violations:\n%s", violationsText(w.r))
	}
	// execution0 and execution2 serve (8 packs each), execution1 refuses
	// each of execution0's.
	if rep.PacksVerified != 16 || rep.PacksWithheld != 8 || len(rep.Honest) != 3 {
		t.Errorf("packs verified %d, withheld %d; honest %v", rep.PacksVerified, rep.PacksWithheld, rep.Honest)
	}
	// execution0 down; execution1 trails at height 6: compared up to 6
	// over execution1 and execution2.
	for _, nd := range w.r.nodes {
		if nd.Name == "execution0" {
			nd.down = true
		}
	}
	w.exec[1].height = 6
	rep = w.check(t)
	if len(w.r.violations) != 0 {
		t.Fatalf("violations:\n%s", violationsText(w.r))
	}
	if rep.UpTo != 6 || rep.Compared != 6 || !strings.Contains(strings.Join(rep.Notes, "\n"), "execution0 is not running: skipped") {
		t.Errorf("up to %d, compared %d, notes %v", rep.UpTo, rep.Compared, rep.Notes)
	}
	// Packs: execution1 withholds and execution0 is down, so execution2
	// serves them.
	if rep.PacksVerified == 0 || rep.PacksWithheld != rep.PacksVerified {
		t.Errorf("packs verified %d, withheld %d", rep.PacksVerified, rep.PacksWithheld)
	}
}
