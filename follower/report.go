package follower

import (
	"log/slog"
	"sync"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Record is one piece of misbehaviour the follower saw: a peer that sent
// something invalid, or a leader that equivocated (with both signed
// proposals, so anyone can check it).
type Record struct {
	Time    time.Time
	Kind    string // "invalid" or "double-proposal"
	Peer    string // who sent it (the upstream's name or URL)
	View    model.View
	BlockID model.Identifier
	Detail  string
	// Evidence is set for double proposals.
	Evidence *model.Evidence
}

// maxPeerLabels bounds the peer label values of the report counter: peers
// are configured upstreams, but a bug must not grow the metric without end.
const maxPeerLabels = 64

// reporter logs, counts and records misbehaviour in bounded memory.
type reporter struct {
	log *slog.Logger
	m   *metrics

	mu      sync.Mutex
	records []Record // ring: the newest max
	next    int
	max     int
	total   uint64
	peers   map[string]struct{}
}

type metrics struct {
	rejected         *prometheus.CounterVec // reason
	peerReports      *prometheus.CounterVec // peer
	evidence         prometheus.Counter
	qcChecks         prometheus.Counter
	certified        prometheus.Counter
	evicted          prometheus.Counter
	finalizedHeight  prometheus.Gauge
	uncertified      prometheus.Gauge
	uncertifiedBytes prometheus.Gauge
	detached         prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_follower_rejected_total",
			Help: "Inputs the follower dropped, by reason (invalid, unknown_epoch, stale, known, view_full, view_certified)."}, []string{"reason"}),
		peerReports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_follower_peer_reports_total",
			Help: "Invalid inputs, by the peer that sent them."}, []string{"peer"}),
		evidence: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_follower_evidence_total",
			Help: "Equivocations recorded (one per leader and view)."}),
		qcChecks: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_follower_qc_checks_total",
			Help: "Signature checks of certificates and proposals."}),
		certified: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_follower_certified_blocks_total",
			Help: "Certified blocks connected and stored."}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_follower_evicted_total",
			Help: "Uncertified blocks evicted to keep the cache within its bounds."}),
		finalizedHeight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_follower_finalized_height",
			Help: "Height of the last block the follower finalized."}),
		uncertified: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_follower_uncertified_blocks",
			Help: "Blocks in the uncertified cache."}),
		uncertifiedBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_follower_uncertified_bytes",
			Help: "Payload bytes in the uncertified cache."}),
		detached: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_follower_detached_blocks",
			Help: "Certified blocks waiting for their parent."}),
	}
	if reg != nil {
		reg.MustRegister(m.rejected, m.peerReports, m.evidence, m.qcChecks, m.certified, m.evicted,
			m.finalizedHeight, m.uncertified, m.uncertifiedBytes, m.detached)
	}
	return m
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

func newReporter(log *slog.Logger, m *metrics, max int) *reporter {
	return &reporter{log: log, m: m, max: max, peers: make(map[string]struct{})}
}

func (r *reporter) add(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if len(r.records) < r.max {
		r.records = append(r.records, rec)
		return
	}
	r.records[r.next] = rec
	r.next = (r.next + 1) % r.max
}

// invalid reports a peer that sent something no honest node sends.
func (r *reporter) invalid(peer string, view model.View, id model.Identifier, err error) {
	r.m.rejected.WithLabelValues("invalid").Inc()
	r.mu.Lock()
	label := peer
	if _, ok := r.peers[peer]; !ok {
		if len(r.peers) < maxPeerLabels {
			r.peers[peer] = struct{}{}
		} else {
			label = "other"
		}
	}
	r.mu.Unlock()
	r.m.peerReports.WithLabelValues(label).Inc()
	r.log.Warn("follower: invalid input from peer", "peer", peer, "view", view, "block", id, "err", err)
	r.add(Record{Time: time.Now(), Kind: "invalid", Peer: peer, View: view, BlockID: id, Detail: err.Error()})
}

// equivocation records a double proposal.
func (r *reporter) equivocation(peer string, e model.Evidence) {
	r.m.evidence.Inc()
	r.log.Warn("follower: equivocation evidence", "evidence", e.String(), "peer", peer)
	ev := e
	r.add(Record{Time: time.Now(), Kind: "double-proposal", Peer: peer, View: e.View,
		BlockID: e.Proposals[1].Block.ID(), Detail: e.String(), Evidence: &ev})
}

// snapshot returns the kept records, oldest first, and how many were ever
// made.
func (r *reporter) snapshot() ([]Record, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Record, 0, len(r.records))
	out = append(out, r.records[r.next:]...)
	out = append(out, r.records[:r.next]...)
	return out, r.total
}
