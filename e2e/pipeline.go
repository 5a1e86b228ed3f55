package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/app/kvstore"
	apiclient "github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/workload"
)

// A pipeline network (docs/pipeline.md) takes transactions at its access
// nodes, not at the validators: the load sends collection.Tx envelopes
// (a body and a reference block, a finalized main-chain block a few
// heights below the newest) to the access nodes, and a transaction is
// acknowledged when an access node accepts it. From then on that access
// node reports it through GET /v1/access/events (and GET
// /v1/transactions/{id}): collected, finalized, executed, or expired
// (refused: its reference block expired before a cluster collected it;
// not lost). Every acknowledged transaction must end executed or expired,
// and be executed once: the access nodes report each transition once, and
// each execution node's floe_executed_txs_total must equal the distinct
// transactions executed.

// accessEventsPath is the access nodes' stream of status transitions.
const accessEventsPath = "/v1/access/events"

// metricExecutedTxs counts the transactions an execution node executed.
const metricExecutedTxs = "floe_executed_txs_total"

// refLag is how far below an access node's newest finalized block the
// load's reference blocks are (as localnet's pipeline load): access nodes
// follow the chain a little apart, and a reference every one of them
// holds is not waited for.
const refLag = 4

// pipeTx is one acknowledged transaction of the pipeline load.
type pipeTx struct {
	access      int // node index of the access node that accepted it
	cluster     int // the cluster that collects it (collection.ClusterOf)
	submittedAt time.Time
	status      string // the latest status the access node reported
	executedAt  time.Time
	settledAt   time.Time // when the runner learned its final status
	executions  int       // "executed" transitions reported
	// streamed: an access node's stream reported it executed (a lookup
	// may learn it first; the stream's transition still comes, once).
	streamed bool
	reported bool // already reported as not settled (a violation)
}

// settled reports whether the transaction reached a final status: executed,
// or refused after acceptance (expired, failed), which the access node
// told its client.
func (t *pipeTx) settled() bool {
	return t.status == api.TxExecuted || t.status == api.TxExpired || t.status == api.TxFailed
}

// pipeLedger records the pipeline load's transactions.
type pipeLedger struct {
	mu        sync.Mutex
	txs       map[[32]byte]*pipeTx
	submitted int
	rejected  int
	failed    int
	executed  int // distinct transactions executed
	expired   int
	dropped   int // reported failed by the access node
	repeats   int // "executed" reported again for an executed transaction
	// repeated are the first maxRepeatedKept transactions reported
	// executed twice, so that a report names them (to find in the logs).
	repeated [][32]byte
	// unacked are transactions the access nodes' streams report executed
	// that no access node acknowledged to the runner: a batch whose answer
	// the runner gave up on (a timeout) may still have been taken. The
	// execution nodes executed them too, so the counters are compared
	// with executed plus these.
	unacked map[[32]byte]struct{}
	full    bool
}

// maxRepeatedKept bounds the repeated executions a report names.
const maxRepeatedKept = 10

func newPipeLedger() *pipeLedger {
	return &pipeLedger{txs: make(map[[32]byte]*pipeTx), unacked: make(map[[32]byte]struct{})}
}

// submit records transactions an access node accepted; false once full.
func (l *pipeLedger) submit(ids [][32]byte, clusters []int, access int, at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, id := range ids {
		if len(l.txs) >= maxTrackedTxs {
			l.full = true
			return false
		}
		if _, ok := l.txs[id]; !ok {
			t := &pipeTx{access: access, cluster: clusters[i], submittedAt: at, status: api.TxPending}
			if _, early := l.unacked[id]; early {
				// Executed before its acknowledgment came back: an access
				// node answers a batch once it checked the whole batch,
				// and forwards the first ones meanwhile. The stream's
				// report counts for it (and no longer as unacknowledged).
				delete(l.unacked, id)
				t.status, t.streamed, t.executedAt, t.executions, t.settledAt = api.TxExecuted, true, at, 1, at
				l.executed++
			}
			l.txs[id] = t
			l.submitted++
		}
	}
	return true
}

func (l *pipeLedger) fail(rejected, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rejected += rejected
	l.failed += failed
}

// rank orders the statuses a transaction goes through.
var rank = map[string]int{api.TxPending: 0, api.TxCollected: 1, api.TxFinalized: 2, api.TxExecuted: 3, api.TxExpired: 3, api.TxFailed: 3}

// update applies a status an access node reported (from its stream or a
// lookup; stream says whether it is a transition, which counts repeats).
// It returns whether the transaction became executed now.
func (l *pipeLedger) update(id [32]byte, status string, at time.Time, stream bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.txs[id]
	if t == nil {
		// Not acknowledged: not this load's, or a batch the runner gave
		// up on that the access node took anyway (bounded like txs).
		if stream && status == api.TxExecuted && len(l.unacked) < maxTrackedTxs {
			l.unacked[id] = struct{}{}
		}
		return false
	}
	if status == api.TxExecuted && stream {
		if t.streamed {
			// A second transition on the streams: executed twice.
			t.executions++
			l.repeats++
			if len(l.repeated) < maxRepeatedKept {
				l.repeated = append(l.repeated, id)
			}
			return false
		}
		t.streamed = true
	}
	if status == api.TxExecuted && t.status == api.TxExecuted {
		return false // a lookup learned it first
	}
	r, known := rank[status]
	if !known || r < rank[t.status] || t.settled() {
		return false
	}
	t.status = status
	if t.settled() {
		t.settledAt = at
	}
	switch status {
	case api.TxExecuted:
		t.executedAt, t.executions = at, 1
		l.executed++
		return true
	case api.TxExpired:
		l.expired++
	case api.TxFailed:
		l.dropped++
	}
	return false
}

// unsettled lists the transactions submitted by cutoff that have not
// settled and were not reported yet, oldest first.
func (l *pipeLedger) unsettled(cutoff time.Time) (ids [][32]byte, txs []pipeTx) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, t := range l.txs {
		if !t.settled() && !t.reported && !t.submittedAt.After(cutoff) {
			ids = append(ids, id)
			txs = append(txs, *t)
		}
	}
	sort.Sort(byAge{ids, txs})
	return ids, txs
}

type byAge struct {
	ids [][32]byte
	txs []pipeTx
}

func (b byAge) Len() int           { return len(b.ids) }
func (b byAge) Less(i, j int) bool { return b.txs[i].submittedAt.Before(b.txs[j].submittedAt) }
func (b byAge) Swap(i, j int) {
	b.ids[i], b.ids[j] = b.ids[j], b.ids[i]
	b.txs[i], b.txs[j] = b.txs[j], b.txs[i]
}

// lastSettled is when the last of the transactions submitted by cutoff
// settled (the zero time if none did).
func (l *pipeLedger) lastSettled(cutoff time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	for _, t := range l.txs {
		if t.settled() && !t.submittedAt.After(cutoff) && t.settledAt.After(last) {
			last = t.settledAt
		}
	}
	return last
}

func (l *pipeLedger) markReported(ids [][32]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if t := l.txs[id]; t != nil {
			t.reported = true
		}
	}
}

// clusterActivity counts, by cluster, the transactions executed in
// [from, to) and those submitted in it.
func (l *pipeLedger) clusterActivity(k int, from, to time.Time) (executed, submitted []int) {
	executed, submitted = make([]int, k), make([]int, k)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.txs {
		if t.cluster < 0 || t.cluster >= k {
			continue
		}
		if !t.executedAt.IsZero() && !t.executedAt.Before(from) && t.executedAt.Before(to) {
			executed[t.cluster]++
		}
		if !t.submittedAt.Before(from) && t.submittedAt.Before(to) {
			submitted[t.cluster]++
		}
	}
	return executed, submitted
}

// PipelineReport is what a pipeline run adds to the report.
type PipelineReport struct {
	// Clusters are the genesis epoch's clusters by member name.
	Clusters  [][]string `json:"clusters"`
	Submitted int        `json:"submitted_txs"` // accepted by an access node
	Rejected  int        `json:"rejected_txs"`
	Failed    int        `json:"failed_to_submit_txs"`
	Executed  int        `json:"executed_txs"`
	Expired   int        `json:"expired_txs"`
	// Dropped were reported failed by their access node after accepting
	// them (no collector took them): refused, the client was told.
	Dropped int `json:"dropped_txs"`
	// Unsettled never reached a final status (each one is a violation).
	Unsettled int `json:"unsettled_txs"`
	// Repeats are "executed" transitions reported again for a transaction.
	Repeats int `json:"repeated_executions"`
	// ExecutionCounters are each execution node's floe_executed_txs_total
	// at the end (it must equal Executed: nothing ran twice).
	ExecutionCounters map[string]int64 `json:"execution_counters"`
	// Results is the execution-results check (results.go).
	Results *ResultsReport `json:"results,omitempty"`
}

// pipeline is the runner's state for a pipeline network.
type pipeline struct {
	ledger *pipeLedger
	// signer signs the load in a network of accounts (nil: the key/value
	// application's unsigned writes).
	signer *workload.Signer
	// ref is the reference block new transactions name.
	ref atomic.Pointer[model.Identifier]
	// restarted lists role members killed or stopped during the run (an
	// execution node's counter starts again from 0 then).
	mu        sync.Mutex
	restarted map[string]bool
}

// reachableRole lists the reachable role members of a role.
func (r *Runner) reachableRole(role string) []*nodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*nodeState
	for _, nd := range r.nodes {
		if nd.Role == role && nd.started && !nd.down && !nd.paused && !nd.disconnected {
			out = append(out, nd)
		}
	}
	return out
}

// refreshRef sets the reference block from a reachable access node: the
// finalized block refLag below its newest.
func (r *Runner) refreshRef(ctx context.Context) {
	for _, nd := range r.reachableRole(config.RoleAccess) {
		st, err := nd.client.status(ctx)
		if err != nil || st.FinalizedHeight == 0 {
			continue
		}
		if st.FinalizedHeight <= refLag {
			if id, err := model.ParseIdentifier(st.FinalizedID); err == nil {
				r.pipe.ref.Store(&id)
				return
			}
			continue
		}
		b, err := within(ctx, 2*time.Second, func(ctx context.Context) (api.BlockResponse, error) {
			return nd.client.c.Block(ctx, st.FinalizedHeight-refLag, apiclient.BlockQuery{})
		})
		if err != nil {
			continue
		}
		if id, err := model.ParseIdentifier(b.ID); err == nil {
			r.pipe.ref.Store(&id)
			return
		}
	}
}

// runPipelineLoad is runLoad for a pipeline network: Rate envelopes per
// second, round-robin over the reachable access nodes, one batch per tick.
func (r *Runner) runPipelineLoad(ctx context.Context) {
	var runID [8]byte
	rand.Read(runID[:])
	var counter uint64
	carry := 0.0
	next := 0
	tick := time.NewTicker(loadTick)
	defer tick.Stop()
	k := uint32(r.m.Pipeline.Clusters)
	for ticks := 0; ; ticks++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if ticks%3 == 0 || r.pipe.ref.Load() == nil {
			r.refreshRef(ctx)
		}
		carry += float64(r.loadRate.Load()) * loadTick.Seconds()
		n := int(carry)
		carry -= float64(n)
		if n == 0 {
			continue
		}
		ref := r.pipe.ref.Load()
		nodes := r.reachableRole(config.RoleAccess)
		if ref == nil || len(nodes) == 0 {
			r.pipe.ledger.fail(0, n)
			continue
		}
		txs := make([][]byte, n)
		ids := make([][32]byte, n)
		if sg := r.pipe.signer; sg != nil {
			var err error
			if txs, ids, err = sg.Take(n); err != nil {
				r.logf("load: signing: %v", err)
			}
			if len(txs) < n {
				// Every key has a transaction in flight: the rest of this
				// tick's load is not sent (counted as failed to send).
				r.pipe.ledger.fail(0, n-len(txs))
			}
			if len(txs) == 0 {
				continue
			}
		} else {
			for i := range txs {
				counter++
				key := fmt.Appendf(nil, "e2e-%03d", counter%loadKeys)
				value := binary.BigEndian.AppendUint64(nil, counter)
				nonce := binary.BigEndian.AppendUint64(append([]byte(nil), runID[:]...), counter)
				tx := collection.Tx{Ref: *ref, Body: kvstore.EncodeSet(key, value, nonce)}
				txs[i], ids[i] = tx.Encode(), tx.ID()
			}
		}
		clusters := make([]int, len(txs))
		for i := range txs {
			clusters[i] = int(collection.ClusterOf(ids[i], k))
		}
		sent := false
		for try := 0; try < 2 && !sent; try++ {
			nd := nodes[next%len(nodes)]
			next++
			rejected, err := nd.client.submit(ctx, txs)
			if err != nil {
				continue
			}
			sent = true
			var accIDs [][32]byte
			var accClusters []int
			for i := range txs {
				if _, bad := rejected[i]; !bad {
					accIDs, accClusters = append(accIDs, ids[i]), append(accClusters, clusters[i])
				} else if r.pipe.signer != nil {
					r.pipe.signer.Settled(ids[i], false)
				}
			}
			if !r.pipe.ledger.submit(accIDs, accClusters, nd.Index, time.Now()) {
				r.logf("load: %d transactions tracked, the most the runner keeps; the load stops", maxTrackedTxs)
				return
			}
			r.pipe.ledger.fail(len(rejected), 0)
		}
		if !sent {
			r.pipe.ledger.fail(0, len(txs))
			if r.pipe.signer != nil {
				for _, id := range ids {
					r.pipe.signer.Settled(id, false)
				}
			}
		}
	}
}

// accessEvent is one transition on an access node's stream.
type accessEvent struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// followAccess follows one access node's transition stream until ctx
// ends, reconnecting (the node may be down or paused for a while).
func (r *Runner) followAccess(ctx context.Context, nd *nodeState) {
	for ctx.Err() == nil {
		err := nd.client.c.Events(ctx, accessEventsPath, nil, func(ev apiclient.StreamEvent) error {
			var e accessEvent
			if json.Unmarshal(ev.Data, &e) != nil {
				return nil
			}
			id, ok := parseTxID(e.ID)
			if !ok {
				return nil
			}
			now := time.Now()
			if sg := r.pipe.signer; sg != nil {
				switch e.Status {
				case "finalized", "executed":
					sg.Settled(id, true)
				case "expired":
					sg.Settled(id, false)
				}
			}
			if r.pipe.ledger.update(id, e.Status, now, true) {
				r.series.add(now, 1, 0)
			}
			return nil
		})
		_ = err // the node is down, paused or restarting: reconnect below
		sleep(ctx, 500*time.Millisecond)
	}
}

func parseTxID(s string) ([32]byte, bool) {
	var id [32]byte
	n, err := hex.Decode(id[:], []byte(s))
	return id, err == nil && n == 32
}

// maxLookupsPerRound bounds the transactions looked up one by one in a
// round of settle (those whose transitions the stream has not shown).
const maxLookupsPerRound = 200

// settle waits until every transaction acknowledged by cutoff has settled
// (executed, expired or failed), looking up on its access node those the
// streams have not settled, until deadline. It returns when they settled
// (zero time if they did not) and reports the rest as lost-tx.
func (r *Runner) settle(ctx context.Context, cutoff, deadline time.Time) (time.Time, int) {
	for {
		ids, txs := r.pipe.ledger.unsettled(cutoff)
		if len(ids) == 0 {
			return time.Now(), 0
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.reportUnsettled(ctx, ids, txs)
			return time.Time{}, len(ids)
		}
		for i := range ids[:min(len(ids), maxLookupsPerRound)] {
			nd := r.nodes[txs[i].access]
			resp, err := nd.client.tx(ctx, hex.EncodeToString(ids[i][:]))
			if err != nil {
				continue
			}
			now := time.Now()
			if r.pipe.ledger.update(ids[i], resp.Status, now, false) {
				r.series.add(now, 1, 0)
			}
		}
		sleep(ctx, 500*time.Millisecond)
	}
}

// reportUnsettled records a violation for acknowledged transactions that
// never settled, with the status their access nodes report now.
func (r *Runner) reportUnsettled(ctx context.Context, ids [][32]byte, txs []pipeTx) {
	byStatus := map[string]int{}
	byCluster := map[int]int{}
	var examples []string
	for i := range ids {
		byStatus[txs[i].status]++
		byCluster[txs[i].cluster]++
		if len(examples) < 3 {
			nd := r.nodes[txs[i].access]
			now := "no answer"
			if resp, err := nd.client.tx(ctx, hex.EncodeToString(ids[i][:])); err == nil {
				now = resp.Status
			}
			examples = append(examples, fmt.Sprintf("%x (cluster %d, via %s, submitted %s into the run, %s now)",
				ids[i][:8], txs[i].cluster, nd.Name, txs[i].submittedAt.Sub(r.start).Round(100*time.Millisecond), now))
		}
	}
	r.violate("lost-tx", "%d transactions acknowledged by access nodes were neither executed nor expired within %v (statuses %v, clusters %v), e.g. %s",
		len(ids), r.m.Checks.MaxRecovery.Duration, byStatus, byCluster, strings.Join(examples, "; "))
	r.pipe.ledger.markReported(ids)
}

// checkPipeline runs after each step (final: at the end, after the load
// stopped): every transaction acknowledged before the heal (final: before
// now) must settle within the recovery bound of the heal. It returns a
// line for the step's report.
func (r *Runner) checkPipeline(ctx context.Context, healed time.Time, final bool) string {
	cutoff := healed
	deadline := healed.Add(r.m.Checks.MaxRecovery.Duration)
	if final {
		cutoff, deadline = time.Now(), time.Now().Add(r.m.Checks.MaxRecovery.Duration)
	}
	deadline = maxTime(deadline, time.Now().Add(5*time.Second))
	_, missing := r.settle(ctx, cutoff, deadline)
	if missing > 0 {
		return fmt.Sprintf("pipeline: %d acknowledged transactions not settled within %v of the heal", missing, r.m.Checks.MaxRecovery.Duration)
	}
	l := r.pipe.ledger
	l.mu.Lock()
	executed, expired, dropped := l.executed, l.expired, l.dropped
	l.mu.Unlock()
	// The runner learns of most settlements from the streams as they
	// happen; the last one of those submitted before the heal says how
	// long the pipeline took to drain them.
	last := r.pipe.ledger.lastSettled(cutoff)
	if final {
		return fmt.Sprintf("pipeline: every acknowledged transaction settled; %d executed, %d expired, %d failed", executed, expired, dropped)
	}
	return fmt.Sprintf("pipeline: every transaction acknowledged before the heal settled, the last %s after it; %d executed, %d expired, %d failed so far",
		ms(max(last.Sub(healed), 0)), executed, expired, dropped)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// checkExecutions compares each execution node's executed-transactions
// counter with the distinct transactions the access nodes report
// executed: more is a transaction executed twice. It waits (up to the
// recovery bound) for a node still catching up. A node restarted during
// the run counts from 0 again, so its counter proves nothing and is
// skipped (said in the report).
func (r *Runner) checkExecutions(ctx context.Context) {
	l := r.pipe.ledger
	l.mu.Lock()
	want, repeats := int64(l.executed+len(l.unacked)), l.repeats
	var named []string
	for _, id := range l.repeated {
		named = append(named, hex.EncodeToString(id[:]))
	}
	l.mu.Unlock()
	rep := r.report.Pipeline
	if repeats > 0 {
		r.violate("repeated-tx", "access nodes reported %d executions of transactions already executed: %s",
			repeats, strings.Join(named, ", "))
	}
	for _, nd := range r.reachableRole(config.RoleExecution) {
		r.pipe.mu.Lock()
		restarted := r.pipe.restarted[nd.Name]
		r.pipe.mu.Unlock()
		if restarted {
			r.logf("  %s was restarted during the run: its counter started again, not compared", nd.Name)
			continue
		}
		deadline := time.Now().Add(r.m.Checks.MaxRecovery.Duration)
		var got int64
		for {
			v, err := nd.client.metric(ctx, metricExecutedTxs)
			if err == nil {
				got = int64(v)
			}
			if (err == nil && got >= want) || time.Now().After(deadline) || ctx.Err() != nil {
				if err != nil {
					r.logf("  %s: reading %s: %v", nd.Name, metricExecutedTxs, err)
				}
				break
			}
			sleep(ctx, time.Second)
		}
		rep.ExecutionCounters[nd.Name] = got
		switch {
		case got > want:
			r.violate("repeated-tx", "%s executed %d transactions; the access nodes report %d distinct transactions of the load executed",
				nd.Name, got, want)
		case got < want:
			r.violate("lost-tx", "%s executed %d transactions, fewer than the %d the access nodes report executed", nd.Name, got, want)
		}
	}
}
