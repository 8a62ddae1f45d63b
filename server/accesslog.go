package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"
)

// logAccess logs ctx's answered request at INFO; start is when it began
// (zero when unknown: no duration). The line is built only when INFO is
// enabled, and given to the handler directly: Logger.LogAttrs would also
// walk the stack for the caller's source line, which no handler here
// prints, at a tenth of the line's cost.
func (h *HTTP) logAccess(ctx *fasthttp.RequestCtx, id []byte, start time.Time) {
	bg := context.Background()
	handler := h.Log.Handler()
	if !handler.Enabled(bg, slog.LevelInfo) {
		return
	}
	now := time.Now()
	var ms float64
	if !start.IsZero() {
		ms = float64(now.Sub(start).Microseconds()) / 1000
	}
	r := slog.NewRecord(now, slog.LevelInfo, "request", 0)
	r.AddAttrs(
		slog.String("method", methodString(ctx.Method())),
		slog.String("path", string(ctx.URI().PathOriginal())),
		slog.Int("status", ctx.Response.StatusCode()),
		slog.Float64("duration_ms", ms),
		slog.String("request_id", string(id)),
		slog.String("remote_addr", ctx.RemoteAddr().String()))
	if id := h.traceID(ctx); id != "" {
		r.AddAttrs(slog.String("trace_id", id))
	}
	_ = handler.Handle(bg, r)
}

// methodString is the method as a string, without allocating for the
// common ones.
func methodString(m []byte) string {
	switch string(m) {
	case fasthttp.MethodGet:
		return fasthttp.MethodGet
	case fasthttp.MethodPost:
		return fasthttp.MethodPost
	}
	return string(m)
}
