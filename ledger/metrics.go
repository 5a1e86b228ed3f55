package ledger

import "github.com/prometheus/client_golang/prometheus"

// metrics are the ledger's Prometheus series, the same for every role.
// Names carry units last.
type metrics struct {
	finalizedHeight prometheus.Gauge
	executedHeight  prometheus.Gauge
	blockInterval   prometheus.Histogram
	executedTxs     prometheus.Counter
	epoch           prometheus.Gauge
	epochExtensions prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, external bool) *metrics {
	m := &metrics{
		finalizedHeight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_finalized_height", Help: "Height of the last finalized block."}),
		executedHeight:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_executed_height", Help: "Height of the last executed block."}),
		blockInterval: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_block_interval_seconds",
			Help: "Time between consecutive finalized blocks.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		executedTxs: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_executed_txs_total", Help: "Transactions executed."}),
		epoch:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_epoch", Help: "Counter of the newest committed epoch."}),
		epochExtensions: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_epoch_extensions_total",
			Help: "Epoch fallback extensions: the next epoch was not committed in time."}),
	}
	if reg != nil {
		reg.MustRegister(m.finalizedHeight, m.blockInterval, m.epoch, m.epochExtensions)
		if !external {
			reg.MustRegister(m.executedHeight, m.executedTxs)
		}
	}
	return m
}
