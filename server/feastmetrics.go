package server

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/materialize"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/registry"
)

// feastCollectors are the metrics of Feast 0.67's feast/metrics.py, with
// its names, types, labels, help and buckets, so that dashboards built on
// Feast's feature server keep working. Each category records only when
// feature_server.metrics enables it (all do by default), as in Feast.
type feastCollectors struct {
	requests       *prometheus.CounterVec   // endpoint, status
	latency        *prometheus.HistogramVec // endpoint, feature_count, feature_view_count
	onlineRequests prometheus.Counter
	entityCount    prometheus.Histogram
	statuses       *prometheus.CounterVec // feature_view, status
	push           *prometheus.CounterVec // push_source, mode
	matResult      *prometheus.CounterVec // feature_view, status
	matDuration    *prometheus.HistogramVec
	storeRead      prometheus.Histogram
	transform      *prometheus.HistogramVec // odfv_name, mode
	writeTransform *prometheus.HistogramVec
	offlineReqs    *prometheus.CounterVec // method, status
	offlineLatency *prometheus.HistogramVec
	offlineRows    *prometheus.HistogramVec
}

func newFeastCollectors() *feastCollectors {
	odfvBuckets := []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0}
	return &feastCollectors{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feast_feature_server_request_total",
			Help: "Total number of requests to the Feast feature server",
		}, []string{"endpoint", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feast_feature_server_request_latency_seconds",
			Help:    "Latency of requests to the Feast feature server in seconds",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0},
		}, []string{"endpoint", "feature_count", "feature_view_count"}),
		onlineRequests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "feast_online_features_request_total",
			Help: "Total online feature retrieval requests",
		}),
		entityCount: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "feast_online_features_entity_count",
			Help:    "Number of entity rows per online feature request",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000},
		}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feast_online_features_status_total",
			Help: "Count of individual feature values by retrieval status per feature view",
		}, []string{"feature_view", "status"}),
		push: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feast_push_request_total",
			Help: "Total push requests to the feature store",
		}, []string{"push_source", "mode"}),
		matResult: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feast_materialization_result_total",
			Help: "Total materialization runs per feature view",
		}, []string{"feature_view", "status"}),
		matDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feast_materialization_duration_seconds",
			Help:    "Duration of materialization per feature view in seconds",
			Buckets: []float64{1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0},
		}, []string{"feature_view"}),
		storeRead: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "feast_feature_server_online_store_read_duration_seconds",
			Help:    "Duration of the online store read phase in seconds (covers all table reads including parallel async)",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0},
		}),
		transform: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feast_feature_server_transformation_duration_seconds",
			Help:    "Duration of on-demand feature view transformations on read in seconds",
			Buckets: odfvBuckets,
		}, []string{"odfv_name", "mode"}),
		writeTransform: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feast_feature_server_write_transformation_duration_seconds",
			Help:    "Duration of on-demand feature view transformations on write in seconds",
			Buckets: odfvBuckets,
		}, []string{"odfv_name", "mode"}),
		offlineReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feast_offline_store_request_total",
			Help: "Total offline store retrieval requests",
		}, []string{"method", "status"}),
		offlineLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feast_offline_store_request_latency_seconds",
			Help:    "Latency of offline store retrieval operations in seconds",
			Buckets: []float64{0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0},
		}, []string{"method"}),
		offlineRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feast_offline_store_row_count",
			Help:    "Number of rows returned by offline store retrieval",
			Buckets: []float64{100, 1000, 10000, 100000, 500000, 1000000, 5000000},
		}, []string{"method"}),
	}
}

func (c *feastCollectors) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.requests, c.latency, c.onlineRequests, c.entityCount, c.statuses,
		c.push, c.matResult, c.matDuration, c.storeRead, c.transform, c.writeTransform,
		c.offlineReqs, c.offlineLatency, c.offlineRows}
}

// feastEndpoints are the routes Feast's server times (track_request_latency).
var feastEndpoints = map[string]bool{onlinePath: true, "/push": true, "/materialize": true, "/materialize-incremental": true}

// feastStatus is track_request_latency's status: "error" when the handler
// raised, which in Feast is every answer of 400 and over.
func feastStatus(code int) string {
	if code >= 400 {
		return "error"
	}
	return "success"
}

// onlineLabels are the feature_count and feature_view_count labels of one
// /get-online-features request, "" until its features are resolved (as in
// Feast, where a request failing before that keeps them empty).
type onlineLabels struct {
	features, views string
	key             uint64 // (feature bin, view count) for the observer cache
	set             bool
}

// labelOnline sets lab from req, as Feast's _parse_feature_info: the refs
// and their distinct view names, or the feature service's projections,
// with the feature count binned by feature_count_bins. It also counts the
// request and its entity rows (track_online_features_entities). A
// feature service that does not exist leaves the request unlabelled.
func (m *Metrics) labelOnline(snapshot func() *registry.Snapshot, req *online.Request, lab *onlineLabels) {
	if !m.cfg.OnlineFeatures && !m.cfg.Request {
		return
	}
	nfeat, nviews := 0, 0
	if req.FeatureService != "" {
		var fs *registry.Service
		if snap := snapshot(); snap != nil {
			fs, _ = snap.Service(req.FeatureService)
		}
		if fs == nil {
			return
		}
		nviews = len(fs.Projections)
		for i := range fs.Projections {
			nfeat += len(fs.Projections[i].Features)
		}
	} else {
		nfeat = len(req.Features)
		nviews = distinctViews(req.Features)
	}
	if m.cfg.Request {
		bin := m.binIndex(nfeat)
		lab.features, lab.views, lab.set = m.bins[bin], viewCountLabel(nviews), true
		lab.key = uint64(bin)<<32 | uint64(uint32(nviews))
	}
	if m.cfg.OnlineFeatures {
		rows := 0
		if len(req.Entities) > 0 {
			rows = len(req.Entities[0].Values)
		}
		m.feast.onlineRequests.Inc()
		m.feast.entityCount.Observe(float64(rows))
	}
}

// distinctViews counts the distinct view names of refs with a ":" (the
// part before the first ":"): refs of one view mostly come together, so
// each is compared with the distinct names seen so far, which stay on the
// stack up to 16.
func distinctViews(refs []string) int {
	var buf [16]string
	seen := buf[:0]
	last := ""
	for _, r := range refs {
		i := strings.IndexByte(r, ':')
		if i < 0 {
			continue
		}
		v := r[:i]
		if v == last {
			continue
		}
		last = v
		if !slices.Contains(seen, v) {
			seen = append(seen, v)
		}
	}
	return len(seen)
}

var smallInts = func() []string {
	s := make([]string, 64)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func viewCountLabel(n int) string {
	if n < len(smallInts) {
		return smallInts[n]
	}
	return strconv.Itoa(n)
}

// binLabels are Feast's bin_feature_count labels of bins: "0", "1-b0",
// "b0+1-b1", ..., "bn+1+".
func binLabels(bins []int) []string {
	out := []string{"0"}
	lower := 1
	for _, b := range bins {
		out = append(out, strconv.Itoa(lower)+"-"+strconv.Itoa(b))
		lower = b + 1
	}
	return append(out, strconv.Itoa(lower)+"+")
}

// binIndex is the index in m.bins of n's label.
func (m *Metrics) binIndex(n int) int {
	if n == 0 {
		return 0
	}
	for i, b := range m.cfg.FeatureCountBins {
		if n <= b {
			return i + 1
		}
	}
	return len(m.cfg.FeatureCountBins) + 1
}

// observeFeast records one request of a route Feast times.
func (m *Metrics) observeFeast(path string, code int, d float64, lab *onlineLabels) {
	if !m.cfg.Request || !feastEndpoints[path] {
		return
	}
	if path == onlinePath {
		// The hot route: its children are cached, the label lookups
		// hash three strings.
		if code < 400 {
			m.onlineOK.Inc()
		} else {
			m.onlineErr.Inc()
		}
		if lab == nil || !lab.set {
			m.onlineUnlabelled.Observe(d)
			return
		}
		if o, ok := m.onlineLatency.Load(lab.key); ok {
			o.(prometheus.Observer).Observe(d)
			return
		}
		o := m.feast.latency.WithLabelValues(path, lab.features, lab.views)
		m.onlineLatency.Store(lab.key, o)
		o.Observe(d)
		return
	}
	m.feast.requests.WithLabelValues(path, feastStatus(code)).Inc()
	m.feast.latency.WithLabelValues(path, "", "").Observe(d)
}

// viewStatuses is the online service's hook for Feast's per-view
// PRESENT/NOT_FOUND counts (track_feature_statuses).
func (m *Metrics) viewStatuses(view string, present, notFound int) {
	c, ok := m.statusCache.Load(view)
	if !ok {
		c = &[2]prometheus.Counter{m.feast.statuses.WithLabelValues(view, "present"), m.feast.statuses.WithLabelValues(view, "not_found")}
		c, _ = m.statusCache.LoadOrStore(view, c)
	}
	pc := c.(*[2]prometheus.Counter)
	if present > 0 {
		pc[0].Add(float64(present))
	}
	if notFound > 0 {
		pc[1].Add(float64(notFound))
	}
}

// pushed counts a successful push (track_push), by the request's "to".
func (m *Metrics) pushed(source, mode string) {
	if m.cfg.Push {
		m.feast.push.WithLabelValues(source, mode).Inc()
	}
}

// offlineRetrieval records one historical retrieval as Feast records a
// RetrievalJob.to_arrow.
func (m *Metrics) offlineRetrieval(err error, d time.Duration, rows int64) {
	if !m.cfg.OfflineFeatures {
		return
	}
	st := "success"
	if err != nil {
		st = "error"
	}
	m.feast.offlineReqs.WithLabelValues("to_arrow", st).Inc()
	m.feast.offlineLatency.WithLabelValues("to_arrow").Observe(d.Seconds())
	m.feast.offlineRows.WithLabelValues("to_arrow").Observe(float64(rows))
}

// trackTag is the tag with which Feast stores an on-demand view's
// track_metrics flag: only such views' transformations are timed.
const trackTag = "feast:track_metrics"

func tracked(o *registry.ODFV) bool {
	if o.Proto == nil || o.Proto.GetSpec() == nil {
		return false
	}
	return strings.EqualFold(o.Proto.GetSpec().GetTags()[trackTag], "true")
}

// timedTransformer times the transformations of tracked on-demand views
// into h (read or write path).
type timedTransformer struct {
	online.Transformer
	h *prometheus.HistogramVec
}

func (t timedTransformer) Transform(ctx context.Context, odfv *registry.ODFV, outputs []registry.Field, inputs map[string]*core.Column, rows int, fullNames bool) ([]core.Column, error) {
	if !tracked(odfv) {
		return t.Transformer.Transform(ctx, odfv, outputs, inputs, rows, fullNames)
	}
	start := time.Now()
	out, err := t.Transformer.Transform(ctx, odfv, outputs, inputs, rows, fullNames)
	t.h.WithLabelValues(odfv.Name, odfv.Mode).Observe(time.Since(start).Seconds())
	return out, err
}

// freshness is feast_feature_freshness_seconds, computed at scrape time
// from the registry in force: seconds since the latest materialized end
// of every feature view and stream feature view that has one.
type freshness struct {
	reg  *registry.Registry
	desc *prometheus.Desc
}

func newFreshness(r *registry.Registry) *freshness {
	return &freshness{reg: r, desc: prometheus.NewDesc("feast_feature_freshness_seconds",
		"Seconds since the most recent materialization end time per feature view", []string{"feature_view", "project"}, nil)}
}

func (f *freshness) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

func (f *freshness) Collect(ch chan<- prometheus.Metric) {
	snap := f.reg.Current()
	if snap == nil {
		return
	}
	now := time.Now()
	for _, v := range snap.AllViews() {
		var end time.Time
		for _, iv := range v.MaterializationIntervals {
			if t := iv.GetEndTime(); t != nil && t.AsTime().After(end) {
				end = t.AsTime()
			}
		}
		if !end.IsZero() {
			ch <- prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, now.Sub(end).Seconds(), v.Name, snap.Project)
		}
	}
}

// matProgress is the materialization engine's Progress when metrics are
// on: Feast's per-view result and duration, and our progress counters.
type matProgress struct {
	m    *Metrics
	next materialize.Progress

	mu      sync.Mutex
	started map[string]time.Time
	written map[string]int64
}

func (p *matProgress) ViewStarted(view string, start, end time.Time) {
	p.mu.Lock()
	p.started[view] = time.Now()
	p.written[view] = 0
	p.mu.Unlock()
	if p.next != nil {
		p.next.ViewStarted(view, start, end)
	}
}

func (p *matProgress) RowsWritten(view string, done, total int64) {
	p.mu.Lock()
	delta := done - p.written[view]
	if delta > 0 {
		p.written[view] = done
	}
	p.mu.Unlock()
	if delta > 0 {
		p.m.matRows.WithLabelValues(view).Add(float64(delta))
	}
	if p.next != nil {
		p.next.RowsWritten(view, done, total)
	}
}

func (p *matProgress) ViewDone(view string, rows int64, err error) {
	p.mu.Lock()
	start, ok := p.started[view]
	delta := rows - p.written[view]
	delete(p.started, view)
	delete(p.written, view)
	p.mu.Unlock()
	if delta > 0 {
		p.m.matRows.WithLabelValues(view).Add(float64(delta))
	}
	st, feastSt := "success", "success"
	if err != nil {
		st, feastSt = "error", "failure"
	}
	p.m.matViews.WithLabelValues(st).Inc()
	if p.m.cfg.Materialization {
		p.m.feast.matResult.WithLabelValues(view, feastSt).Inc()
		if ok {
			p.m.feast.matDuration.WithLabelValues(view).Observe(time.Since(start).Seconds())
		}
	}
	if p.next != nil {
		p.next.ViewDone(view, rows, err)
	}
}

type retrieveFunc = func(ctx context.Context, snap *registry.Snapshot, req *historical.Request, fn func(arrow.RecordBatch) error) error

// timedRetrieve records a historical retrieval as Feast records its
// RetrievalJob.to_arrow: status, latency and the rows returned.
func (m *Metrics) timedRetrieve(retrieve retrieveFunc) retrieveFunc {
	return func(ctx context.Context, snap *registry.Snapshot, req *historical.Request, fn func(arrow.RecordBatch) error) error {
		start := time.Now()
		var rows int64
		err := retrieve(ctx, snap, req, func(rec arrow.RecordBatch) error {
			rows += rec.NumRows()
			return fn(rec)
		})
		m.offlineRetrieval(err, time.Since(start), rows)
		return err
	}
}
