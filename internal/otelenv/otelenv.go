// Package otelenv starts OpenTelemetry tracing the way the OTEL_*
// environment variables of the OpenTelemetry specification ask, or
// reports that it is off, which it is unless they ask for it.
//
// On: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// is set, or OTEL_TRACES_EXPORTER names otlp; and neither
// OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none. Spans then go to an
// OTLP exporter over gRPC or HTTP/protobuf (OTEL_EXPORTER_OTLP_PROTOCOL,
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL; http/protobuf by default, as the
// specification says) through a batch span processor with a bounded queue
// (OTEL_BSP_*). The exporters read the rest of OTEL_EXPORTER_OTLP_*
// (headers, timeout, compression, certificates, insecure), the SDK reads
// OTEL_TRACES_SAMPLER(_ARG) and OTEL_SPAN_*_LIMIT, and the resource
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. OTEL_PROPAGATORS picks
// the incoming context formats (tracecontext, baggage; default both).
package otelenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Tracing is a running tracer provider and the propagator of incoming
// trace context. Shutdown flushes and stops it.
type Tracing struct {
	Provider   *sdktrace.TracerProvider
	Propagator propagation.TextMapPropagator
	// Protocol is the OTLP protocol in use: grpc or http/protobuf.
	Protocol string
}

// Config is what the environment asks for, read by Read.
type Config struct {
	// On reports whether tracing is wanted; Reason says why when not.
	On       bool
	Reason   string
	Protocol string
	// Warnings are values ignored, to be logged.
	Warnings []string
}

// Read reads the switches of the environment getenv gives (os.Getenv in
// production): whether tracing is on and over which protocol. It fails on
// a protocol no exporter here speaks.
func Read(getenv func(string) string) (Config, error) {
	var c Config
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		c.Reason = "OTEL_SDK_DISABLED=true"
		return c, nil
	}
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
	otlp := false
	if v := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); v != "" {
		for _, e := range strings.Split(v, ",") {
			switch e = strings.ToLower(strings.TrimSpace(e)); e {
			case "none":
				c.Reason = "OTEL_TRACES_EXPORTER=none"
				return c, nil
			case "otlp":
				otlp = true
			case "":
			default:
				c.Warnings = append(c.Warnings, fmt.Sprintf("OTEL_TRACES_EXPORTER: %q is not supported (otlp, none); ignored", e))
			}
		}
		if !otlp {
			c.Reason = "OTEL_TRACES_EXPORTER names no supported exporter"
			return c, nil
		}
	} else if !endpoint {
		c.Reason = "no OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER"
		return c, nil
	}
	c.Protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	name := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	if c.Protocol == "" {
		c.Protocol, name = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL")), "OTEL_EXPORTER_OTLP_PROTOCOL"
	}
	switch c.Protocol {
	case "":
		c.Protocol = "http/protobuf"
	case "grpc", "http/protobuf":
	default:
		return c, fmt.Errorf("%s: %q is not supported (grpc, http/protobuf)", name, c.Protocol)
	}
	c.On = true
	return c, nil
}

// DefaultServiceName is service.name when neither OTEL_SERVICE_NAME nor
// OTEL_RESOURCE_ATTRIBUTES names one.
const DefaultServiceName = "feast-feature-server"

// Start starts tracing as the process environment asks, logging to log
// what it ignores and every export failure (at most one line a minute). It
// returns nil and no error when tracing is off: then no exporter, no
// goroutine and no global state exists. serviceVersion is the resource's
// service.version.
func Start(ctx context.Context, log *slog.Logger, serviceVersion string) (*Tracing, error) {
	cfg, err := Read(os.Getenv)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if !cfg.On {
		log.Debug("tracing off", "reason", cfg.Reason)
		return nil, nil
	}
	// The SDK reports what goes wrong (an export, a bad sampler value)
	// through the global handler.
	otel.SetErrorHandler(newErrorLog(log, time.Minute))
	var exp *otlptrace.Exporter
	if cfg.Protocol == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", DefaultServiceName), attribute.String("service.version", serviceVersion)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv()) // later detectors win: the environment's names
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	prop := propagators(os.Getenv("OTEL_PROPAGATORS"), log)
	log.Info("tracing on", "protocol", cfg.Protocol, "service", serviceName(res))
	return &Tracing{Provider: tp, Propagator: prop, Protocol: cfg.Protocol}, nil
}

// Shutdown flushes the spans queued (within ctx) and stops the exporter;
// nil Tracing does nothing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.Provider.Shutdown(ctx)
}

func serviceName(r *resource.Resource) string {
	v, _ := r.Set().Value("service.name")
	return v.AsString()
}

// propagators is OTEL_PROPAGATORS's list of the formats this server
// reads: tracecontext and baggage (the default); none is none, and others
// are warned of and ignored.
func propagators(v string, log *slog.Logger) propagation.TextMapPropagator {
	if strings.TrimSpace(v) == "" {
		v = "tracecontext,baggage"
	}
	var ps []propagation.TextMapPropagator
	for _, p := range strings.Split(v, ",") {
		switch p = strings.ToLower(strings.TrimSpace(p)); p {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none", "":
		default:
			log.Warn(fmt.Sprintf("OTEL_PROPAGATORS: %q is not supported (tracecontext, baggage); ignored", p))
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...)
}

// errorLog logs the SDK's errors: the first, then at most one a period
// with the count of those left out.
type errorLog struct {
	log    *slog.Logger
	period time.Duration

	mu      sync.Mutex
	last    time.Time
	dropped int
}

func newErrorLog(log *slog.Logger, period time.Duration) *errorLog {
	return &errorLog{log: log, period: period}
}

func (e *errorLog) Handle(err error) {
	e.mu.Lock()
	now := time.Now()
	if !e.last.IsZero() && now.Sub(e.last) < e.period {
		e.dropped++
		e.mu.Unlock()
		return
	}
	dropped := e.dropped
	e.last, e.dropped = now, 0
	e.mu.Unlock()
	e.log.Warn("tracing", "err", err, "errors_not_logged", dropped)
}
