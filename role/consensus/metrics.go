package consensus

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/chainrun"

	"github.com/floe-bft/floe/network"
)

// metrics are the node's Prometheus series beside its chain runner's
// (chainrun.Metrics). Names carry units last.
type metrics struct {
	*chainrun.Metrics
	finalizeLatency prometheus.Histogram
	mempoolTxs      prometheus.Gauge
	mempoolBytes    prometheus.Gauge
	commitSeconds   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		Metrics: chainrun.NewMetrics(reg),
		finalizeLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_finalization_latency_seconds",
			Help: "From a transaction entering this node's mempool to its block being executed.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		mempoolTxs:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_mempool_txs", Help: "Transactions in the mempool."}),
		mempoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_mempool_bytes", Help: "Bytes in the mempool."}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_consensus_commit_seconds",
			Help: "Synced write of consensus state before sending.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.finalizeLatency, m.mempoolTxs, m.mempoolBytes, m.commitSeconds)
	}
	return m
}

// statser is the part of a transport that reports counters (network.TLS
// and the in-memory transport both do).
type statser interface{ Stats() network.Stats }

// registerTransportMetrics exposes the transport's counters: frames and
// bytes, everything it dropped before a message could be decoded
// (oversized frames, unknown keys, failed handshakes, full queues), and the
// listener's admission control (handshakes accepted, evicted, refused per
// address, pending).
func registerTransportMetrics(reg prometheus.Registerer, t network.Transport) {
	s, ok := t.(statser)
	if reg == nil || !ok {
		return
	}
	counter := func(name, help string, get func(network.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(get(s.Stats())) })
	}
	reg.MustRegister(
		counter("floe_network_frames_sent_total", "Frames written to peers.", func(x network.Stats) uint64 { return x.FramesSent }),
		counter("floe_network_frames_received_total", "Frames read from peers.", func(x network.Stats) uint64 { return x.FramesReceived }),
		counter("floe_network_bytes_sent_total", "Bytes written to peers.", func(x network.Stats) uint64 { return x.BytesSent }),
		counter("floe_network_bytes_received_total", "Bytes read from peers.", func(x network.Stats) uint64 { return x.BytesReceived }),
		counter("floe_network_dropped_queue_full_total", "Frames dropped because a peer's send queue was full.", func(x network.Stats) uint64 { return x.DroppedQueueFull }),
		counter("floe_network_oversized_frames_total", "Inbound frames over the size limit (connection closed).", func(x network.Stats) uint64 { return x.OversizedFrames }),
		counter("floe_network_unknown_peer_rejected_total", "Connections refused: key not in the committee.", func(x network.Stats) uint64 { return x.UnknownPeerRejected }),
		counter("floe_network_handshake_failures_total", "Failed TLS handshakes (garbage, timeouts, protocol mismatch).", func(x network.Stats) uint64 { return x.HandshakeFailures }),
		counter("floe_network_handshakes_accepted_total", "Inbound TLS handshakes completed by committee members.", func(x network.Stats) uint64 { return x.HandshakesAccepted }),
		counter("floe_network_handshakes_evicted_total", "Pending inbound handshakes closed to make room for newer connections.", func(x network.Stats) uint64 { return x.HandshakesEvicted }),
		counter("floe_network_handshakes_refused_per_ip_total", "Inbound connections closed at once: their address had too many pending handshakes.", func(x network.Stats) uint64 { return x.HandshakesRefusedPerIP }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_network_pending_handshakes", Help: "Inbound TLS handshakes in progress."},
			func() float64 { return float64(s.Stats().PendingHandshakes) }),
	)
}
