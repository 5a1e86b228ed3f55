package access

import (
	"sync"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
)

// entry is what the tracker keeps of one transaction.
type entry struct {
	id        model.Identifier
	status    string
	refHeight uint64
	epoch     uint64
	cluster   int
	// targets are the collectors that took it (the poller asks them);
	// empty until the forwarder delivered it.
	targets  []string
	pollTurn int

	collection      model.Identifier
	hasCollection   bool
	clusterChain    string
	finalizedHeight uint64
	executedHeight  uint64
	err             string
	hasOutcome      bool // an execution node reported ok / execErr
	ok              bool
	execErr         string
	// execution is the result, chunk and events an execution node
	// reported, kept within the tracker's byte budget (execBytes its
	// share); execDropped: it had one that did not fit, so a read fetches
	// it again.
	execution   *api.TxExecution
	execBytes   int
	execDropped bool

	submitted, collected, finalized, executed, expired, failed int64
}

// finished reports a final status: nothing will change it.
func finished(status string) bool {
	return status == api.TxExecuted || status == api.TxExpired || status == api.TxFailed
}

type dueItem struct {
	id model.Identifier
	at int64 // unix nanos
}

type collHeight struct {
	id     model.Identifier
	height uint64
}

// tracker follows the transactions this node took, bounded by capacity.
// It is driven by Submit (admit), the forwarder (delivered, fail), the
// poller (takeDue, collected) and the block processor (block), and tells
// every transition to publish. One mutex: every operation is a few map
// updates.
type tracker struct {
	mu       sync.Mutex
	capacity int
	expiry   uint64
	interval time.Duration
	publish  func(api.TxEvent)
	m        *metrics

	entries  map[model.Identifier]*entry
	finished fifo[model.Identifier] // finish order: evicted first
	due      fifo[dueItem]          // pending transactions to poll, by time
	// byCollection: collected transactions whose guarantee is not
	// finalized yet, by collection.
	byCollection map[model.Identifier][]model.Identifier
	// finalColls: collections whose guarantee a finalized block carries,
	// for the window of heights a transaction may still be collected in.
	finalColls     map[model.Identifier]uint64
	finalCollOrder fifo[collHeight]
	awaitExec      heightHeap // finalized transactions by finalized height
	deadlines      heightHeap // pending/collected transactions by expiry height
	execHeight     uint64     // newest executed height a finalized result names
	latest         uint64     // newest finalized height seen
	pending        int        // entries in status pending
	// execBytes is what the kept execution records take, at most
	// maxExecBytes.
	execBytes    int
	maxExecBytes int
}

func newTracker(capacity int, expiry uint64, interval time.Duration, m *metrics, publish func(api.TxEvent)) *tracker {
	return &tracker{
		capacity: capacity, expiry: expiry, interval: interval, m: m, publish: publish,
		entries:      make(map[model.Identifier]*entry),
		byCollection: make(map[model.Identifier][]model.Identifier),
		finalColls:   make(map[model.Identifier]uint64),
		maxExecBytes: maxExecutionBytes,
	}
}

// Bounds of the execution records (results and events) the tracker
// keeps: one transaction's at most maxTxExecutionBytes, all together at
// most maxExecutionBytes. A record over either is not kept; reading the
// transaction fetches it again (at most PollWorkers lookups at once).
const (
	maxTxExecutionBytes = 16 << 10
	maxExecutionBytes   = 64 << 20
)

// executionSize estimates what a kept execution record takes.
func executionSize(x *api.TxExecution) int {
	n := 64 + len(x.Result)
	for _, e := range x.Events {
		n += 32 + len(e.Type) + len(e.Payload)
	}
	return n
}

// admit starts tracking e unless it is tracked already (known true, and
// nothing changes): a resubmission is not forwarded twice, except after
// it failed, when it starts over. enqueue hands it to its cluster's queue
// under the tracker's lock, so a transaction is tracked iff it was
// queued. When the tracker is full of unfinished transactions, or enqueue
// refuses, it is ErrBusy and nothing changes.
func (t *tracker) admit(e *entry, now time.Time, enqueue func() bool) (known bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old, ok := t.entries[e.id]
	if ok && old.status != api.TxFailed {
		return true, nil
	}
	if !ok && len(t.entries) >= t.capacity && !t.evictOne() {
		return false, ErrBusy
	}
	if !enqueue() {
		return false, ErrBusy
	}
	if ok {
		t.m.status(old.status, -1) // its place in the finished queue goes stale
		t.execBytes -= old.execBytes
	}
	e.status = api.TxPending
	e.submitted = now.UnixNano()
	t.entries[e.id] = e
	t.pending++
	t.m.status(api.TxPending, 1)
	t.due.push(dueItem{id: e.id, at: now.Add(t.interval).UnixNano()})
	t.deadlines.add(heightItem{height: e.refHeight + t.expiry + 1, id: e.id, status: api.TxPending})
	t.emit(e, 0, e.submitted)
	return false, nil
}

// evictOne forgets the oldest finished transaction; false if none.
func (t *tracker) evictOne() bool {
	for {
		id, ok := t.finished.pop()
		if !ok {
			return false
		}
		if e, ok := t.entries[id]; ok && finished(e.status) {
			delete(t.entries, id)
			t.execBytes -= e.execBytes
			t.m.status(e.status, -1)
			return true
		}
	}
}

func (t *tracker) emit(e *entry, height uint64, at int64) {
	ev := api.TxEvent{ID: e.id.Hex(), Status: e.status, Height: height, UnixNanos: at}
	if e.hasCollection {
		ev.Collection = e.collection.Hex()
	}
	t.publish(ev)
}

func (t *tracker) move(e *entry, status string) {
	t.m.status(e.status, -1)
	t.m.status(status, 1)
	if e.status == api.TxPending {
		t.pending--
	}
	e.status = status
	if finished(status) {
		t.finished.push(e.id)
	}
}

// delivered records the collectors that took the transactions.
func (t *tracker) delivered(ids []model.Identifier, targets []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if e, ok := t.entries[id]; ok {
			e.targets = targets
		}
	}
}

// fail marks pending transactions no collector took.
func (t *tracker) fail(ids []model.Identifier, reason string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		e, ok := t.entries[id]
		if !ok || e.status != api.TxPending {
			continue
		}
		e.err, e.failed = reason, now.UnixNano()
		t.move(e, api.TxFailed)
		t.emit(e, 0, e.failed)
	}
}

// pollJob asks one collector about one transaction.
type pollJob struct {
	id  model.Identifier
	url string
}

// takeDue returns up to max polls due at now, rotating each
// transaction's collectors, and schedules the next poll of each.
func (t *tracker) takeDue(now time.Time, max int) []pollJob {
	t.mu.Lock()
	defer t.mu.Unlock()
	var jobs []pollJob
	nowN := now.UnixNano()
	for len(jobs) < max {
		d, ok := t.due.front()
		if !ok || d.at > nowN {
			break
		}
		t.due.pop()
		e, ok := t.entries[d.id]
		if !ok || e.status != api.TxPending {
			continue
		}
		if len(e.targets) > 0 {
			jobs = append(jobs, pollJob{id: e.id, url: e.targets[e.pollTurn%len(e.targets)]})
			e.pollTurn++
		}
		t.due.push(dueItem{id: e.id, at: now.Add(t.interval).UnixNano()})
	}
	return jobs
}

// collected records a collector's answer that the transaction is in
// collection coll of chain. A collection whose guarantee is already
// finalized finalizes the transaction at once.
func (t *tracker) collected(id, coll model.Identifier, chain string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[id]
	if !ok || e.status != api.TxPending {
		return
	}
	e.collection, e.hasCollection, e.clusterChain = coll, true, chain
	e.collected = now.UnixNano()
	t.move(e, api.TxCollected)
	t.m.stage(api.TxCollected, e.collected-e.submitted)
	t.emit(e, 0, e.collected)
	if h, ok := t.finalColls[coll]; ok {
		t.finalize(e, h, now)
		return
	}
	t.byCollection[coll] = append(t.byCollection[coll], id)
	// A collection may be guaranteed up to Expiry blocks after its own
	// reference, itself up to Expiry blocks above the transaction's.
	t.deadlines.add(heightItem{height: e.refHeight + 2*t.expiry + 1, id: id, status: api.TxCollected})
}

// hasPending reports whether some transaction is pending.
func (t *tracker) hasPending() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending > 0
}

// collectionFinalized applies the contents of a collection whose
// guarantee a finalized block at height carries: its pending transactions
// are collected and finalized at once (the ones a collector already named
// were finalized with the block).
func (t *tracker) collectionFinalized(coll model.Identifier, chain string, ids []model.Identifier, height uint64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		e, ok := t.entries[id]
		if !ok || e.status != api.TxPending {
			continue
		}
		e.collection, e.hasCollection, e.clusterChain = coll, true, chain
		e.collected = now.UnixNano()
		t.move(e, api.TxCollected)
		t.m.stage(api.TxCollected, e.collected-e.submitted)
		t.emit(e, 0, e.collected)
		t.finalize(e, height, now)
	}
}

// finalize moves a collected transaction to finalized at height, and on to
// executed if a finalized result already covers it.
func (t *tracker) finalize(e *entry, height uint64, now time.Time) {
	e.finalizedHeight, e.finalized = height, now.UnixNano()
	t.move(e, api.TxFinalized)
	t.m.stage(api.TxFinalized, e.finalized-e.submitted)
	t.emit(e, height, e.finalized)
	if t.execHeight >= height {
		t.execute(e, t.execHeight, now)
		return
	}
	t.awaitExec.add(heightItem{height: height, id: e.id, status: api.TxFinalized})
}

func (t *tracker) execute(e *entry, execHeight uint64, now time.Time) {
	e.executedHeight, e.executed = execHeight, now.UnixNano()
	t.move(e, api.TxExecuted)
	t.m.stage(api.TxExecuted, e.executed-e.submitted)
	t.emit(e, execHeight, e.executed)
}

// block applies a finalized main-chain block at height: the collections
// its guarantees name are finalized, its result (if any) executes what it
// covers, and what its height leaves behind expires. Blocks come in
// height order.
func (t *tracker) block(height uint64, colls []model.Identifier, resultHeight uint64, hasResult bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latest = max(t.latest, height)
	for _, c := range colls {
		if _, ok := t.finalColls[c]; ok {
			continue // a repeat (consensus includes a collection once; be safe)
		}
		t.finalColls[c] = height
		t.finalCollOrder.push(collHeight{c, height})
		for _, id := range t.byCollection[c] {
			if e, ok := t.entries[id]; ok && e.status == api.TxCollected {
				t.finalize(e, height, now)
			}
		}
		delete(t.byCollection, c)
	}
	if hasResult && resultHeight > t.execHeight {
		t.execHeight = resultHeight
		for {
			it, ok := t.awaitExec.popAtMost(t.execHeight)
			if !ok {
				break
			}
			if e, ok := t.entries[it.id]; ok && e.status == api.TxFinalized {
				t.execute(e, t.execHeight, now)
			}
		}
	}
	for {
		it, ok := t.deadlines.popAtMost(height)
		if !ok {
			break
		}
		e, ok := t.entries[it.id]
		if !ok || e.status != it.status {
			continue
		}
		if e.hasCollection {
			t.dropFromCollection(e)
		}
		e.expired = now.UnixNano()
		t.move(e, api.TxExpired)
		t.emit(e, height, e.expired)
	}
	for {
		c, ok := t.finalCollOrder.front()
		if !ok || c.height+2*t.expiry >= height {
			break
		}
		t.finalCollOrder.pop()
		delete(t.finalColls, c.id)
	}
}

func (t *tracker) dropFromCollection(e *entry) {
	ids := t.byCollection[e.collection]
	for i, id := range ids {
		if id == e.id {
			ids = append(ids[:i], ids[i+1:]...)
			break
		}
	}
	if len(ids) == 0 {
		delete(t.byCollection, e.collection)
	} else {
		t.byCollection[e.collection] = ids
	}
}

// lookup returns a tracked transaction's status, stages and kept
// execution record; fetch reports that it is executed and an execution
// node's report is missing (never fetched, or not kept).
func (t *tracker) lookup(id model.Identifier) (status string, stages *api.TxStages, x *api.TxExecution, fetch, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[id]
	if !ok {
		return "", nil, nil, false, false
	}
	st := &api.TxStages{
		RefHeight: e.refHeight, Epoch: e.epoch, Cluster: e.cluster,
		ClusterChain: e.clusterChain, FinalizedHeight: e.finalizedHeight, ExecutedHeight: e.executedHeight,
		Error: e.err, SubmittedAt: e.submitted, CollectedAt: e.collected, FinalizedAt: e.finalized,
		ExecutedAt: e.executed, ExpiredAt: e.expired, FailedAt: e.failed,
	}
	if e.hasCollection {
		st.Collection = e.collection.Hex()
	}
	if e.hasOutcome {
		ok := e.ok
		st.OK, st.ExecError = &ok, e.execErr
	}
	fetch = e.status == api.TxExecuted && (!e.hasOutcome || e.execDropped)
	return e.status, st, e.execution, fetch, true
}

// outcome records an executed transaction's result as an execution node
// reported it: ok and execErr always, the execution record (x, may be
// nil) if it fits the budget. kept reports that the transaction has a
// kept record now (x, or one an earlier concurrent lookup kept).
func (t *tracker) outcome(id model.Identifier, ok bool, execErr string, x *api.TxExecution) (kept bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, found := t.entries[id]
	if !found || e.status != api.TxExecuted {
		return false
	}
	e.hasOutcome, e.ok, e.execErr = true, ok, execErr
	if x == nil || e.execution != nil {
		return e.execution != nil
	}
	size := executionSize(x)
	if size > maxTxExecutionBytes || t.execBytes+size > t.maxExecBytes {
		e.execDropped = true
		return false
	}
	e.execution, e.execBytes, e.execDropped = x, size, false
	t.execBytes += size
	return true
}

// size is the number of tracked transactions.
func (t *tracker) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
