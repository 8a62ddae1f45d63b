package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/feastgo/feastgo/internal/otelenv"
	"github.com/feastgo/feastgo/server"
	"github.com/feastgo/feastgo/version"
)

// tracingShutdownTimeout bounds the flush of the spans still queued when
// the server stops.
const tracingShutdownTimeout = 5 * time.Second

// startTracing starts OpenTelemetry tracing when the OTEL_* environment
// asks for it (internal/otelenv) and hooks it into h; stop flushes the
// spans queued and stops the exporter. Off, h is left as it is and stop
// does nothing.
func startTracing(ctx context.Context, h *server.HTTP, storeType string, log *slog.Logger) (stop func(), err error) {
	t, stop, err := newTracing(ctx, storeType, log)
	t.Instrument(h)
	return stop, err
}

// newTracing is the server's Tracing as the OTEL_* environment asks (nil
// when off) and the function that flushes and stops it.
func newTracing(ctx context.Context, storeType string, log *slog.Logger) (_ *server.Tracing, stop func(), err error) {
	t, err := otelenv.Start(ctx, log, version.Server)
	if err != nil || t == nil {
		return nil, func() {}, err
	}
	return server.NewTracing(t.Provider, t.Propagator, dbSystem(storeType)), func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
		defer cancel()
		if err := t.Shutdown(ctx); err != nil {
			log.Warn("tracing: flushing spans at shutdown", "err", err)
		}
	}, nil
}

// dbSystem is OpenTelemetry's db.system.name of an online store type.
func dbSystem(storeType string) string {
	if storeType == "postgres" {
		return "postgresql"
	}
	return storeType
}
