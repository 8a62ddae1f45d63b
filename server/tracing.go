package server

import (
	"bytes"
	"context"
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
)

// Tracing puts OpenTelemetry spans on the request paths: one server span
// per HTTP request and gRPC call, a child of the caller's when the request
// carries W3C trace context (traceparent, tracestate), and client spans
// for the online store's reads and writes under it. It is optional, like
// Metrics: with a nil Tracing nothing is wrapped and no span is made.
type Tracing struct {
	tracer    trace.Tracer
	prop      propagation.TextMapPropagator
	storeType string
}

// TracerName is the instrumentation scope of the server's spans.
const TracerName = "github.com/feastgo/feastgo/server"

// NewTracing returns the tracing of a server whose spans tp makes, reading
// incoming context with prop; storeType (feature_store.yaml's online store
// type) names the store in its spans.
func NewTracing(tp trace.TracerProvider, prop propagation.TextMapPropagator, storeType string) *Tracing {
	return &Tracing{tracer: tp.Tracer(TracerName), prop: prop, storeType: storeType}
}

// Instrument hooks t into h: h's requests get spans (NewFastServer and
// the gRPC options read h.Tracing), and the stores of its online reads,
// pushes and materializations and the offline reads of materialization
// and historical retrieval are traced. Call it once, before serving;
// it does nothing on nil Tracing.
func (t *Tracing) Instrument(h *HTTP) {
	if t == nil {
		return
	}
	h.Tracing = t
	if s := h.Online; s != nil && s.Store != nil {
		s.Store = t.Store(s.Store)
	}
	if in := h.Ingest; in != nil && in.Store != nil {
		in.Store = t.Writer(in.Store)
	}
	if j := h.Materialize; j != nil && j.Engine != nil {
		if j.Engine.Store != nil {
			j.Engine.Store = t.Writer(j.Engine.Store)
		}
		if j.Engine.Sources != nil {
			j.Engine.Sources = t.Catalog(j.Engine.Sources)
		}
	}
	if r := h.Historical; r != nil && r.Catalog != nil {
		r.Catalog = t.Catalog(r.Catalog)
	}
}

// spanContextKey is the fasthttp user value holding a request's context
// with its server span.
type spanContextKey struct{}

// wrapFast gives every request next serves a server span: started from
// the request's trace context, named by method and route, ended with the
// status.
func (t *Tracing) wrapFast(h *HTTP, next fasthttp.RequestHandler) fasthttp.RequestHandler {
	if t == nil {
		return next
	}
	// The span names ("POST /push") of the methods served, made once.
	names := map[spanName]string{}
	for route := range h.routes {
		for _, m := range []string{fasthttp.MethodGet, fasthttp.MethodPost} {
			names[spanName{m, route}] = m + " " + route
		}
	}
	return func(ctx *fasthttp.RequestCtx) {
		if isHealthPath(ctx.URI().PathOriginal()) {
			next(ctx) // probes every few seconds would bury the traces
			return
		}
		parent := t.prop.Extract(context.Background(), fastHeaderCarrier{&ctx.Request.Header})
		method := methodString(ctx.Method())
		route := h.routeLabel(string(ctx.URI().PathOriginal()))
		name, ok := names[spanName{method, route}]
		if !ok {
			name = method // a method or a route of no span name below
		}
		c, span := t.tracer.Start(parent, name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route)))
		ctx.SetUserValue(spanContextKey{}, c)
		defer func() {
			// After a panic too: fasthttp re-panics nothing, but a span
			// left open would never be exported.
			if !span.IsRecording() { // sampled out
				span.End()
				return
			}
			status := ctx.Response.StatusCode()
			span.SetAttributes(attribute.Int("http.response.status_code", status),
				attribute.String("feast.request_id", string(ctx.Response.Header.PeekBytes(requestIDKey))))
			if status >= 500 {
				span.SetAttributes(attribute.String("error.type", strconv.Itoa(status)))
				span.SetStatus(codes.Error, errorDetail(ctx.Response.Body()))
			}
			span.End()
		}()
		next(ctx)
	}
}

// spanName is the key of a request's span name.
type spanName struct{ method, route string }

// isHealthPath reports the probes' routes, which get no span.
func isHealthPath(p []byte) bool {
	return string(p) == "/health" || bytes.HasPrefix(p, []byte("/health/"))
}

// errorDetail is the start of an error answer's body, for a span's status.
func errorDetail(body []byte) string {
	const max = 512
	if len(body) > max {
		body = body[:max]
	}
	return string(body)
}

// fastContext is the context of a request served natively: the request's
// span in it when tracing is on.
func (h *HTTP) fastContext(ctx *fasthttp.RequestCtx) context.Context {
	c := requestContext
	if h.Tracing != nil {
		if sc, ok := ctx.UserValue(spanContextKey{}).(context.Context); ok {
			c = sc
		}
	}
	if h.Auth != nil {
		c = withUser(c, ctx)
	}
	return c
}

// routed gives the router's handlers the request's span in their
// request's context: fasthttpadaptor's context looks its values up in the
// fasthttp user values, where wrapFast left it.
func (t *Tracing) routed(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(spanContextKey{}).(context.Context); ok {
			r = r.WithContext(trace.ContextWithSpan(r.Context(), trace.SpanFromContext(c)))
		}
		next.ServeHTTP(w, r)
	})
}

// traceID is the trace id of ctx's request span, "" when there is none.
func (h *HTTP) traceID(ctx *fasthttp.RequestCtx) string {
	if h.Tracing == nil {
		return ""
	}
	c, ok := ctx.UserValue(spanContextKey{}).(context.Context)
	if !ok {
		return ""
	}
	if sc := trace.SpanContextFromContext(c); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// onlineRequest adds what an online request asks for to its span.
func (t *Tracing) onlineRequest(ctx context.Context, req *online.Request) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	rows := 0
	if len(req.Entities) > 0 {
		rows = len(req.Entities[0].Values)
	}
	attrs := []attribute.KeyValue{attribute.Int("feast.entity_rows", rows), attribute.Int("feast.features", len(req.Features))}
	if req.FeatureService != "" {
		attrs = append(attrs, attribute.String("feast.feature_service", req.FeatureService))
	}
	span.SetAttributes(attrs...)
}

// fastHeaderCarrier reads trace context from a fasthttp request's headers.
type fastHeaderCarrier struct{ h *fasthttp.RequestHeader }

func (c fastHeaderCarrier) Get(key string) string { return string(c.h.Peek(key)) }
func (c fastHeaderCarrier) Set(key, value string) { c.h.Set(key, value) }
func (c fastHeaderCarrier) Keys() []string {
	var keys []string
	for k := range c.h.All() {
		keys = append(keys, string(k))
	}
	return keys
}

// Store returns s with its reads traced: a client span per read under the
// request's span (none when the request is not traced), with the views,
// keys and features read. Only Read and ReadScratch are kept: give it to
// the online service, not to what asserts other interfaces.
func (t *Tracing) Store(s onlinestore.Store) onlinestore.Store {
	b := &tracedStore{t: t, inner: s}
	if _, ok := s.(onlinestore.ScratchReader); ok {
		return tracedScratch{b}
	}
	return b
}

// Writer returns w with its writes traced, as Store does reads.
func (t *Tracing) Writer(w onlinestore.Writer) onlinestore.Writer {
	return &tracedWriter{t: t, inner: w}
}

type tracedStore struct {
	t     *Tracing
	inner onlinestore.Store
}

func (s *tracedStore) Read(ctx context.Context, reqs []onlinestore.ReadRequest) error {
	ctx, span, ok := s.t.startRead(ctx, reqs)
	if !ok {
		return s.inner.Read(ctx, reqs)
	}
	err := s.inner.Read(ctx, reqs)
	endSpan(span, err)
	return err
}

func (s *tracedStore) Close() error { return s.inner.Close() }

type tracedScratch struct{ *tracedStore }

func (s tracedScratch) ReadScratch(ctx context.Context, reqs []onlinestore.ReadRequest, sc *onlinestore.Scratch) error {
	ctx, span, ok := s.t.startRead(ctx, reqs)
	if !ok {
		return s.inner.(onlinestore.ScratchReader).ReadScratch(ctx, reqs, sc)
	}
	err := s.inner.(onlinestore.ScratchReader).ReadScratch(ctx, reqs, sc)
	endSpan(span, err)
	return err
}

// startRead starts a read's span, when the request's span records.
func (t *Tracing) startRead(ctx context.Context, reqs []onlinestore.ReadRequest) (context.Context, trace.Span, bool) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil, false
	}
	keys, features := 0, 0
	for i := range reqs {
		keys += len(reqs[i].Keys)
		features += len(reqs[i].Features)
	}
	ctx, span := t.tracer.Start(ctx, "online_store.read", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", t.storeType), attribute.String("db.operation.name", "read"),
			attribute.Int("feast.feature_views", len(reqs)), attribute.Int("feast.entity_keys", keys), attribute.Int("feast.features", features)))
	return ctx, span, true
}

type tracedWriter struct {
	t     *Tracing
	inner onlinestore.Writer
}

func (w *tracedWriter) Write(ctx context.Context, b onlinestore.WriteBatch) error {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return w.inner.Write(ctx, b)
	}
	ctx, span := w.t.tracer.Start(ctx, "online_store.write", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", w.t.storeType), attribute.String("db.operation.name", "write"),
			attribute.String("feast.feature_view", b.View), attribute.Int("feast.rows", len(b.Rows))))
	err := w.inner.Write(ctx, b)
	endSpan(span, err)
	return err
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
