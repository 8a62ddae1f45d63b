package server_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
)

// BenchmarkFastHTTPTracing is BenchmarkFastHTTP with tracing off (no
// Tracing: the binary without OTEL_*), on with every request sampled (a
// server span and the store's child span per request, through the batch
// span processor the binary uses, into an exporter that drops them: the
// SDK's cost without the network's) and on with none sampled
// (OTEL_TRACES_SAMPLER=always_off: spans made but not recorded).
//
// Run: go test -run '^$' -bench FastHTTPTracing -benchmem ./server
func BenchmarkFastHTTPTracing(b *testing.B) {
	for _, mode := range []string{"off", "on", "sampled_out"} {
		b.Run("tracing="+mode, func(b *testing.B) {
			benchStores(b, func(b *testing.B, snap *registry.Snapshot, st onlinestore.Store) {
				var tr *server.Tracing
				if mode != "off" {
					sampler := sdktrace.AlwaysSample()
					if mode == "sampled_out" {
						sampler = sdktrace.NeverSample()
					}
					tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}), sdktrace.WithSampler(sampler))
					b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
					tr = server.NewTracing(tp, propagation.TraceContext{}, "bench")
				}
				benchFastWith(b, snap, st, false, func(h *server.HTTP) { tr.Instrument(h) })
			})
		})
	}
}

// discardExporter drops every span it is given.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }
