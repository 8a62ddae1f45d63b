// Package server adapts the online service to Feast's HTTP JSON API and
// gRPC ServingService: decoding, validation, error mapping and encoding,
// nothing else.
//
// Only cmd/ imports it, and it imports no back end: stores come in through
// the interfaces of onlinestore and offlinestore.
package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/internal/feastjson"
	"github.com/feastgo/feastgo/materialize"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/registry"
)

// DefaultReadTimeout is the longest a client may take to send a request
// when none is configured.
const DefaultReadTimeout = 60 * time.Second

// DefaultIdleTimeout closes idle keep-alive connections when no timeout
// is configured: feast serve's --keep-alive-timeout default.
const DefaultIdleTimeout = 30 * time.Second

// DefaultMaxBody is the request body limit when none is configured.
const DefaultMaxBody = 16 << 20

// DefaultMaxInFlightBody bounds the request bodies held at once when no
// bound is configured: 16 bodies of the largest size.
const DefaultMaxInFlightBody = 16 * DefaultMaxBody

// HTTP serves Feast's feature-server HTTP API.
type HTTP struct {
	Online   *online.Service
	Registry *registry.Registry
	// MaxBody bounds request bodies; larger ones get 413.
	MaxBody int64
	// MaxInFlightBody bounds the bytes of request bodies the fasthttp
	// server holds at once; a body past it gets 503 with Retry-After. It
	// is raised to MaxBody when lower, so that every body can be served.
	MaxInFlightBody int64
	// Health, when set, reports whether the online store answers (in
	// production a StoreHealth's Check); an error answers /health with 503
	// and an empty body, the answer Feast gives when its registry fails.
	Health func(r *http.Request) error
	// Checks, when set, serve GET /health/detail.
	Checks *HealthChecks
	Log    *slog.Logger
	// Ingest, when set, serves /push and /write-to-online-store.
	Ingest *ingest.Service
	// Materialize, when set, serves /materialize and /materialize-incremental.
	Materialize *materialize.Jobs
	// Historical, when set, serves /get-historical-features.
	Historical *historical.Retriever
	// Metrics, when set, instruments every request.
	Metrics *Metrics
	// Tracing, when set, gives every request a span (Tracing.Instrument).
	Tracing *Tracing
	// Auth, when set, requires a valid bearer token on every API route
	// (not health) and puts its user in the request's context for the
	// permission checks: 401 without one, as Feast's inject_user_details.
	Auth auth.Authenticator
	// RequireClientCert refuses API routes (401) on a connection without
	// a verified client certificate, for a TLS listener that verifies one
	// only if given, so that health probes need none.
	RequireClientCert bool
	// AccessLog logs one line per request at INFO (method, path,
	// status, duration, request id, client address), as feast serve's
	// uvicorn access log does.
	AccessLog bool

	// ReadTimeout bounds the time a client may take to send one request,
	// its line, headers and body (DefaultReadTimeout when zero): a slow
	// client past it gets 408 and its connection closed, so that it cannot
	// hold a connection's worker for long.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sent no request for
	// this long (feast serve's --keep-alive-timeout; DefaultIdleTimeout
	// when zero).
	IdleTimeout time.Duration

	// FailureLogInterval is how often failed requests (5xx) are
	// summarised in the log after the first of each error class
	// (DefaultFailureLogInterval when zero).
	FailureLogInterval time.Duration

	failures *failureLog

	// routes maps each route's path to itself, set by Handler: the copy
	// of a path used as a metrics label (a request's own path may be a
	// view of a buffer fasthttp reuses).
	routes map[string]string
}

// router returns the net/http router of every route but the hot one:
// NewFastServer serves POST /get-online-features natively before routing
// and every other request through this router. The route is in the router
// all the same, for what routing gives each route: 405 for another method
// and its metrics label.
func (h *HTTP) router() http.Handler {
	h.setDefaults()
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) { writeDetail(w, http.StatusNotFound, "Not Found") })
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	})
	r.Post(onlinePath, h.servedNatively)
	r.Get("/health", h.health)
	r.Get("/health/live", live)
	if h.Checks != nil {
		r.Get("/health/detail", h.healthDetail)
	}
	r.Post(onDemandPrefix+"{feature_view}", h.onDemand)
	if h.Ingest != nil {
		r.Post("/push", h.push)
		r.Post("/write-to-online-store", h.writeToOnlineStore)
	}
	if h.Materialize != nil {
		h.materializeRoutes(r)
	}
	if h.Historical != nil {
		r.Post(historicalPath, h.historicalFeatures)
	}
	routes := map[string]string{}
	_ = chi.Walk(r, func(_ string, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes[route] = route
		return nil
	})
	h.routes = routes
	if h.Metrics != nil {
		return h.Tracing.routed(h.Metrics.Wrap(h.recoverer(r), h.routeLabel))
	}
	return h.Tracing.routed(h.recoverer(r))
}

// routeLabel is the metrics label of a request path: its route's own
// copy of the path for a known route, "other" for any other, so that
// label values stay bounded and never alias a request's buffers.
func (h *HTTP) routeLabel(path string) string {
	if l, ok := h.routes[path]; ok {
		return l
	}
	return "other"
}

// recoverer answers a request whose handler panicked like net/http's
// server would not: 500 in Feast's error shape, with the connection
// closed (the handler may have left it in any state). An answer already
// begun cannot be replaced; the connection is cut instead.
func (h *HTTP) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &wroteRecorder{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler || rw.wrote {
				panic(http.ErrAbortHandler) // net/http's way to cut the connection
			}
			status, b := h.panicAnswer(r.URL.Path, p)
			hdr := w.Header()
			for k := range hdr {
				delete(hdr, k)
			}
			hdr.Set("Connection", "close")
			writeJSON(w, status, b)
		}()
		next.ServeHTTP(rw, r)
	})
}

// panicAnswer logs a handler's panic and returns the answer it gets.
func (h *HTTP) panicAnswer(path string, p any) (int, []byte) {
	h.Log.Error("panic serving request", "path", path, "panic", p, "stack", string(debug.Stack()))
	return appendError(nil, core.Errorf(core.KindInternal, "FeastError", "internal error"))
}

// wroteRecorder notes whether a handler began its answer.
type wroteRecorder struct {
	http.ResponseWriter
	wrote bool
}

func (w *wroteRecorder) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *wroteRecorder) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// setDefaults fills the fields left zero: the body limit and the log.
func (h *HTTP) setDefaults() {
	if h.MaxBody <= 0 {
		h.MaxBody = DefaultMaxBody
	}
	if h.MaxInFlightBody <= 0 {
		h.MaxInFlightBody = DefaultMaxInFlightBody
	}
	h.MaxInFlightBody = max(h.MaxInFlightBody, h.MaxBody)
	if h.ReadTimeout <= 0 {
		h.ReadTimeout = DefaultReadTimeout
	}
	if h.IdleTimeout <= 0 {
		h.IdleTimeout = DefaultIdleTimeout
	}
	if h.Log == nil {
		h.Log = slog.Default()
	}
	if h.failures == nil {
		h.failures = newFailureLog(h.Log, h.FailureLogInterval, nil)
	}
}

var bufPool = bytesPool{sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}}

// bytesPool is a pool of byte buffers that keeps none over
// maxPooledBuffer: a burst of large bodies leaves no large buffers behind.
type bytesPool struct{ sync.Pool }

// Put keeps b for reuse unless it is large.
func (p *bytesPool) Put(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		p.Pool.Put(b)
	}
}

// readBody reads at most MaxBody bytes into a pooled buffer.
func (h *HTTP) readBody(r *http.Request) (*[]byte, error) {
	if r.ContentLength > h.MaxBody {
		return nil, core.Errorf(core.KindTooLarge, "ValueError", "request body of %d bytes is over the limit of %d bytes", r.ContentLength, h.MaxBody)
	}
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	if n := r.ContentLength; n > int64(cap(buf)) {
		// Room for the whole body and the read that sees its end, so
		// that it is not grown by doubling.
		buf = make([]byte, 0, n+bytes.MinRead)
	}
	lr := io.LimitReader(r.Body, h.MaxBody+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = buf
			bufPool.Put(bp)
			return nil, core.Invalidf("reading request body: %v", err)
		}
	}
	*bp = buf
	if int64(len(buf)) > h.MaxBody {
		bufPool.Put(bp)
		return nil, core.Errorf(core.KindTooLarge, "ValueError", "request body is over the limit of %d bytes", h.MaxBody)
	}
	return bp, nil
}

// servedNatively is the router's handler of POST /get-online-features,
// which never reaches the router (NewFastServer answers it first): should
// it, the request is refused as an internal error rather than served by a
// second stack.
func (h *HTTP) servedNatively(w http.ResponseWriter, r *http.Request) {
	err := core.Errorf(core.KindInternal, "FeastError", "POST %s reached the router; it is served by the fasthttp server", onlinePath)
	h.logError(r, err)
	writeError(w, err)
}

// onlineFeatures answers one /get-online-features body: the status and
// the JSON answer or error body, appended to out.
//
// With metrics on, lab receives the request's Feast labels (nil when off).
func (h *HTTP) onlineFeatures(ctx context.Context, path string, reqID []byte, body []byte, contentType string, out []byte, lab *onlineLabels) (int, []byte) {
	if len(body) > 0 && !isJSONContentType(contentType) {
		// FastAPI parses the body as JSON only for a JSON content type;
		// otherwise the model sees the raw text and rejects it.
		return http.StatusUnprocessableEntity, feastjson.AppendValidationError(out, body, feastjson.NotJSONError(body))
	}
	if !utf8.Valid(body) {
		return http.StatusBadRequest, feastjson.AppendDetail(out, bodyParseError)
	}
	mem := feastjson.AcquireRequestMem()
	defer mem.Release() // after the answer, which may point into it
	req, err := feastjson.ParseOnlineRequest(body, mem)
	if err != nil {
		if core.KindOf(err) == core.KindInvalidArgument {
			return appendError(out, err) // an entity value no INT64 holds
		}
		return http.StatusUnprocessableEntity, feastjson.AppendValidationError(out, body, err)
	}
	if lab != nil {
		h.Metrics.labelOnline(h.Online.Snapshot, req, lab)
	}
	if h.Tracing != nil {
		h.Tracing.onlineRequest(ctx, req)
	}
	resp, err := h.Online.GetOnlineFeatures(ctx, req)
	if err != nil {
		h.logPathError(path, string(reqID), err)
		return appendError(out, err)
	}
	answer, err := feastjson.AppendOnlineResponse(out, resp)
	resp.Release() // the answer holds everything now
	if err != nil {
		err = core.Errorf(core.KindInternal, "FeastError", "encoding response: %v", err)
		h.logPathError(path, string(reqID), err)
		return appendError(answer[:0], err)
	}
	return http.StatusOK, answer
}

// live answers 200 whenever the process serves HTTP: a liveness probe must
// not restart a server because a store it reads is down (that is /health's
// and readiness's job).
func live(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

func (h *HTTP) health(w http.ResponseWriter, r *http.Request) {
	if h.Registry == nil || h.Registry.Current() == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if h.Health != nil {
		if err := h.Health(r); err != nil {
			h.Log.Debug("health check failed", "err", err) // StoreHealth logs each change once
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (h *HTTP) logError(r *http.Request, err error) {
	h.logPathError(r.URL.Path, r.Header.Get(RequestIDHeader), err)
}

func (h *HTTP) logPathError(path, reqID string, err error) {
	status, _ := StatusOf(err)
	if status >= 500 {
		// A store down fails every request: the log gets the first
		// failure of each class, then a summary an interval.
		h.failures.Failure(err, "request failed", "path", path, "status", status, "request_id", reqID)
	} else {
		h.Log.Debug("request rejected", "path", path, "status", status, "request_id", reqID, "err", err)
	}
}

// isJSONContentType is FastAPI's test: application/json or application/*+json.
func isJSONContentType(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// writeDetail answers like Starlette's default error pages.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(feastjson.AppendDetail(nil, detail))
}

// bodyParseError is FastAPI's 400 detail for a body it cannot read. It
// decodes a JSON body as UTF-8 before parsing it, so a body that is not
// UTF-8 fails there rather than as invalid JSON (and never becomes a
// string value: the protobuf of a string must be UTF-8, so a value
// stored from one could not be read back over gRPC).
const bodyParseError = "There was an error parsing the body"

// refuseNotUTF8 answers FastAPI's 400 for a body that is not UTF-8 and
// reports whether it did.
func refuseNotUTF8(w http.ResponseWriter, body []byte) bool {
	if utf8.Valid(body) {
		return false
	}
	writeDetail(w, http.StatusBadRequest, bodyParseError)
	return true
}
