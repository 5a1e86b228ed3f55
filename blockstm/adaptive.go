package blockstm

import (
	"context"
	"runtime"

	"github.com/floe-bft/floe/state"
)

// Adaptive executes a node's successive blocks, choosing per block between
// Execute and Sequential from what the recent blocks showed. Both give the
// same Output, so the choice is a node's performance setting and never
// changes a result. At full contention (every transaction reading what the
// one before wrote) the parallel machinery can only wait and hand over,
// which costs more than it saves. What bounds the gain is the block's
// critical path (CriticalPath): n transactions whose longest chain of
// read-after-write dependencies is d long cannot run faster than d
// sequential steps, so n/d is the most parallelism there is. Blocks of a
// chain under one workload look alike: after a parallel block with n/d
// below MinParallelism, the next Backoff blocks run sequentially, and then
// a block probes in parallel again; each probe that finds the workload
// still contended doubles the backoff (up to MaxBackoff), so a lasting
// hot spot costs one parallel block in many. Blocks with fewer than MinTxs
// transactions always run sequentially. Not safe for concurrent use: one
// execution loop owns it.
type Adaptive struct {
	// Workers as in Options (0: GOMAXPROCS). With one worker every block
	// runs sequentially.
	Workers int
	// MinTxs is the smallest block run in parallel (default 4 per worker).
	MinTxs int
	// Backoff is how many blocks run sequentially after a contended one
	// (default 8); MaxBackoff bounds its doubling (default 64).
	Backoff, MaxBackoff int
	// MinParallelism is the smallest n/CriticalPath worth running in
	// parallel (default 1.5).
	MinParallelism float64

	sequentialLeft int
	backoff        int // the current backoff: Backoff, doubled per contended probe
	// Parallel and SequentialBlocks count the choices, for reports.
	ParallelBlocks, SequentialBlocks int
}

// Execute runs one block and returns what Sequential returns.
func (a *Adaptive) Execute(ctx context.Context, base state.Reader, n int, run Func) (*Output, error) {
	workers := a.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	minTxs := a.MinTxs
	if minTxs <= 0 {
		minTxs = 4 * workers
	}
	if workers <= 1 || n < minTxs || a.sequentialLeft > 0 {
		if a.sequentialLeft > 0 && n >= minTxs {
			a.sequentialLeft--
		}
		a.SequentialBlocks++
		return Sequential(base, n, run)
	}
	out, err := Execute(ctx, base, n, run, Options{Workers: workers})
	if err != nil {
		return nil, err
	}
	a.ParallelBlocks++
	minPar := a.MinParallelism
	if minPar <= 0 {
		minPar = 1.5
	}
	if float64(n) < minPar*float64(out.CriticalPath()) {
		base, most := a.Backoff, a.MaxBackoff
		if base <= 0 {
			base = 8
		}
		if most < base {
			most = max(64, base)
		}
		if a.backoff == 0 {
			a.backoff = base
		} else {
			a.backoff = min(2*a.backoff, most)
		}
		a.sequentialLeft = a.backoff
	} else {
		a.backoff = 0
	}
	return out, nil
}

// CriticalPath is the length of the block's longest chain of
// transactions each reading a register the one before it in the chain
// wrote last: no schedule runs the block in fewer sequential steps. It is
// n at full contention and 1 for transactions that share nothing.
func (o *Output) CriticalPath() int {
	writes := 0
	for _, ws := range o.Writes {
		writes += len(ws)
	}
	lastWriter := make(map[state.RegisterID]int, writes)
	depth := make([]int, len(o.Results))
	longest := 0
	for i := range o.Results {
		d := 1
		for _, id := range o.Reads[i] {
			if w, ok := lastWriter[id]; ok {
				d = max(d, depth[w]+1)
			}
		}
		depth[i] = d
		longest = max(longest, d)
		for _, w := range o.Writes[i] {
			lastWriter[w.ID] = i
		}
	}
	return longest
}
