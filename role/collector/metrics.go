package collector

import "github.com/prometheus/client_golang/prometheus"

// nodeMetrics are the collection role's own series (each cluster's
// replica adds chainrun's, prefixed cluster_ and labelled by chain).
type nodeMetrics struct {
	collections         prometheus.Counter
	guaranteesFormed    prometheus.Counter
	guaranteesHandedOff prometheus.Counter
	guaranteesRejected  prometheus.Counter
	guaranteesIncluded  prometheus.Counter
	guaranteesExpired   prometheus.Counter
	handoffFailures     prometheus.Counter
	handoffQueued       prometheus.Gauge
	handoffOutstanding  prometheus.Gauge
	submitRefused       prometheus.Counter
	unresolvedDropped   prometheus.Counter
}

func newNodeMetrics(reg prometheus.Registerer, poolTxs func() float64) *nodeMetrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	m := &nodeMetrics{
		collections:         c("floe_collector_collections_finalized_total", "Non-empty collections this node's clusters finalized."),
		guaranteesFormed:    c("floe_collector_guarantees_formed_total", "Guarantees this node aggregated."),
		guaranteesHandedOff: c("floe_collector_guarantees_handed_off_total", "Guarantees every consensus node answered for (accepted or refused)."),
		guaranteesRejected:  c("floe_collector_guarantees_rejected_total", "Guarantees a consensus node refused (one count per node)."),
		guaranteesIncluded:  c("floe_collector_guarantees_included_total", "Guarantees seen in finalized main-chain blocks."),
		guaranteesExpired:   c("floe_collector_guarantees_expired_total", "Guarantees dropped from the hand-off past their expiry."),
		handoffFailures:     c("floe_collector_handoff_failures_total", "Failed guarantee hand-off requests (each retried with backoff)."),
		handoffQueued:       g("floe_collector_handoff_queued", "Guarantees waiting for some consensus node to take them."),
		handoffOutstanding:  g("floe_collector_handoff_outstanding", "Guarantees handed off and not yet seen included."),
		submitRefused:       c("floe_collector_submit_refused_total", "Transactions refused at the collector's intake."),
		unresolvedDropped:   c("floe_collector_unresolved_dropped_total", "Transactions dropped because their reference block stayed unknown."),
	}
	reg.MustRegister(m.collections, m.guaranteesFormed, m.guaranteesHandedOff, m.guaranteesRejected, m.guaranteesIncluded,
		m.guaranteesExpired, m.handoffFailures, m.handoffQueued, m.handoffOutstanding, m.submitRefused, m.unresolvedDropped,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_collector_pool_txs", Help: "Transactions pending in this node's running clusters' pools."}, poolTxs))
	return m
}
