package consensus

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/network"
)

// statsTransport reports fixed counters.
type statsTransport struct {
	network.Transport
	stats network.Stats
}

func (s statsTransport) Stats() network.Stats { return s.stats }

// The listener's admission counters reach Prometheus under their names.
func TestTransportAdmissionMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	tr := statsTransport{
		Transport: network.NewMemoryNetwork().Transport(model.NodeID{1}),
		stats:     network.Stats{HandshakesAccepted: 3, HandshakesEvicted: 5, HandshakesRefusedPerIP: 7, PendingHandshakes: 11},
	}
	registerTransportMetrics(reg, tr)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]float64)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"floe_network_handshakes_accepted_total":       3,
		"floe_network_handshakes_evicted_total":        5,
		"floe_network_handshakes_refused_per_ip_total": 7,
		"floe_network_pending_handshakes":              11,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}
