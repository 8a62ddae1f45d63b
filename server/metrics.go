package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/materialize"
	"github.com/feastgo/feastgo/registry"
)

// Metrics holds the Prometheus collectors of one server. It is optional:
// without it the request path carries no instrumentation at all.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	cfg      config.MetricsConfig
	bins     []string // feature_count labels, by binIndex
	registry *registry.Registry
	feast    *feastCollectors
	store    *storeCollectors
	matRows  *prometheus.CounterVec // feature_view
	matViews *prometheus.CounterVec // status
	jobs     *materialize.Jobs

	// Cached children of the hot route's series.
	onlineOK, onlineErr prometheus.Counter
	onlineUnlabelled    prometheus.Observer
	onlineLatency       sync.Map // onlineLabels.key -> prometheus.Observer
	statusCache         sync.Map // view -> *[2]prometheus.Counter
	httpOnline200       prometheus.Counter
	httpOnlineLatency   prometheus.Observer
}

// NewMetrics is NewMetricsConfig with Feast's default metrics settings.
func NewMetrics(r *registry.Registry) *Metrics {
	return NewMetricsConfig(r, config.DefaultMetricsConfig())
}

// NewMetricsConfig registers the server's collectors, plus Go runtime and
// process metrics, the age and last refresh error of the registry, the
// size and evictions of its plan cache, Feast's metrics (feast_*, each
// category recording as cfg enables it) and the materialization progress.
// The online store's metrics come with InstrumentStore, the hooks into the
// services with Instrument.
func NewMetricsConfig(r *registry.Registry, cfg config.MetricsConfig) *Metrics {
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
		cfg:      cfg,
		bins:     binLabels(cfg.FeatureCountBins),
		registry: r,
		feast:    newFeastCollectors(),
		store:    newStoreCollectors(),
		matRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feature_server_materialization_rows_written_total",
			Help: "Rows materialization has written to the online store, by feature view (counted as each batch is confirmed).",
		}, []string{"feature_view"}),
		matViews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feature_server_materialization_views_done_total",
			Help: "Feature views whose materialization ended, by status (success, error).",
		}, []string{"status"}),
	}
	m.onlineOK = m.feast.requests.WithLabelValues(onlinePath, "success")
	m.onlineErr = m.feast.requests.WithLabelValues(onlinePath, "error")
	m.onlineUnlabelled = m.feast.latency.WithLabelValues(onlinePath, "", "")
	m.httpOnline200 = m.requests.WithLabelValues(onlinePath, "200")
	m.httpOnlineLatency = m.latency.WithLabelValues(onlinePath)
	m.reg.MustRegister(m.requests, m.latency, m.matRows, m.matViews, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(m.feast.collectors()...)
	m.reg.MustRegister(m.store.collectors()...)
	var res resourceUsage
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "feast_feature_server_cpu_usage",
		Help: "CPU usage percentage of the Feast feature server process",
	}, func() float64 {
		if !cfg.Resource {
			return 0
		}
		return res.cpuPercent()
	}))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "feast_feature_server_memory_usage",
		Help: "Memory usage percentage of the Feast feature server process",
	}, func() float64 {
		if !cfg.Resource {
			return 0
		}
		return memoryPercent()
	}))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "feature_server_materialization_jobs_running",
		Help: "Materializations running now (sync requests in progress and async runs).",
	}, func() float64 { return float64(m.jobs.Running()) }))
	if r != nil {
		if cfg.Freshness {
			m.reg.MustRegister(newFreshness(r))
		}
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
	m.observeLabelled(path, code, start, nil)
}

// observeLabelled is observe with the labels of an online request.
func (m *Metrics) observeLabelled(path string, code int, start time.Time, lab *onlineLabels) {
	d := time.Since(start).Seconds()
	if path == onlinePath {
		m.httpOnlineLatency.Observe(d)
		if code == http.StatusOK {
			m.httpOnline200.Inc()
		} else {
			m.requests.WithLabelValues(path, strconv.Itoa(code)).Inc()
		}
	} else {
		m.latency.WithLabelValues(path).Observe(d)
		m.requests.WithLabelValues(path, strconv.Itoa(code)).Inc()
	}
	m.observeFeast(path, code, d, lab)
}

// Instrument hooks m into h's services: the online service's per-view
// status counts, the timing of tracked on-demand views on read and on
// write, and the materialization engine's progress. Call it once, before
// serving; it does nothing on nil Metrics.
func (m *Metrics) Instrument(h *HTTP) {
	if m == nil {
		return
	}
	if s := h.Online; s != nil && m.cfg.OnlineFeatures {
		s.Statuses = m.viewStatuses
		if s.Transformer != nil {
			s.Transformer = timedTransformer{s.Transformer, m.feast.transform}
		}
	}
	if in := h.Ingest; in != nil && in.Transformer != nil && m.cfg.OnlineFeatures {
		in.Transformer = timedTransformer{in.Transformer, m.feast.writeTransform}
	}
	if j := h.Materialize; j != nil {
		m.jobs = j
		e := j.Engine
		e.Progress = &matProgress{m: m, next: e.Progress, started: map[string]time.Time{}, written: map[string]int64{}}
	}
}
