package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/feastgo/feastgo/auth/oidc/oidctest"
	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	redisstore "github.com/feastgo/feastgo/onlinestore/redis"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
)

// BenchmarkFastHTTP measures POST /get-online-features through the
// fasthttp server's handler, as the binary serves it (router-free native
// route, body read, JSON decode, plan, key serialization, store read, JSON
// encode; no connection: the request is set up in a fasthttp.RequestCtx
// once and served again), for the three requests of internal/bench/requests:
//
//   - mem/*: an in-memory store, so the figures are our own CPU and
//     allocations per request;
//   - redis/*: our Redis store against a real Redis at $FEASTGO_TEST_REDIS
//     (host:port; skipped when unset), loaded through our own writer.
//
// Run: go test -run '^$' -bench FastHTTP -benchmem ./server
func BenchmarkFastHTTP(b *testing.B) { benchStores(b, benchFast) }

// BenchmarkFastHTTPAccessLog is BenchmarkFastHTTP with the access log on,
// as `serve` runs without --no-access-log: one text line a request,
// written to /dev/null (a write system call each, as to a pipe or file).
func BenchmarkFastHTTPAccessLog(b *testing.B) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { devNull.Close() })
	log := slog.New(slog.NewTextHandler(devNull, nil))
	benchStores(b, func(b *testing.B, snap *registry.Snapshot, st onlinestore.Store) {
		benchFastWith(b, snap, st, false, func(h *server.HTTP) { h.AccessLog, h.Log = true, log })
	})
}

// BenchmarkFastHTTPMetrics is BenchmarkFastHTTP with metrics off and on
// (the binary's -m: Feast's metrics, the HTTP metrics, the store wrapper
// and the per-view status counts), for the overhead of metrics on the
// read path.
//
// Run: go test -run '^$' -bench FastHTTPMetrics -benchmem ./server
func BenchmarkFastHTTPMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("metrics=%v", on), func(b *testing.B) {
			benchStores(b, func(b *testing.B, snap *registry.Snapshot, st onlinestore.Store) {
				benchFastWith(b, snap, st, on, func(*server.HTTP) {})
			})
		})
	}
}

// BenchmarkFastHTTPAuth is BenchmarkFastHTTP with auth off (no_auth) and
// on (an OIDC bearer token verified by the real verifier, its key set
// served from memory; after the first request the verified token is
// remembered, as it is for a client that reuses its token).
//
// Run: go test -run '^$' -bench FastHTTPAuth -benchmem ./server
func BenchmarkFastHTTPAuth(b *testing.B) {
	is, err := oidctest.New()
	if err != nil {
		b.Fatal(err)
	}
	v, err := is.Verifier("feast-client")
	if err != nil {
		b.Fatal(err)
	}
	token := is.Token("alice", "feast-client", []string{"reader"}, nil)
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("auth=%v", on), func(b *testing.B) {
			benchStores(b, func(b *testing.B, snap *registry.Snapshot, st onlinestore.Store) {
				if !on {
					benchFastWith(b, snap, st, false, func(*server.HTTP) {})
					return
				}
				benchFastRequest(b, snap, st, false, func(h *server.HTTP) { h.Auth = v }, "Bearer "+token)
			})
		})
	}
}

// benchStores runs a benchmark on the in-memory store and on Redis.
func benchStores(b *testing.B, run func(*testing.B, *registry.Snapshot, onlinestore.Store)) {
	b.Run("mem", func(b *testing.B) {
		run(b, bench.Snapshot("bench"), bench.NewMemStore())
	})
	b.Run("redis", func(b *testing.B) {
		snap, st := redisBench(b)
		run(b, snap, st)
	})
}

// redisBench loads the fixture into the Redis at $FEASTGO_TEST_REDIS under
// a project of its own, removed when the benchmark ends.
func redisBench(b *testing.B) (*registry.Snapshot, onlinestore.Store) {
	addr := os.Getenv("FEASTGO_TEST_REDIS")
	if addr == "" {
		b.Skip("FEASTGO_TEST_REDIS (host:port) not set")
	}
	project := fmt.Sprintf("feastgo_bench_%d_%d", os.Getpid(), time.Now().UnixNano())
	st, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, Project: project, SkipDedup: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for _, wb := range bench.WriteBatches() {
		if err := st.Write(ctx, wb); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { deleteRows(b, addr, project) })
	return bench.Snapshot(project), st
}

func benchFast(b *testing.B, snap *registry.Snapshot, st onlinestore.Store) {
	benchFastWith(b, snap, st, false, func(*server.HTTP) {})
}

// benchFastWith is benchFast with metrics on or off and the server's
// fields set by with.
func benchFastWith(b *testing.B, snap *registry.Snapshot, st onlinestore.Store, metrics bool, with func(*server.HTTP)) {
	benchFastRequest(b, snap, st, metrics, with, "")
}

// benchFastRequest is benchFastWith with an Authorization header on each
// request ("" for none).
func benchFastRequest(b *testing.B, snap *registry.Snapshot, st onlinestore.Store, metrics bool, with func(*server.HTTP), authz string) {
	h := &server.HTTP{}
	if metrics {
		h.Metrics = server.NewMetrics(nil)
		st = h.Metrics.InstrumentStore(st, "bench")
	}
	h.Online = &online.Service{Snapshot: func() *registry.Snapshot { return snap }, Store: st, KeyVersion: 3}
	h.Metrics.Instrument(h)
	with(h)
	handler := h.NewFastServer().Handler
	for _, name := range []string{"1x3", "1x50", "100x50"} {
		b.Run(name, func(b *testing.B) {
			body := bench.Body(name)
			var req fasthttp.Request
			req.Header.SetMethod(http.MethodPost)
			req.SetRequestURI("/get-online-features")
			req.Header.SetContentType("application/json")
			if authz != "" {
				req.Header.Set("Authorization", authz)
			}
			req.SetBody(body)
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, nil, nil)
			ctx.Response.KeepBodyBuffer = true // as the server's connections do
			handler(&ctx)
			if ctx.Response.StatusCode() != http.StatusOK || bytes.Contains(ctx.Response.Body(), []byte("NOT_FOUND")) {
				b.Fatalf("status %d, body %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx.Response.Reset()
				handler(&ctx)
				if ctx.Response.StatusCode() != http.StatusOK {
					b.Fatalf("status %d", ctx.Response.StatusCode())
				}
			}
		})
	}
}

func deleteRows(b *testing.B, addr, project string) {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	pipe := c.Pipeline()
	for id := int64(1); id <= bench.Entities; id++ {
		pipe.Del(ctx, string(bench.Key(id))+project)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Errorf("deleting benchmark rows: %v", err)
	}
}

// A large answer goes out with a Content-Length, as Feast's server sends
// it, not chunked.
func TestLargeAnswerHasContentLength(t *testing.T) {
	svc := &online.Service{Snapshot: func() *registry.Snapshot { return bench.Snapshot("bench") }, Store: bench.NewMemStore(), KeyVersion: 3}
	ts := httptest.NewServer((&server.HTTP{Online: svc}).Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/get-online-features", "application/json", bytes.NewReader(bench.Body("100x50")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || len(body) < 100_000 {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
		t.Fatalf("Content-Length %d, Transfer-Encoding %v for a %d-byte answer", resp.ContentLength, resp.TransferEncoding, len(body))
	}
}
