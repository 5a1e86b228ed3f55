package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Refusal reasons, the values of floe_api_refusals_total's reason label.
const (
	RefusedConnTotal = "conn_total"  // the connection cap
	RefusedConnPerIP = "conn_per_ip" // one address's connection cap
	RefusedRate      = "rate_limit"  // one client's request rate
	RefusedReadCost  = "read_budget" // one client's block-read budget
	RefusedBusy      = "busy"        // no expensive-read slot in time
	RefusedReadBytes = "read_bytes"  // the node's byte budget for history
	RefusedTxBudget  = "tx_budget"   // one client's submitted transactions
	RefusedTxTotal   = "tx_total"    // all clients' submitted transactions
	RefusedStreams   = "streams"     // the subscription caps
)

// HTTPMetrics are the API's Prometheus series. One value serves the
// listener (connections) and the server (requests), so Host makes it and
// hands it to both.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	open     prometheus.Gauge
	refusals *prometheus.CounterVec
	cache    *prometheus.CounterVec
}

// NewHTTPMetrics makes the series and registers them on reg (nil: kept
// unregistered, as tests and embedders without /metrics want).
func NewHTTPMetrics(reg prometheus.Registerer) *HTTPMetrics {
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_api_requests_total", Help: "API requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "floe_api_request_duration_seconds", Help: "Time to answer an API request (streams: their whole life), by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60},
		}, []string{"route"}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "floe_api_open_connections", Help: "Open API connections.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_api_refusals_total", Help: "Connections and requests refused by admission control, by reason.",
		}, []string{"reason"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_api_range_cache_total", Help: "Lookups of the immutable range cache, by result (hit, miss).",
		}, []string{"result"}),
	}
	for _, r := range []string{RefusedConnTotal, RefusedConnPerIP, RefusedRate, RefusedReadCost, RefusedBusy, RefusedReadBytes,
		RefusedTxBudget, RefusedTxTotal, RefusedStreams} {
		m.refusals.WithLabelValues(r) // present at 0, so rate() works from the start
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.open, m.refusals, m.cache)
	}
	return m
}

// Refused counts one refusal for reason.
func (m *HTTPMetrics) Refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

// observe records one answered request.
func (m *HTTPMetrics) observe(route, method string, code int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}

// codeRecorder remembers the status a handler wrote. Unwrap lets
// http.ResponseController reach the real writer, so streams can still
// flush and set write deadlines through it.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeRecorder) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

func (c *codeRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *codeRecorder) status() int {
	if c.code == 0 {
		return http.StatusOK
	}
	return c.code
}
