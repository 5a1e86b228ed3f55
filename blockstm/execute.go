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
}

// executor is one block's parallel execution.
type executor struct {
	base  state.Reader
	run   Func
	mv    *mvMemory
	sched *scheduler
	last  []atomic.Pointer[incarnation]
	stop  atomic.Bool
}

// Execute runs transactions 0..n-1 of a block over base with opts.Workers
// goroutines and returns exactly what Sequential returns: the same
// Output, or the same error (the one of the lowest transaction whose
// final run failed, as "transaction i: err"; a failed speculative run is
// discarded like any invalid run, so an error is only returned after the
// block's runs settle). Cancelling ctx stops the workers between tasks
// and returns ctx's error. n is at most MaxTxs.
func Execute(ctx context.Context, base state.Reader, n int, run Func, opts Options) (*Output, error) {
	if err := checkTxCount(n); err != nil {
		return nil, err
	}
	if base == nil {
		return nil, errNilBase
	}
	workers := opts.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers < 0 || workers > MaxWorkers {
		return nil, fmt.Errorf("%w: %d workers (0 to %d)", ErrInvalidOptions, opts.Workers, MaxWorkers)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return newOutput(0), nil
	}
	e := &executor{
		base:  base,
		run:   run,
		mv:    newMVMemory(),
		sched: newScheduler(n),
		last:  make([]atomic.Pointer[incarnation], n),
	}
	release := context.AfterFunc(ctx, func() { e.stop.Store(true) })
	defer release()

	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(e.work)
	}
	wg.Wait()
	if !e.sched.done.Load() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errIncomplete
	}
	return e.output(n)
}

// work is one worker's loop: finish the task in hand (a finished task
// may hand over the next one directly), else ask the scheduler.
func (e *executor) work() {
	var t task
	for !e.sched.done.Load() && !e.stop.Load() {
		switch t.kind {
		case executeTask:
			t = e.execute(t)
		case validateTask:
			t = e.validate(t)
		default:
			if t = e.sched.nextTask(); t.kind == noTask {
				runtime.Gosched()
			}
		}
	}
}

// execute runs an incarnation. A run that read an estimate waits for its
// writer (or runs again at once if the writer has finished meanwhile); a
// finished run publishes its writes and read set.
func (e *executor) execute(t task) task {
	for {
		v := newView(&mvSource{mv: e.mv, base: e.base, tx: t.tx})
		res, err := runTx(e.run, int(t.tx), v)
		if v.blockedBy >= 0 {
			if e.sched.addDependency(t.tx, int32(v.blockedBy)) {
				return task{}
			}
			if e.stop.Load() {
				return task{}
			}
			continue
		}
		wroteNew := e.record(t, v, res, err)
		return e.sched.finishExecution(t.tx, t.inc, wroteNew)
	}
}

// record publishes a finished run: its writes into the multi-version
// memory, the previous run's entries it no longer writes removed, then
// its incarnation. It reports whether the run wrote a register the
// previous one did not.
func (e *executor) record(t task, v *txView, res Result, err error) bool {
	writes := v.sortedWrites()
	for _, w := range writes {
		e.mv.write(w.ID, t.tx, t.inc, w.Value)
	}
	var prev []state.Write
	if p := e.last[t.tx].Load(); p != nil {
		prev = p.writes
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
	e.last[t.tx].Store(&incarnation{inc: t.inc, reads: v.reads, writes: writes, result: res, err: err})
	return wroteNew
}

// validate re-reads an incarnation's read set: it is valid when every
// register still resolves to the same writer's same run. An invalid
// incarnation that this validation is first to abort has its writes
// marked as estimates before anything above it is validated again.
func (e *executor) validate(t task) task {
	valid := e.validReads(t.tx)
	aborted := !valid && e.sched.tryValidationAbort(t.tx, t.inc)
	if aborted {
		for _, w := range e.last[t.tx].Load().writes {
			e.mv.markEstimate(w.ID, t.tx)
		}
	}
	return e.sched.finishValidation(t.tx, aborted)
}

func (e *executor) validReads(tx int32) bool {
	p := e.last[tx].Load()
	for _, r := range p.reads {
		_, ver, found, blockedBy := e.mv.read(r.id, tx)
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

// output assembles the final incarnations, Sequential's way.
func (e *executor) output(n int) (*Output, error) {
	out := newOutput(n)
	for i := range n {
		p := e.last[i].Load()
		if p == nil {
			return nil, fmt.Errorf("%w: transaction %d", errIncomplete, i)
		}
		if p.err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, p.err)
		}
		out.Results[i], out.Reads[i], out.Writes[i] = p.result, readIDs(p.reads), slices.Clip(p.writes)
	}
	out.Final = netWrites(out.Writes)
	return out, nil
}
