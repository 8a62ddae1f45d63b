package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/feastgo/feastgo/registry"
)

// Metrics holds the Prometheus collectors of one server. It is optional:
// without it the request path carries no instrumentation at all.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the server's collectors, plus Go runtime and
// process metrics, the age and last refresh error of the registry, and the
// size and evictions of its plan cache.
func NewMetrics(r *registry.Registry) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feature_server_http_requests_total",
			Help: "HTTP requests by path and status code.",
		}, []string{"path", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feature_server_http_request_duration_seconds",
			Help:    "HTTP request latency by path.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"path"}),
	}
	m.reg.MustRegister(m.requests, m.latency, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if r != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "feature_server_registry_age_seconds",
			Help: "Seconds since the registry snapshot in force was loaded.",
		}, func() float64 { return time.Since(r.Current().LoadedAt).Seconds() }))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "feature_server_registry_refresh_failing",
			Help: "1 when the last registry refresh failed (the previous registry is still served).",
		}, func() float64 {
			if r.LastError() != nil {
				return 1
			}
			return 0
		}))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "feature_server_plan_cache_entries",
			Help: "Request plans cached by the registry snapshot in force (bounded by --plan-cache-size).",
		}, func() float64 { n, _ := r.PlanCacheStats(); return float64(n) }))
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "feature_server_plan_cache_evictions_total",
			Help: "Request plans dropped from a full plan cache; a steady rise means clients send more distinct feature lists than the cache holds.",
		}, func() float64 { _, e := r.PlanCacheStats(); return float64(e) }))
	}
	return m
}

// Register adds collectors of other parts (the online cache's, for one).
func (m *Metrics) Register(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Wrap instruments next by the label that label gives a request's path.
// A label value outlives the request, so it must not alias the request's
// memory: fasthttpadaptor's r.URL.Path is a view of the connection's read
// buffer, which the next request on the connection overwrites.
func (m *Metrics) Wrap(next http.Handler, label func(path string) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := label(r.URL.Path)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		m.observe(path, rec.code, start)
	})
}

// observe counts one request of a known route that started at start.
func (m *Metrics) observe(path string, code int, start time.Time) {
	m.latency.WithLabelValues(path).Observe(time.Since(start).Seconds())
	m.requests.WithLabelValues(path, strconv.Itoa(code)).Inc()
}
