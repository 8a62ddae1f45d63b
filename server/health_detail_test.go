package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/offlinestore/postgres"
	"github.com/feastgo/feastgo/onlinestore/storetest"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
)

// detail GETs /health/detail.
func detail(t *testing.T, base string) (int, server.HealthReport) {
	t.Helper()
	resp, err := http.Get(base + "/health/detail")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep server.HealthReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("decoding /health/detail: %v", err)
	}
	return resp.StatusCode, rep
}

// copiedRegistry is a registry over a copy of the golden registry file,
// which the test may then spoil.
func copiedRegistry(t *testing.T) (*registry.Registry, string) {
	t.Helper()
	b, err := os.ReadFile("testdata/golden/sqlite/repo/data/registry.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "registry.db")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(context.Background(), &registry.FileSource{Path: path}, registry.Options{Project: "pipeline_monitoring"})
	if err != nil {
		t.Fatal(err)
	}
	return reg, path
}

// /health/detail pings each part: all healthy is 200; the online store
// down is 503 (as /health); a failing registry refresh or an unreachable
// offline database is degraded but still 200, since reads are answered.
func TestHealthDetail(t *testing.T) {
	online := &switchPinger{}
	offline := &switchPinger{}
	reg, path := copiedRegistry(t)
	checks := &server.HealthChecks{
		Online:   &server.StoreHealth{Pinger: online, TTL: time.Nanosecond},
		Offline:  &server.StoreHealth{Pinger: offline, TTL: time.Nanosecond},
		Registry: reg,
	}
	h := &server.HTTP{Log: quietLog, Registry: reg, Checks: checks,
		Health: func(r *http.Request) error { return checks.Online.Check(r.Context()) }}
	base := fastBench(t, h)

	code, rep := detail(t, base)
	want := map[string]string{"online_store": "healthy", "offline_store": "healthy", "feast_registry": "healthy"}
	if code != http.StatusOK || rep.Status != "healthy" || len(rep.Checks) != 3 {
		t.Fatalf("all up: %d %+v", code, rep)
	}
	for k, v := range want {
		if rep.Checks[k] != v {
			t.Errorf("all up: %s = %q", k, rep.Checks[k])
		}
	}

	offline.set(core.Unavailable(errors.New("connection refused"), "offline store postgres is unreachable"))
	code, rep = detail(t, base)
	if code != http.StatusOK || rep.Status != "degraded" || !strings.HasPrefix(rep.Checks["offline_store"], "unhealthy: ") ||
		!strings.Contains(rep.Checks["offline_store"], "connection refused") || rep.Checks["online_store"] != "healthy" {
		t.Fatalf("offline down: %d %+v", code, rep)
	}
	offline.set(nil)

	if err := os.WriteFile(path, []byte("not a registry"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := reg.Refresh(context.Background()); err == nil {
		t.Fatal("refreshing from garbage succeeded")
	}
	code, rep = detail(t, base)
	if code != http.StatusOK || rep.Status != "degraded" || !strings.Contains(rep.Checks["feast_registry"], "refresh failing") {
		t.Fatalf("registry garbage: %d %+v", code, rep)
	}

	online.set(errors.New("redis: connection refused"))
	code, rep = detail(t, base)
	if code != http.StatusServiceUnavailable || rep.Status != "degraded" || !strings.Contains(rep.Checks["online_store"], "connection refused") {
		t.Fatalf("online down: %d %+v", code, rep)
	}
	if resp, err := http.Get(base + "/health"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/health with the online store down: %v %v", resp, err)
	}
	// Liveness stays 200: restarting the server would not bring Redis back.
	if resp, err := http.Get(base + "/health/live"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/health/live with the online store down: %v %v", resp, err)
	}
}

// gRPC health answers NOT_SERVING while the online store is down.
func TestGRPCHealthFollowsTheOnlineStore(t *testing.T) {
	online := &switchPinger{}
	reg := goldenRegistry(t)
	checks := &server.HealthChecks{Online: &server.StoreHealth{Pinger: online, TTL: time.Nanosecond}, Registry: reg}
	s := grpc.NewServer()
	(&server.GRPC{Checks: checks}).Register(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	hc := healthpb.NewHealthClient(conn)
	for _, tc := range []struct {
		err  error
		want healthpb.HealthCheckResponse_ServingStatus
	}{
		{nil, healthpb.HealthCheckResponse_SERVING},
		{errors.New("down"), healthpb.HealthCheckResponse_NOT_SERVING},
		{nil, healthpb.HealthCheckResponse_SERVING},
	} {
		online.set(tc.err)
		for _, svc := range []string{"", "feast.serving.ServingService"} {
			resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != tc.want {
				t.Errorf("store err %v, service %q: %v %v, want %v", tc.err, svc, resp.GetStatus(), err, tc.want)
			}
		}
	}
}

// The PostgreSQL offline engine's ping reaches the database: a dead
// address is unavailable, no database configured has nothing to ping.
func TestOfflinePostgresPing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := postgres.NewEngine("").Ping(ctx); err != nil {
		t.Fatalf("no offline database: %v", err)
	}
	live := postgres.NewEngine(testenv.Service(t, "FEASTGO_TEST_POSTGRES"))
	defer live.Close()
	if err := live.Ping(ctx); err != nil {
		t.Fatalf("live database: %v", err)
	}
	dead := postgres.NewEngine("postgres://feast:feast@" + storetest.DeadAddr(t) + "/feast?sslmode=disable&connect_timeout=2")
	if err := dead.Ping(ctx); err == nil || core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("dead address: %v", err)
	}
}
