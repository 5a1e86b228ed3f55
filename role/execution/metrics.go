package execution

import "github.com/prometheus/client_golang/prometheus"

// Fetch failure reasons, the values of floe_execution_fetch_failures_total's
// reason label (a bounded set).
const (
	ReasonNotFound        = "not_found"        // the guarantor answered 404
	ReasonRefused         = "refused"          // another HTTP error status
	ReasonWrongCollection = "wrong_collection" // a collection with another ID
	ReasonInvalid         = "invalid"          // an answer that does not decode under the limits
	ReasonTimeout         = "timeout"          // no answer within the request timeout
	ReasonUnreachable     = "unreachable"      // connection errors
	ReasonNoAPI           = "no_api"           // no signer lists an API in the genesis directory
)

// metrics are the execution role's series. floe_executed_height and
// floe_executed_txs_total are the execution loop's (the embedded
// ledger's are not registered: ledger.Config.ExternalExecution).
type metrics struct {
	executedHeight      prometheus.Gauge
	executedTxs         prometheus.Counter
	failedTxs           prometheus.Counter
	blockSeconds        prometheus.Histogram
	repeatedCollections prometheus.Counter
	packsPruned         prometheus.Counter
	packsRefused        prometheus.Counter
	stateSyncs          prometheus.Counter
	fetched             prometheus.Counter
	fetchFailures       *prometheus.CounterVec
	missing             prometheus.Gauge
	missingTotal        prometheus.Counter
	receiptsSent        prometheus.Counter
	receiptFailures     prometheus.Counter
	receiptHeight       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		executedHeight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_executed_height", Help: "Height of the last executed block."}),
		executedTxs:    prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_executed_txs_total", Help: "Transactions executed."}),
		failedTxs: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_executed_failed_txs_total",
			Help: "Transactions executed that failed (their outcome says why; they changed nothing but fees and sequence numbers)."}),
		blockSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_execution_block_seconds",
			Help:    "Time to execute one block (its collections already fetched), commit its chunks and build its data packs.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		repeatedCollections: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_repeated_collections_total",
			Help: "Guarantees a finalized block carried for a collection named in the collection window: not executed again."}),
		packsPruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_execution_packs_pruned_total",
			Help: "Chunk data packs pruned past the retention window."}),
		packsRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_execution_pack_requests_refused_total",
			Help: "Chunk data pack requests refused: unsigned, expired, badly signed or from a node not authorized."}),
		stateSyncs: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_execution_state_syncs_total",
			Help: "State syncs: the state of an incorporated result imported from another execution node."}),
		fetched: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_execution_collections_fetched_total",
			Help: "Collections fetched from a guarantor and checked against their ID."}),
		fetchFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_execution_fetch_failures_total",
			Help: "Collection requests that gave nothing usable, by reason."}, []string{"reason"}),
		missing: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_execution_missing_collections",
			Help: "Collections no guarantor served in a whole round of asking, still being retried."}),
		missingTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_execution_missing_collections_total",
			Help: "Collections that became missing (no guarantor served them in a whole round)."}),
		receiptsSent: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_execution_receipts_sent_total",
			Help: "Signed receipts a consensus node accepted."}),
		receiptFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_execution_receipt_failures_total",
			Help: "Receipt submissions that failed (retried unless the receipt itself was refused)."}),
		receiptHeight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_execution_receipt_height",
			Help: "Height of the newest receipt signed."}),
	}
	for _, r := range []string{ReasonNotFound, ReasonRefused, ReasonWrongCollection, ReasonInvalid, ReasonTimeout, ReasonUnreachable, ReasonNoAPI} {
		m.fetchFailures.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.executedHeight, m.executedTxs, m.failedTxs, m.blockSeconds, m.repeatedCollections, m.packsPruned, m.packsRefused, m.stateSyncs, m.fetched, m.fetchFailures, m.missing, m.missingTotal, m.receiptsSent, m.receiptFailures, m.receiptHeight)
	}
	return m
}
