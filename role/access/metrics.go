package access

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the access node's series (docs/pipeline.md, "The access
// role").
type metrics struct {
	submitted  prometheus.Counter
	refused    *prometheus.CounterVec   // reason
	forwarded  prometheus.Counter       // copies collectors took
	fwdFailed  prometheus.Counter       // transactions no collector took
	fwdBatches *prometheus.CounterVec   // outcome: ok, partial (fewer copies than Redundancy), failed
	queue      *prometheus.GaugeVec     // cluster
	txs        *prometheus.GaugeVec     // status
	stages     *prometheus.HistogramVec // stage: seconds from submission
	polls      *prometheus.CounterVec   // outcome
	fetches    *prometheus.CounterVec   // outcome
	// stateAnswers: execution nodes' answers to proven state reads.
	stateAnswers *prometheus.CounterVec // outcome: ok, bad_proof, error
	execInfo     *prometheus.CounterVec // outcome: kept, not_kept
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		submitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_access_submitted_total",
			Help: "Transactions accepted for forwarding (new ones; resubmissions of tracked ones are not counted)."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_access_refused_total",
			Help: "Transactions refused, by reason."}, []string{"reason"}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_access_forwarded_total",
			Help: "Transaction copies a collector took."}),
		fwdFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_access_forward_failed_total",
			Help: "Transactions no collector of their cluster took (status failed)."}),
		fwdBatches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_access_forward_batches_total",
			Help: "Forwarded batches by outcome: ok, partial (fewer copies than the redundancy), failed."}, []string{"outcome"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "floe_access_queue_txs",
			Help: "Transactions waiting in a cluster's forwarding queue (label: epoch/cluster)."}, []string{"cluster"}),
		txs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "floe_access_tracked_txs",
			Help: "Tracked transactions by status."}, []string{"status"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_access_stage_seconds",
			Help:    "Time from submission to each stage (collected, finalized, executed).",
			Buckets: prometheus.ExponentialBuckets(0.05, 1.6, 18)}, []string{"stage"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_access_polls_total",
			Help: "Collector status polls by answer: collected, pending, unknown, error."}, []string{"outcome"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_access_collection_fetches_total",
			Help: "Collections of finalized guarantees read from guarantors, by outcome: ok, failed, no_member, skipped (queue full)."}, []string{"outcome"}),
		stateAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_access_state_answers_total",
			Help: "Execution nodes' answers to proven state reads, by outcome: ok (the proof verified against the finalized result), bad_proof (it did not: never served), error (failed, refused, timed out)."}, []string{"outcome"}),
		execInfo: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_access_tx_executions_total",
			Help: "Executed transactions' results and events fetched from execution nodes, by outcome: kept, not_kept (over the memory budget: fetched again when read)."}, []string{"outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.submitted, m.refused, m.forwarded, m.fwdFailed, m.fwdBatches, m.queue, m.txs, m.stages, m.polls, m.fetches,
			m.stateAnswers, m.execInfo)
	}
	return m
}

func (m *metrics) status(s string, delta float64) { m.txs.WithLabelValues(s).Add(delta) }

func (m *metrics) stage(s string, nanos int64) {
	m.stages.WithLabelValues(s).Observe(time.Duration(nanos).Seconds())
}

func (m *metrics) queueDepth(k queueKey, n int) {
	m.queue.WithLabelValues(strconv.FormatUint(k.epoch, 10) + "/" + strconv.Itoa(k.cluster)).Set(float64(n))
}
