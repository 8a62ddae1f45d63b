package server

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// grpcRequestIDKey is the metadata key of a call's request id (gRPC
// metadata keys are lower case): taken from the call when valid, else
// generated, and sent back in the response headers (and trailers, when
// the call fails), as X-Request-ID is on HTTP.
const grpcRequestIDKey = "x-request-id"

// AccessGRPCOptions give every gRPC call but health a request id and,
// when accessLog is set, one access line at INFO (method, code, duration,
// request id, peer, trace id), as the HTTP server logs each request. Put
// them after the tracing options, so the line carries the call's trace.
func AccessGRPCOptions(log *slog.Logger, accessLog bool) []grpc.ServerOption {
	a := &grpcAccess{log: log, on: accessLog}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream)}
}

type grpcAccess struct {
	log *slog.Logger
	on  bool
}

// callID is the call's own request id when valid, else a new one.
func callID(ctx context.Context) string {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(grpcRequestIDKey); len(v) > 0 && validRequestID([]byte(v[0])) {
			return v[0]
		}
	}
	var buf [requestIDLen]byte
	return string(newRequestID(&buf))
}

func (a *grpcAccess) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, healthService) {
		return handler(ctx, req)
	}
	start := time.Now()
	id := callID(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs(grpcRequestIDKey, id))
	resp, err := handler(ctx, req)
	if err != nil {
		// A failed call answers trailers only: the id goes there too.
		_ = grpc.SetTrailer(ctx, metadata.Pairs(grpcRequestIDKey, id))
	}
	a.logCall(ctx, info.FullMethod, id, start, err)
	return resp, err
}

func (a *grpcAccess) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if strings.HasPrefix(info.FullMethod, healthService) {
		return handler(srv, ss)
	}
	start := time.Now()
	id := callID(ss.Context())
	_ = ss.SetHeader(metadata.Pairs(grpcRequestIDKey, id))
	err := handler(srv, ss)
	if err != nil {
		ss.SetTrailer(metadata.Pairs(grpcRequestIDKey, id))
	}
	a.logCall(ss.Context(), info.FullMethod, id, start, err)
	return err
}

func (a *grpcAccess) logCall(ctx context.Context, method, id string, start time.Time, err error) {
	if !a.on || a.log == nil {
		return
	}
	bg := context.Background()
	h := a.log.Handler()
	if !h.Enabled(bg, slog.LevelInfo) {
		return
	}
	now := time.Now()
	r := slog.NewRecord(now, slog.LevelInfo, "rpc", 0)
	r.AddAttrs(
		slog.String("method", strings.TrimPrefix(method, "/")),
		slog.String("code", status.Code(err).String()),
		slog.Float64("duration_ms", float64(now.Sub(start).Microseconds())/1000),
		slog.String("request_id", id))
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		r.AddAttrs(slog.String("remote_addr", p.Addr.String()))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
	}
	_ = h.Handle(bg, r)
}
