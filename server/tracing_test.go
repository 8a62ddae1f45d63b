package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
)

// downStore fails every read as an unreachable store does.
type downStore struct{}

func (downStore) Read(context.Context, []onlinestore.ReadRequest) error {
	return core.Errorf(core.KindUnavailable, "FeastOnlineStoreUnavailable", "store down")
}
func (downStore) Close() error { return nil }

// tracedHandler is the fasthttp handler of a server over st with tracing
// into a span recorder.
func tracedHandler(t *testing.T, st onlinestore.Store, sampler sdktrace.Sampler) (fasthttp.RequestHandler, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sampler))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	snap := bench.Snapshot("bench")
	h := &server.HTTP{Online: &online.Service{Snapshot: func() *registry.Snapshot { return snap }, Store: st, KeyVersion: 3}}
	server.NewTracing(tp, propagation.TraceContext{}, "bench").Instrument(h)
	return h.NewFastServer().Handler, rec
}

func serveOnline(handler fasthttp.RequestHandler, traceparent string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(http.MethodPost)
	req.SetRequestURI("/get-online-features")
	req.Header.SetContentType("application/json")
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	req.SetBody(bench.Body("1x3"))
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	handler(&ctx)
	return &ctx
}

func TestTracingHTTPSpans(t *testing.T) {
	handler, rec := tracedHandler(t, bench.NewMemStore(), sdktrace.ParentBased(sdktrace.AlwaysSample()))
	ctx := serveOnline(handler, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if ctx.Response.StatusCode() != http.StatusOK {
		t.Fatalf("status %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the request's and the store's", len(spans))
	}
	store, srv := spans[0], spans[1]
	if srv.Name() != "POST /get-online-features" || srv.SpanKind() != trace.SpanKindServer ||
		srv.Parent().SpanID().String() != "00f067aa0ba902b7" || srv.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !srv.Parent().IsRemote() {
		t.Errorf("server span %s kind %v parent %v", srv.Name(), srv.SpanKind(), srv.Parent())
	}
	if store.Name() != "online_store.read" || store.Parent().SpanID() != srv.SpanContext().SpanID() {
		t.Errorf("store span %s parent %v", store.Name(), store.Parent())
	}
	if srv.Status().Code == codes.Error {
		t.Errorf("a 200 marked as an error")
	}
}

// A store failure marks both spans as errors; the 503 is on the request's.
func TestTracingHTTPErrorSpans(t *testing.T) {
	handler, rec := tracedHandler(t, downStore{}, sdktrace.AlwaysSample())
	ctx := serveOnline(handler, "")
	if ctx.Response.StatusCode() != http.StatusServiceUnavailable {
		t.Fatalf("status %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	store, srv := spans[0], spans[1]
	if store.Status().Code != codes.Error || len(store.Events()) == 0 || store.Events()[0].Name != "exception" {
		t.Errorf("store span: status %v events %v, want the error recorded", store.Status(), store.Events())
	}
	if srv.Status().Code != codes.Error || srv.Parent().IsValid() {
		t.Errorf("server span: status %v parent %v, want an error root span", srv.Status(), srv.Parent())
	}
	found := false
	for _, a := range srv.Attributes() {
		if a.Key == "http.response.status_code" && a.Value.AsInt64() == 503 {
			found = true
		}
	}
	if !found {
		t.Errorf("attributes %v lack http.response.status_code 503", srv.Attributes())
	}
}

// A caller's decision not to sample is followed, and the store gets no
// span of its own.
func TestTracingFollowsCallerNotSampled(t *testing.T) {
	handler, rec := tracedHandler(t, bench.NewMemStore(), sdktrace.ParentBased(sdktrace.AlwaysSample()))
	serveOnline(handler, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded for an unsampled caller", n)
	}
}

// Health probes get no span.
func TestTracingSkipsHealth(t *testing.T) {
	handler, rec := tracedHandler(t, bench.NewMemStore(), sdktrace.AlwaysSample())
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	req.SetRequestURI("/health/live")
	ctx.Init(&req, nil, nil)
	handler(&ctx)
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans for a health probe", n)
	}
}

// The allocations of a read with tracing off (nil Tracing given to
// Instrument, as the binary without OTEL_* does) and on: on must show in
// the measure, off is the plain server's (BenchmarkFastHTTPTracing sets
// it beside BenchmarkFastHTTP).
func TestTracingAllocations(t *testing.T) {
	snap := bench.Snapshot("bench")
	st := bench.NewMemStore()
	allocs := func(tr *server.Tracing) float64 {
		h := &server.HTTP{Online: &online.Service{Snapshot: func() *registry.Snapshot { return snap }, Store: st, KeyVersion: 3}}
		tr.Instrument(h)
		handler := h.NewFastServer().Handler
		var req fasthttp.Request
		req.Header.SetMethod(http.MethodPost)
		req.SetRequestURI("/get-online-features")
		req.Header.SetContentType("application/json")
		req.SetBody(bench.Body("1x3"))
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, nil, nil)
		ctx.Response.KeepBodyBuffer = true
		handler(&ctx)
		return testing.AllocsPerRun(200, func() {
			ctx.Response.Reset()
			handler(&ctx)
		})
	}
	off := allocs(nil)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	on := allocs(server.NewTracing(tp, propagation.TraceContext{}, "bench"))
	if on <= off {
		t.Fatalf("tracing on allocates %v a read, off %v: the measure sees no tracing at all", on, off)
	}
	t.Logf("allocations a read: tracing off %v, on %v", off, on)
}
