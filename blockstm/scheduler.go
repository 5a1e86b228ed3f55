package blockstm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// runSpin is how long a run waiting for another spins before parking.
const runSpin = 200 * time.Microsecond

// txStatus is where a transaction's current incarnation stands.
type txStatus uint8

const (
	readyToExecute txStatus = iota
	executing
	executed
	aborting
)

// taskKind says what a worker does next.
type taskKind uint8

const (
	noTask taskKind = iota
	executeTask
	validateTask
)

// task is a run or a validation of one incarnation.
type task struct {
	kind    taskKind
	tx, inc int32
}

// txState is one transaction's incarnation, status and the transactions
// waiting for its next run to finish, under one lock. Locks are taken
// lower transaction first (a dependency is always on a lower one), so
// they never deadlock.
type txState struct {
	mu     sync.Mutex
	inc    int32
	status txStatus
	deps   []int32
	_      [24]byte // neighbours, run by other workers, on their own cache line
}

// scheduler is Block-STM's collaborative scheduler: two indices sweep
// the block, one handing out executions and one validations, each
// lowered whenever work below it must be redone; the lower of the two
// is served first, so the transactions everyone else's reads depend on
// are run and checked first. The block is done when both indices are
// past its end, no task is in flight, and no index was lowered while
// that was checked.
type scheduler struct {
	n   int64
	txs []txState
	// The counters every worker changes each get a cache line, apart
	// from the fields only read.
	_           pad
	execIdx     atomic.Int64
	_           pad
	validIdx    atomic.Int64
	_           pad
	decreaseCnt atomic.Int64
	_           pad
	active      atomic.Int64
	_           pad
	done        atomic.Bool

	// Idle workers park instead of spinning, so that on a shared machine
	// they do not take CPU from the worker running the transaction that
	// everyone waits for. They wake when an index is lowered (new work),
	// when the block is done, or on stop.
	idleMu sync.Mutex
	idle   *sync.Cond
	parked atomic.Int32
	_      pad

	// A run that needs the result of a run in progress waits for it in
	// place (waitForRun); runs ending broadcast here.
	runMu      sync.Mutex
	runEnded   *sync.Cond
	runWaiters atomic.Int32
}

func newScheduler(n int) *scheduler {
	s := &scheduler{n: int64(n), txs: make([]txState, n)}
	s.idle = sync.NewCond(&s.idleMu)
	s.runEnded = sync.NewCond(&s.runMu)
	return s
}

// wakeRunWaiters rouses runs waiting in place; called after a run ends
// (its status left executing) and on stop.
func (s *scheduler) wakeRunWaiters() {
	if s.runWaiters.Load() > 0 {
		s.runMu.Lock()
		s.runEnded.Broadcast()
		s.runMu.Unlock()
	}
}

// runWait is what waitForRun found.
type runWait uint8

const (
	// runFinished: the transaction's latest run has ended with its
	// writes recorded (now, or after waiting): read again.
	runFinished runWait = iota
	// runNotRunning: nobody is running it; wait for it as a dependency.
	runNotRunning
	// runStopped: the block was stopped while waiting.
	runStopped
)

// waitForRun waits while transaction tx is being run. It spins first
// (for up to runSpin: a transaction's run is tens of microseconds, less
// than waking a parked thread costs on a busy machine, and the waiter is
// next on the critical path), then parks. Waiting in place cannot
// deadlock: a worker waits only for a lower transaction that another
// worker is running at that moment, so the worker running the lowest
// such transaction waits for nobody and its run ends (Func terminates),
// waking those above it in turn.
func (s *scheduler) waitForRun(tx int32, stop *atomic.Bool) runWait {
	status := func() txStatus {
		t := &s.txs[tx]
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.status
	}
	check := func() (runWait, bool) {
		if stop.Load() {
			return runStopped, true
		}
		switch status() {
		case executed:
			return runFinished, true
		case executing:
			return 0, false
		default:
			return runNotRunning, true
		}
	}
	deadline := time.Now().Add(runSpin)
	for k := 1; ; k++ {
		if w, ok := check(); ok {
			return w
		}
		if k%64 == 0 && time.Now().After(deadline) {
			break
		}
		runtime.Gosched()
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.runWaiters.Add(1)
	defer s.runWaiters.Add(-1)
	for {
		if w, ok := check(); ok {
			return w
		}
		s.runEnded.Wait()
	}
}

// wake rouses parked workers. Callers change what waitForWork checks
// first; waitForWork counts itself parked before checking, so one of the
// two always sees the other (sequentially consistent atomics).
func (s *scheduler) wake() {
	if s.parked.Load() > 0 {
		s.idleMu.Lock()
		s.idle.Broadcast()
		s.idleMu.Unlock()
	}
}

// waitForWork parks a worker that found no task while both indices are
// past the block's end: only a lowered index can bring work then. It
// checks for the end first: the worker whose task ended last may be the
// one parking (its own check can have seen another worker's fleeting
// claim of an index past the end), and a parked worker checks nothing.
func (s *scheduler) waitForWork(stop *atomic.Bool) {
	if min(s.execIdx.Load(), s.validIdx.Load()) < s.n {
		return // an index is inside the block: ask again, no need to park
	}
	s.checkDone()
	s.idleMu.Lock()
	s.parked.Add(1)
	for !s.done.Load() && !stop.Load() && min(s.execIdx.Load(), s.validIdx.Load()) >= s.n {
		s.idle.Wait()
	}
	s.parked.Add(-1)
	s.idleMu.Unlock()
}

func lowerTo(idx *atomic.Int64, target int64) {
	for {
		cur := idx.Load()
		if cur <= target || idx.CompareAndSwap(cur, target) {
			return
		}
	}
}

func (s *scheduler) decreaseExecIdx(target int64) {
	lowerTo(&s.execIdx, target)
	s.decreaseCnt.Add(1)
	s.wake()
}

func (s *scheduler) decreaseValidIdx(target int64) {
	lowerTo(&s.validIdx, target)
	s.decreaseCnt.Add(1)
	s.wake()
}

// checkDone sets done when nothing is left. The decrease counter read
// before and after catches an index lowered by a task that finished
// between the reads of the indices and of the active count.
func (s *scheduler) checkDone() {
	observed := s.decreaseCnt.Load()
	if min(s.execIdx.Load(), s.validIdx.Load()) >= s.n && s.active.Load() == 0 && observed == s.decreaseCnt.Load() {
		s.done.Store(true)
		s.wake()
	}
}

// tryIncarnate starts transaction tx's next run if it is ready. The
// caller counted itself active; on failure it is no longer.
func (s *scheduler) tryIncarnate(tx int64) task {
	if tx < s.n {
		t := &s.txs[tx]
		t.mu.Lock()
		if t.status == readyToExecute {
			t.status = executing
			inc := t.inc
			t.mu.Unlock()
			return task{kind: executeTask, tx: int32(tx), inc: inc}
		}
		t.mu.Unlock()
	}
	s.active.Add(-1)
	return task{}
}

func (s *scheduler) nextExecution() task {
	if s.execIdx.Load() >= s.n {
		s.checkDone()
		return task{}
	}
	s.active.Add(1)
	return s.tryIncarnate(s.execIdx.Add(1) - 1)
}

func (s *scheduler) nextValidation() task {
	if s.validIdx.Load() >= s.n {
		s.checkDone()
		return task{}
	}
	s.active.Add(1)
	tx := s.validIdx.Add(1) - 1
	if tx < s.n {
		t := &s.txs[tx]
		t.mu.Lock()
		status, inc := t.status, t.inc
		t.mu.Unlock()
		if status == executed {
			return task{kind: validateTask, tx: int32(tx), inc: inc}
		}
	}
	s.active.Add(-1)
	return task{}
}

// nextTask hands out the lower of the next validation and the next
// execution.
func (s *scheduler) nextTask() task {
	if s.validIdx.Load() < s.execIdx.Load() {
		return s.nextValidation()
	}
	return s.nextExecution()
}

// addDependency parks tx until blocking's running incarnation finishes.
// It returns false when blocking has already finished, and the caller
// runs tx again at once.
func (s *scheduler) addDependency(tx, blocking int32) bool {
	b := &s.txs[blocking]
	b.mu.Lock()
	if b.status == executed {
		b.mu.Unlock()
		return false
	}
	t := &s.txs[tx]
	t.mu.Lock()
	t.status = aborting
	t.mu.Unlock()
	b.deps = append(b.deps, tx)
	b.mu.Unlock()
	s.wakeRunWaiters()
	s.active.Add(-1)
	return true
}

// setReady makes tx's next incarnation runnable.
func (s *scheduler) setReady(tx int32) {
	t := &s.txs[tx]
	t.mu.Lock()
	t.inc++
	t.status = readyToExecute
	t.mu.Unlock()
}

// finishExecution records that tx's run ended, wakes the transactions
// waiting for it, and says what to validate: if validation has passed
// tx, tx itself, and everything above it too when the run wrote a
// register its previous run did not (a reader above may have read past
// it, a read validation would not otherwise revisit). The validation of
// tx is handed back to this worker directly.
func (s *scheduler) finishExecution(tx, inc int32, wroteNew bool) task {
	t := &s.txs[tx]
	t.mu.Lock()
	t.status = executed
	deps := t.deps
	t.deps = nil
	t.mu.Unlock()
	s.wakeRunWaiters()
	if len(deps) > 0 {
		lowest := deps[0]
		for _, d := range deps {
			s.setReady(d)
			lowest = min(lowest, d)
		}
		s.decreaseExecIdx(int64(lowest))
	}
	if s.validIdx.Load() > int64(tx) {
		if wroteNew {
			// The paper lowers the validation index to tx; this worker
			// then takes tx's validation itself, as if it had claimed
			// that index at once, and the index goes to tx+1.
			s.decreaseValidIdx(int64(tx) + 1)
		}
		return task{kind: validateTask, tx: tx, inc: inc}
	}
	s.active.Add(-1)
	return task{}
}

// tryValidationAbort claims the abort of incarnation inc of tx; only the
// first failed validation of an incarnation aborts it.
func (s *scheduler) tryValidationAbort(tx, inc int32) bool {
	t := &s.txs[tx]
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inc == inc && t.status == executed {
		t.status = aborting
		return true
	}
	return false
}

// finishValidation ends a validation. An aborted transaction runs again
// (at once, by this worker, if the execution index has passed it) and
// everything above it is validated again.
func (s *scheduler) finishValidation(tx int32, aborted bool) task {
	if aborted {
		s.setReady(tx)
		s.decreaseValidIdx(int64(tx) + 1)
		if s.execIdx.Load() > int64(tx) {
			if next := s.tryIncarnate(int64(tx)); next.kind != noTask {
				return next
			}
			return task{} // tryIncarnate already left the active count
		}
	}
	s.active.Add(-1)
	return task{}
}

// isExecuted reports whether tx's latest run has finished.
func (s *scheduler) isExecuted(tx int32) bool {
	t := &s.txs[tx]
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status == executed
}
