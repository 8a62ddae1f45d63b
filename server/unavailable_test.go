package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testlog"
	"github.com/feastgo/feastgo/online"
	redisstore "github.com/feastgo/feastgo/onlinestore/redis"
	"github.com/feastgo/feastgo/onlinestore/storetest"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
)

// A Redis that does not answer is a 503 naming the store, within the
// store's timeout: never a hang, never a 500.
func TestRedisUnreachableIs503(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	ctx := context.Background()
	src, err := registry.NewSource(ctx, filepath.Join("testdata", "golden", "sqlite", "repo", "data", "registry.db"), ".")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, src, registry.Options{Project: "pipeline_monitoring"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, Project: "pipeline_monitoring", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := (&server.HTTP{Online: &online.Service{Snapshot: reg.Current, Store: store, KeyVersion: 3}, Registry: reg}).Handler()
	req := httptest.NewRequest(http.MethodPost, "/get-online-features",
		strings.NewReader(`{"features":["pipeline_stats:error_count"],"entities":{"pipeline_id":[1]}}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v; an unreachable store must fail fast", took)
	}
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "redis") {
		t.Fatalf("got %d %s, want 503 naming redis", rec.Code, rec.Body.String())
	}
}

// A Redis that is down fails every read, but the log does not get a line
// per request: the first at ERROR, the others at DEBUG only, counted for
// the summary (written at the drain, within the interval).
func TestStoreOutageDoesNotFloodTheLog(t *testing.T) {
	ctx := context.Background()
	src, err := registry.NewSource(ctx, filepath.Join("testdata", "golden", "sqlite", "repo", "data", "registry.db"), ".")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, src, registry.Options{Project: "pipeline_monitoring"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := redisstore.New(redisstore.Options{Addrs: []string{storetest.DeadAddr(t)}, Project: "pipeline_monitoring", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var logs testlog.Buffer
	h := &server.HTTP{Online: &online.Service{Snapshot: reg.Current, Store: store, KeyVersion: 3}, Registry: reg,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := h.NewFastServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	const n = 1000
	for i := range n {
		resp, err := http.Post(base+"/get-online-features", "application/json",
			strings.NewReader(`{"features":["pipeline_stats:error_count"],"entities":{"pipeline_id":[1]}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("request %d: %d, want 503", i, resp.StatusCode)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	if err := srv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	<-served
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) > 3 || !strings.Contains(lines[0], `level=ERROR msg="request failed"`) ||
		!strings.Contains(lines[len(lines)-1], "request failures since the last report") {
		t.Fatalf("%d failures logged %d lines:\n%s", n, len(lines), logs.String())
	}
	total := 1
	for _, l := range lines[1:] {
		var c int
		if _, err := fmt.Sscanf(l[strings.Index(l, " count=")+1:], "count=%d", &c); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		total += c
	}
	if total != n {
		t.Errorf("the lines count %d failures, want %d:\n%s", total, n, logs.String())
	}
}
