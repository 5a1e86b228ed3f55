package chainrun

import "github.com/prometheus/client_golang/prometheus"

// Metrics are one chain's replica series. Names carry units last. A
// process running several chains registers each chain's set under its own
// labels (prometheus.WrapRegistererWith), the main chain's without any.
type Metrics struct {
	View         prometheus.Gauge
	QCs          prometheus.Counter
	TCs          prometheus.Counter
	Timeouts     prometheus.Counter
	Proposals    prometheus.Counter
	VerifyQueue  prometheus.Gauge
	LoopQueue    prometheus.Gauge
	Peers        prometheus.Gauge
	Dropped      *prometheus.CounterVec
	Evidence     *prometheus.CounterVec
	SyncedBlocks prometheus.Counter
}

// NewMetrics builds the series and registers them with reg (nil: nowhere).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		View:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_view", Help: "Current consensus view."}),
		QCs:         prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_qcs_total", Help: "Views entered through a QC."}),
		TCs:         prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_tcs_total", Help: "Views entered through a TC."}),
		Timeouts:    prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_timeouts_total", Help: "Timeout objects this node signed."}),
		Proposals:   prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_proposals_total", Help: "Blocks this node proposed."}),
		VerifyQueue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_verify_queue_depth", Help: "Messages waiting for signature verification."}),
		LoopQueue:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_consensus_queue_depth", Help: "Verified events waiting for the consensus loop."}),
		Peers:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_peers_connected", Help: "Connected peers."}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_dropped_messages_total",
			Help: "Messages dropped, by reason."}, []string{"reason"}),
		Evidence: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_evidence_total",
			Help: "Equivocation evidence recorded, by kind."}, []string{"kind"}),
		SyncedBlocks: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_synced_blocks_total", Help: "Blocks received through sync."}),
	}
	if reg != nil {
		reg.MustRegister(m.View, m.QCs, m.TCs, m.Timeouts, m.Proposals, m.VerifyQueue, m.LoopQueue, m.Peers,
			m.Dropped, m.Evidence, m.SyncedBlocks)
	}
	return m
}
