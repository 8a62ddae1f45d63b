package server

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// GRPCOptions are the server options that give every gRPC call (unary or
// streaming: ServingService, Arrow Flight) a server span, a child of the
// trace context in the call's metadata (traceparent, tracestate). None on
// nil Tracing.
func (t *Tracing) GRPCOptions() []grpc.ServerOption {
	if t == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(t.unary), grpc.ChainStreamInterceptor(t.stream)}
}

// healthService is gRPC's health service, whose probes get no span.
const healthService = "/grpc.health.v1.Health/"

func (t *Tracing) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, healthService) {
		return handler(ctx, req)
	}
	ctx, span := t.startRPC(ctx, info.FullMethod)
	resp, err := handler(ctx, req)
	endRPC(span, err)
	return resp, err
}

func (t *Tracing) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if strings.HasPrefix(info.FullMethod, healthService) {
		return handler(srv, ss) // Watch
	}
	ctx, span := t.startRPC(ss.Context(), info.FullMethod)
	err := handler(srv, tracedStream{ss, ctx})
	endRPC(span, err)
	return err
}

// tracedStream is a stream whose context holds the call's span.
type tracedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s tracedStream) Context() context.Context { return s.ctx }

// startRPC starts the server span of the call to fullMethod
// ("/package.Service/Method"), named as OpenTelemetry's RPC conventions
// say: "package.Service/Method".
func (t *Tracing) startRPC(ctx context.Context, fullMethod string) (context.Context, trace.Span) {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		ctx = t.prop.Extract(ctx, metadataCarrier(md))
	}
	name := strings.TrimPrefix(fullMethod, "/")
	service, method, _ := strings.Cut(name, "/")
	return t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("rpc.system", "grpc"), attribute.String("rpc.service", service), attribute.String("rpc.method", method)))
}

// endRPC ends a call's span with its status code; the codes that mean a
// server fault mark the span as an error (the others are the client's).
func endRPC(span trace.Span, err error) {
	st, _ := status.FromError(err)
	span.SetAttributes(attribute.Int("rpc.grpc.status_code", int(st.Code())))
	switch st.Code() {
	case grpccodes.Unknown, grpccodes.DeadlineExceeded, grpccodes.Unimplemented, grpccodes.Internal, grpccodes.Unavailable, grpccodes.DataLoss:
		span.SetAttributes(attribute.String("error.type", st.Code().String()))
		span.SetStatus(codes.Error, st.Message())
	}
	span.End()
}

// metadataCarrier reads trace context from gRPC metadata.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
