package consensus

import "github.com/prometheus/client_golang/prometheus"

// pipelineMetrics are a pipeline network's consensus-node series.
type pipelineMetrics struct {
	pending          prometheus.Gauge
	included         prometheus.Counter
	refused          *prometheus.CounterVec
	receiptsIncluded prometheus.Counter
	receiptsRefused  *prometheus.CounterVec
	disagreements    prometheus.Counter
}

func newPipelineMetrics(reg prometheus.Registerer) *pipelineMetrics {
	m := &pipelineMetrics{
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_guarantees_pending",
			Help: "Checked guarantees waiting in the pool for a block."}),
		included: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_guarantees_included_total",
			Help: "Guarantees included by finalized blocks."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_guarantees_refused_total",
			Help: "Guarantees refused at intake or in a proposal, by broken rule (too_little_weight, bad_signature and unknown_cluster are forged)."},
			[]string{"reason"}),
		receiptsIncluded: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_receipts_included_total",
			Help: "Execution receipts carried by finalized blocks."}),
		receiptsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_receipts_refused_total",
			Help: "Execution receipts refused at intake, by reason."}, []string{"reason"}),
		disagreements: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_execution_disagreements_total",
			Help: "Finalized receipts whose result differs from one already incorporated for the same block."}),
	}
	if reg != nil {
		reg.MustRegister(m.pending, m.included, m.refused, m.receiptsIncluded, m.receiptsRefused, m.disagreements)
	}
	return m
}
