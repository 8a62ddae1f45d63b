package server_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/online"
	redisstore "github.com/feastgo/feastgo/onlinestore/redis"
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
