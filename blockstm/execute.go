package blockstm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/floe-bft/floe/state"
)

// errIncomplete would mean the scheduler finished with a transaction
// never run: a bug here, reported instead of a wrong output.
var errIncomplete = errors.New("blockstm: internal error: a transaction has no finished run")

// incarnation is what one finished run of a transaction left: its read
// set with versions (for validation), its write set sorted by ID (its
// entries in the multi-version memory) and its outcome. It is immutable
// once published.
type incarnation struct {
	inc    int32
	reads  []readEntry
	writes []state.Write
	result Result
	err    error

	// The run's view, its source and the first buffers of its read and
	// write sets share the incarnation's allocation: one per run.
	view     txView
	src      mvSource
	readBuf  [runBuf]readEntry
	writeBuf [runBuf]state.Write
}

// runBuf is how many reads and writes a run holds before its sets
// allocate: most transactions touch a few registers.
const runBuf = 4

// pad keeps what it follows off the next fields' cache line.
type pad [64]byte

// executor is one block's parallel execution.
type executor struct {
	base  state.Reader
	run   Func
	mv    *mvMemory
	sched *scheduler
	last  []atomic.Pointer[incarnation]
	stop  atomic.Bool
	_     pad
	// recorded counts transactions with a finished run, the denominator
	// of a register's hotness.
	recorded atomic.Int64
	_        pad
	// stats sums the workers' counts when they end.
	stats execStats
}

// execStats count the work behind one Execute, for the benchmark
// report: runs of Func (waits: runs cut short to wait as a dependency),
// validations that aborted, reads that waited in place.
type execStats struct {
	runs, waits, aborts, inPlace atomic.Int64
}

// runStats is a snapshot of execStats.
type runStats struct {
	runs, waits, aborts, inPlace int64
}

func (s *execStats) add(r runStats) {
	s.runs.Add(r.runs)
	s.waits.Add(r.waits)
	s.aborts.Add(r.aborts)
	s.inPlace.Add(r.inPlace)
}

func (e *executor) statsSnapshot() runStats {
	return runStats{runs: e.stats.runs.Load(), waits: e.stats.waits.Load(), aborts: e.stats.aborts.Load(), inPlace: e.stats.inPlace.Load()}
}

// Execute runs transactions 0..n-1 of a block over base with opts.Workers
// goroutines and returns exactly what Sequential returns: the same
// Output, or the same error (the one of the lowest transaction whose
// final run failed, as "transaction i: err"; a failed speculative run is
// discarded like any invalid run, so an error is only returned after the
// block's runs settle). Cancelling ctx stops the workers between tasks
// and returns ctx's error. n is at most MaxTxs.
func Execute(ctx context.Context, base state.Reader, n int, run Func, opts Options) (*Output, error) {
	out, _, err := execute(ctx, base, n, run, opts)
	return out, err
}

// execute is Execute, with what it cost.
func execute(ctx context.Context, base state.Reader, n int, run Func, opts Options) (*Output, runStats, error) {
	if err := checkTxCount(n); err != nil {
		return nil, runStats{}, err
	}
	if base == nil {
		return nil, runStats{}, errNilBase
	}
	workers := opts.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers < 0 || workers > MaxWorkers {
		return nil, runStats{}, fmt.Errorf("%w: %d workers (0 to %d)", ErrInvalidOptions, opts.Workers, MaxWorkers)
	}
	if err := ctx.Err(); err != nil {
		return nil, runStats{}, err
	}
	if n == 0 {
		return newOutput(0), runStats{}, nil
	}
	e := &executor{
		base:  base,
		run:   run,
		mv:    newMVMemory(n),
		sched: newScheduler(n),
		last:  make([]atomic.Pointer[incarnation], n),
	}
	release := context.AfterFunc(ctx, func() {
		e.stop.Store(true)
		e.sched.wake()
		e.sched.wakeRunWaiters()
	})
	defer release()

	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(e.work)
	}
	wg.Wait()
	if !e.sched.done.Load() {
		if err := ctx.Err(); err != nil {
			return nil, e.statsSnapshot(), err
		}
		return nil, e.statsSnapshot(), errIncomplete
	}
	out, err := e.output(n, workers)
	return out, e.statsSnapshot(), err
}

// work is one worker's loop: finish the task in hand (a finished task
// may hand over the next one directly), else ask the scheduler.
// It counts its work locally and adds it to the block's stats when it
// ends.
func (e *executor) work() {
	var st runStats
	defer func() { e.stats.add(st) }()
	var t task
	for !e.sched.done.Load() && !e.stop.Load() {
		switch t.kind {
		case executeTask:
			t = e.execute(t, &st)
		case validateTask:
			t = e.validate(t, &st)
		default:
			if t = e.sched.nextTask(); t.kind == noTask {
				e.sched.waitForWork(&e.stop)
			}
		}
	}
}

// execute runs an incarnation. A run that read an estimate waits for its
// writer (or runs again at once if the writer has finished meanwhile); a
// finished run publishes its writes and read set.
func (e *executor) execute(t task, st *runStats) task {
	p := &incarnation{inc: t.inc}
	for {
		p.src = mvSource{e: e, tx: t.tx, stats: st}
		v := &p.view
		v.reset(&p.src, p.readBuf[:], p.writeBuf[:])
		res, err := runTx(e.run, int(t.tx), v)
		st.runs++
		if v.blockedBy >= 0 {
			st.waits++
			if e.sched.addDependency(t.tx, int32(v.blockedBy)) {
				return task{}
			}
			if e.stop.Load() {
				return task{}
			}
			continue
		}
		wroteNew := e.record(t, p, res, err)
		return e.sched.finishExecution(t.tx, t.inc, wroteNew)
	}
}

// record publishes a finished run: its writes into the multi-version
// memory, the previous run's entries it no longer writes removed, then
// its incarnation. It reports whether the run wrote a register the
// previous one did not.
func (e *executor) record(t task, p *incarnation, res Result, err error) bool {
	writes := p.view.sortWritesInPlace()
	for _, w := range writes {
		e.mv.write(w.ID, t.tx, t.inc, w.Value)
	}
	var prev []state.Write
	if q := e.last[t.tx].Load(); q != nil {
		prev = q.writes
	} else {
		e.recorded.Add(1)
	}
	wroteNew := false
	i, j := 0, 0
	for i < len(prev) || j < len(writes) {
		var c int
		switch {
		case i == len(prev):
			c = 1
		case j == len(writes):
			c = -1
		default:
			c = CompareIDs(prev[i].ID, writes[j].ID)
		}
		switch {
		case c < 0:
			e.mv.remove(prev[i].ID, t.tx)
			i++
		case c > 0:
			wroteNew = true
			j++
		default:
			i++
			j++
		}
	}
	p.reads, p.writes, p.result, p.err = p.view.reads, writes, res, err
	e.last[t.tx].Store(p)
	return wroteNew
}

// Hot registers. Block-STM waits only for writers it knows of (an
// estimate left by an aborted run); a transaction's first run writes
// nothing until it ends, so at full contention every reader of the hot
// register races its predecessor and most first runs are wasted. When
// most transactions of the block write a register, a reader instead
// waits for the nearest unfinished transaction between the version it
// found and itself, as if that one had left an estimate. This only
// chooses when a run starts, never what a run reads or what is accepted
// (validation is unchanged), so it cannot change the Output; it cannot
// deadlock because it waits only for a lower transaction, like an
// estimate does, and the lowest unfinished transaction never waits.
const (
	// hotMinRecorded is how many transactions must have run before
	// hotness is judged.
	hotMinRecorded = 8
	// hotScan bounds how far below itself a reader looks for an
	// unfinished transaction.
	hotScan = 32
)

// likelyWriter returns the transaction tx should wait for before reading
// a register that writers transactions write and whose latest version
// below tx is from transaction from (-1: the start state), or -1.
func (e *executor) likelyWriter(writers int, from, tx int32) int {
	if 2*writers <= hotMinRecorded {
		return -1 // not hot whatever recorded is; spares the shared load
	}
	recorded := e.recorded.Load()
	if recorded < hotMinRecorded || int64(2*writers) <= recorded {
		return -1
	}
	for m := tx - 1; m > from && m >= tx-hotScan; m-- {
		if !e.sched.isExecuted(m) {
			return int(m)
		}
	}
	return -1
}

// validate re-reads an incarnation's read set: it is valid when every
// register still resolves to the same writer's same run. An invalid
// incarnation that this validation is first to abort has its writes
// marked as estimates before anything above it is validated again.
func (e *executor) validate(t task, st *runStats) task {
	valid := e.validReads(t.tx)
	aborted := !valid && e.sched.tryValidationAbort(t.tx, t.inc)
	if aborted {
		st.aborts++
		for _, w := range e.last[t.tx].Load().writes {
			e.mv.markEstimate(w.ID, t.tx)
		}
	}
	return e.sched.finishValidation(t.tx, aborted)
}

func (e *executor) validReads(tx int32) bool {
	p := e.last[tx].Load()
	for _, r := range p.reads {
		_, ver, found, blockedBy, _ := e.mv.read(r.id, tx)
		switch {
		case blockedBy >= 0:
			return false
		case !found:
			if r.ver != startVersion {
				return false
			}
		case ver != r.ver:
			return false
		}
	}
	return true
}

// output assembles the final incarnations, Sequential's way. The
// per-transaction read lists and the block's net writes are built by up
// to workers goroutines (each a share of the transactions and of the
// multi-version memory's shards), so that this tail of the block, which
// no other work overlaps, is not one core's.
func (e *executor) output(n, workers int) (*Output, error) {
	out := newOutput(n)
	for i := range n {
		p := e.last[i].Load()
		if p == nil {
			return nil, fmt.Errorf("%w: transaction %d", errIncomplete, i)
		}
		if p.err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, p.err)
		}
		out.Results[i] = p.result
	}
	parts := max(1, min(workers, outputParts, n/outputMinTxs))
	finals := make([][]state.Write, parts)
	part := func(k int) {
		e.outputTxs(out, k*n/parts, (k+1)*n/parts)
		finals[k] = e.mv.finalWrites(k*mvShards/parts, (k+1)*mvShards/parts)
	}
	var wg sync.WaitGroup
	for k := 1; k < parts; k++ {
		wg.Go(func() { part(k) })
	}
	part(0)
	wg.Wait()
	out.Final = mergeWrites(finals)
	return out, nil
}

// outputTxs fills in the read lists and write sets of transactions
// [lo, hi), each in one array for all of them (a run's write set lives
// in its incarnation, which the Output does not keep).
func (e *executor) outputTxs(out *Output, lo, hi int) {
	nr, nw := 0, 0
	for i := lo; i < hi; i++ {
		p := e.last[i].Load()
		nr += len(p.reads)
		nw += len(p.writes)
	}
	ids := make([]state.RegisterID, 0, nr)
	ws := make([]state.Write, 0, nw)
	for i := lo; i < hi; i++ {
		p := e.last[i].Load()
		a := len(ids)
		for _, r := range p.reads {
			ids = append(ids, r.id)
		}
		slices.SortFunc(ids[a:], CompareIDs)
		// Reads empty but not nil, as readIDs makes them; Writes nil
		// when empty, as Sequential's.
		out.Reads[i] = ids[a:len(ids):len(ids)]
		if len(p.writes) > 0 {
			b := len(ws)
			ws = append(ws, p.writes...)
			out.Writes[i] = ws[b:len(ws):len(ws)]
		}
	}
}

// outputParts bounds the goroutines assembling an Output; outputMinTxs
// is the fewest transactions worth a goroutine of their own.
const (
	outputParts  = 8
	outputMinTxs = 64
)

// mergeWrites merges write lists each sorted by ID with no ID in two
// lists; nil when there are none, as netWrites.
func mergeWrites(lists [][]state.Write) []state.Write {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	if total == 0 {
		return nil
	}
	if len(lists) == 1 {
		return lists[0]
	}
	out := make([]state.Write, 0, total)
	for len(out) < total {
		best := -1
		for k, l := range lists {
			if len(l) > 0 && (best < 0 || CompareIDs(l[0].ID, lists[best][0].ID) < 0) {
				best = k
			}
		}
		out = append(out, lists[best][0])
		lists[best] = lists[best][1:]
	}
	return out
}
