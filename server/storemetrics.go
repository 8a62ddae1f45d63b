package server

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feastgo/feastgo/onlinestore"
)

// storeCollectors are the feature-store service metrics: reads, writes and
// read latency by storage type (the online store's type in
// feature_store.yaml) and the online data's size.
type storeCollectors struct {
	reads, writes *prometheus.CounterVec
	readLatency   *prometheus.HistogramVec
}

func newStoreCollectors() *storeCollectors {
	return &storeCollectors{
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feature_store_reads_total",
			Help: "Online store read calls (one per online request, every view in one call) by storage type and status (success, error).",
		}, []string{"storage_type", "status"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feature_store_writes_total",
			Help: "Online store write calls (one batch of one view each) by storage type and status (success, error).",
		}, []string{"storage_type", "status"}),
		readLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feature_store_read_latency_seconds",
			Help:    "Latency of online store read calls by storage type.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"storage_type"}),
	}
}

func (c *storeCollectors) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.reads, c.writes, c.readLatency}
}

// sizeTTL is how long a measured online size is served before the next
// scrape measures it again; sizeTimeout bounds one measurement.
const (
	sizeTTL     = 5 * time.Second
	sizeTimeout = 2 * time.Second
)

// InstrumentStore returns s wrapped so that its reads and writes are
// counted and timed under storage_type typ, with the same optional
// interfaces (ScratchReader, Writer, Pinger, Sizer) as s, and, when s is a
// Sizer, registers feature_store_online_size_bytes. Call it once per
// Metrics; on nil Metrics it returns s itself.
func (m *Metrics) InstrumentStore(s onlinestore.Store, typ string) onlinestore.Store {
	if m == nil || s == nil {
		return s
	}
	b := &instrumented{inner: s,
		readOK:  m.store.reads.WithLabelValues(typ, "success"),
		readErr: m.store.reads.WithLabelValues(typ, "error"),
		writeOK: m.store.writes.WithLabelValues(typ, "success"), writeErr: m.store.writes.WithLabelValues(typ, "error"),
		latency: m.store.readLatency.WithLabelValues(typ)}
	if m.cfg.OnlineFeatures {
		b.phase = m.feast.storeRead
	}
	if z, ok := s.(onlinestore.Sizer); ok {
		m.reg.MustRegister(&sizeCollector{sizer: z, desc: prometheus.NewDesc("feature_store_online_size_bytes",
			"Bytes the online store holds (Redis: INFO used_memory of the server; SQLite: the database file and its WAL; PostgreSQL: pg_total_relation_size of the project's tables), measured at most every 5 s.",
			nil, prometheus.Labels{"storage_type": typ})})
	}
	return wrapStore(b)
}

// instrumented is the wrapper's base: Read and Close. The optional
// interfaces come from the carriers below, combined by wrapStore.
type instrumented struct {
	inner                              onlinestore.Store
	readOK, readErr, writeOK, writeErr prometheus.Counter
	latency                            prometheus.Observer
	phase                              prometheus.Observer // Feast's online store read phase; nil when off
}

func (b *instrumented) Read(ctx context.Context, reqs []onlinestore.ReadRequest) error {
	start := time.Now()
	err := b.inner.Read(ctx, reqs)
	b.read(start, err)
	return err
}

func (b *instrumented) read(start time.Time, err error) {
	d := time.Since(start).Seconds()
	b.latency.Observe(d)
	if b.phase != nil {
		b.phase.Observe(d)
	}
	if err != nil {
		b.readErr.Inc()
	} else {
		b.readOK.Inc()
	}
}

func (b *instrumented) Close() error { return b.inner.Close() }

type scratchReader struct{ *instrumented }

func (s scratchReader) ReadScratch(ctx context.Context, reqs []onlinestore.ReadRequest, sc *onlinestore.Scratch) error {
	start := time.Now()
	err := s.inner.(onlinestore.ScratchReader).ReadScratch(ctx, reqs, sc)
	s.read(start, err)
	return err
}

type writer struct{ *instrumented }

func (w writer) Write(ctx context.Context, batch onlinestore.WriteBatch) error {
	err := w.inner.(onlinestore.Writer).Write(ctx, batch)
	if err != nil {
		w.writeErr.Inc()
	} else {
		w.writeOK.Inc()
	}
	return err
}

type pinger struct{ *instrumented }

func (p pinger) Ping(ctx context.Context) error { return p.inner.(onlinestore.Pinger).Ping(ctx) }

type sizer struct{ *instrumented }

func (z sizer) OnlineSize(ctx context.Context) (int64, error) {
	return z.inner.(onlinestore.Sizer).OnlineSize(ctx)
}

// The wrapper types of every combination of optional interfaces (bits:
// 1 ScratchReader, 2 Writer, 4 Pinger, 8 Sizer), so that a type assertion
// on the wrapper answers as one on the store would.
type (
	w0 struct{ *instrumented }
	w1 struct{ scratchReader }
	w2 struct{ writer }
	w3 struct {
		scratchReader
		writer
	}
	w4 struct{ pinger }
	w5 struct {
		scratchReader
		pinger
	}
	w6 struct {
		writer
		pinger
	}
	w7 struct {
		scratchReader
		writer
		pinger
	}
	w8 struct{ sizer }
	w9 struct {
		scratchReader
		sizer
	}
	w10 struct {
		writer
		sizer
	}
	w11 struct {
		scratchReader
		writer
		sizer
	}
	w12 struct {
		pinger
		sizer
	}
	w13 struct {
		scratchReader
		pinger
		sizer
	}
	w14 struct {
		writer
		pinger
		sizer
	}
	w15 struct {
		scratchReader
		writer
		pinger
		sizer
	}
)

// Read and Close of the combinations embedding more than one carrier (the
// carriers' promoted Read would be ambiguous).
func (w w3) Read(ctx context.Context, r []onlinestore.ReadRequest) error {
	return w.writer.Read(ctx, r)
}
func (w w3) Close() error { return w.writer.Close() }
func (w w5) Read(ctx context.Context, r []onlinestore.ReadRequest) error {
	return w.pinger.Read(ctx, r)
}
func (w w5) Close() error { return w.pinger.Close() }
func (w w6) Read(ctx context.Context, r []onlinestore.ReadRequest) error {
	return w.pinger.Read(ctx, r)
}
func (w w6) Close() error { return w.pinger.Close() }
func (w w7) Read(ctx context.Context, r []onlinestore.ReadRequest) error {
	return w.pinger.Read(ctx, r)
}
func (w w7) Close() error                                                { return w.pinger.Close() }
func (w w9) Read(ctx context.Context, r []onlinestore.ReadRequest) error { return w.sizer.Read(ctx, r) }
func (w w9) Close() error                                                { return w.sizer.Close() }
func (w w10) Read(ctx context.Context, r []onlinestore.ReadRequest) error {
	return w.sizer.Read(ctx, r)
}
func (w w10) Close() error { return w.sizer.Close() }
func (w w11) Read(ctx context.Context, r []onlinestore.ReadRequest) error {
	return w.sizer.Read(ctx, r)
}
func (w w11) Close() error { return w.sizer.Close() }
func (w w12) Read(ctx context.Context, r []onlinestore.ReadRequest) error {
	return w.sizer.Read(ctx, r)
}
func (w w12) Close() error { return w.sizer.Close() }
func (w w13) Read(ctx context.Context, r []onlinestore.ReadRequest) error {
	return w.sizer.Read(ctx, r)
}
func (w w13) Close() error { return w.sizer.Close() }
func (w w14) Read(ctx context.Context, r []onlinestore.ReadRequest) error {
	return w.sizer.Read(ctx, r)
}
func (w w14) Close() error { return w.sizer.Close() }
func (w w15) Read(ctx context.Context, r []onlinestore.ReadRequest) error {
	return w.sizer.Read(ctx, r)
}
func (w w15) Close() error { return w.sizer.Close() }

// wrapStore picks the combination of b's store's optional interfaces.
func wrapStore(b *instrumented) onlinestore.Store {
	bits := 0
	if _, ok := b.inner.(onlinestore.ScratchReader); ok {
		bits |= 1
	}
	if _, ok := b.inner.(onlinestore.Writer); ok {
		bits |= 2
	}
	if _, ok := b.inner.(onlinestore.Pinger); ok {
		bits |= 4
	}
	if _, ok := b.inner.(onlinestore.Sizer); ok {
		bits |= 8
	}
	s, w, p, z := scratchReader{b}, writer{b}, pinger{b}, sizer{b}
	switch bits {
	case 1:
		return w1{s}
	case 2:
		return w2{w}
	case 3:
		return w3{s, w}
	case 4:
		return w4{p}
	case 5:
		return w5{s, p}
	case 6:
		return w6{w, p}
	case 7:
		return w7{s, w, p}
	case 8:
		return w8{z}
	case 9:
		return w9{s, z}
	case 10:
		return w10{w, z}
	case 11:
		return w11{s, w, z}
	case 12:
		return w12{p, z}
	case 13:
		return w13{s, p, z}
	case 14:
		return w14{w, p, z}
	case 15:
		return w15{s, w, p, z}
	}
	return w0{b}
}

// sizeCollector measures the online size at scrape time, at most every
// sizeTTL, each measurement bounded by sizeTimeout. A failed measurement
// serves the last good one (none before the first).
type sizeCollector struct {
	sizer onlinestore.Sizer
	desc  *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	val    int64
	hasVal bool
}

func (c *sizeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sizeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) >= sizeTTL {
		ctx, cancel := context.WithTimeout(context.Background(), sizeTimeout)
		n, err := c.sizer.OnlineSize(ctx)
		cancel()
		c.at = time.Now()
		if err == nil {
			c.val, c.hasVal = n, true
		}
	}
	if c.hasVal {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.val))
	}
}
