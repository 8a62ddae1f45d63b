package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"

	"github.com/feastgo/feastgo/client"
	"github.com/feastgo/feastgo/internal/testrepo"
)

// The tests run the real server binary, built once per test run, on a copy
// of the golden SQLite repo.
var (
	buildOnce sync.Once
	binPath   string
	errBuild  error
)

func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "client-test-bin")
		if err != nil {
			errBuild = err
			return
		}
		binPath = filepath.Join(dir, "feature-server")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/feature-server").CombinedOutput()
		if err != nil {
			errBuild = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if errBuild != nil {
		t.Fatal(errBuild)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// server is one running feature server.
type server struct {
	http, grpc string // "http://127.0.0.1:p", "127.0.0.1:q"
	repo       string
}

// copyRepo copies the golden SQLite repo (registry and online data) into
// a temporary directory.
func copyRepo(t *testing.T) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	if err := testrepo.CopyTree(filepath.Join("..", "server", "testdata", "golden", "sqlite", "repo"), repo); err != nil {
		t.Fatal(err)
	}
	return repo
}

// startServer runs the binary serving repo on hp (HTTP) and gp (gRPC)
// until the test ends, and waits for it only when wait is set.
func startServer(t *testing.T, repo string, hp, gp int, wait bool) *server {
	t.Helper()
	cmd := exec.Command(serverBinary(t), "-c", repo, "serve", "-h", "127.0.0.1", "-p", fmt.Sprint(hp), "--grpc-port", fmt.Sprint(gp))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("server did not stop within 15s of SIGINT; log:\n%s", log.String())
		}
	})
	s := &server{http: fmt.Sprintf("http://127.0.0.1:%d", hp), grpc: fmt.Sprintf("127.0.0.1:%d", gp), repo: repo}
	if wait {
		c, err := client.NewHTTP(s.http, nil, client.Options{MaxRetries: 100, Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Health(ctx); err != nil {
			// Health is not retried: poll.
			for ctx.Err() == nil && c.Health(ctx) != nil {
				time.Sleep(20 * time.Millisecond)
			}
			if ctx.Err() != nil {
				t.Fatalf("server never became healthy; log:\n%s", log.String())
			}
		}
	}
	return s
}

// clients returns an HTTP and a gRPC client of s.
func clients(t *testing.T, s *server, opts client.Options) map[string]*client.Client {
	t.Helper()
	h, err := client.NewHTTP(s.http, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	g, err := client.NewGRPC(s.grpc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); g.Close() })
	return map[string]*client.Client{"http": h, "grpc": g}
}

func TestReadsAgreeAcrossTransports(t *testing.T) {
	s := startServer(t, copyRepo(t), testenv.FreePort(t), testenv.FreePort(t), true)
	ctx := context.Background()
	req := &client.OnlineRequest{
		Features: []string{"pipeline_stats:error_count", "pipeline_stats:last_status", "pipeline_stats:success_rate",
			"pipeline_stats:is_active", "pipeline_history:recent_statuses", "pipeline_history:recent_error_counts", "pipeline_history:cpu_samples"},
		Entities: map[string][]any{"pipeline_id": {1, int64(2), 999}},
	}
	answers := map[string]*client.OnlineResponse{}
	for name, c := range clients(t, s, client.Options{}) {
		r, err := c.GetOnlineFeatures(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		answers[name] = r
	}
	h, g := answers["http"], answers["grpc"]
	if !reflect.DeepEqual(h, g) {
		t.Fatalf("HTTP and gRPC answers differ:\nhttp %+v\ngrpc %+v", h, g)
	}
	if h.Rows() != 3 || strings.Join(h.FeatureNames, ",") != "pipeline_id,error_count,last_status,success_rate,is_active,recent_statuses,recent_error_counts,cpu_samples" {
		t.Fatalf("shape: %d rows, names %v", h.Rows(), h.FeatureNames)
	}
	ec, _ := h.Get(0, "error_count")
	if ec.Value != int64(7) || ec.Status != client.StatusPresent || ec.EventTime.IsZero() || ec.EventTime.Unix() == 0 {
		t.Fatalf("error_count of pipeline 1: %+v", ec)
	}
	if miss, _ := h.Get(2, "error_count"); miss.Value != nil || miss.Status != client.StatusNotFound {
		t.Fatalf("error_count of pipeline 999: %+v", miss)
	}
	if sr, _ := h.Get(0, "success_rate"); sr.Value != float64(float32(sr.Value.(float64))) {
		t.Fatalf("a FLOAT feature is not a widened float32: %v", sr.Value)
	}
	if l, _ := h.Get(0, "recent_statuses"); reflect.TypeOf(l.Value) != reflect.TypeOf([]any{}) {
		t.Fatalf("a list feature is %T", l.Value)
	}
	if row := h.Row(0); row["pipeline_id"].Value != int64(1) || len(row) != len(h.FeatureNames) {
		t.Fatalf("Row(0) = %v", row)
	}

	// A feature service, and full feature names.
	for name, c := range clients(t, s, client.Options{}) {
		r, err := c.GetOnlineFeatures(ctx, &client.OnlineRequest{Features: req.Features[:1], Entities: req.Entities, FullFeatureNames: true})
		if err != nil || r.FeatureNames[1] != "pipeline_stats__error_count" {
			t.Fatalf("%s full names: %v %v", name, r, err)
		}
	}
}

func TestErrorsAreTyped(t *testing.T) {
	s := startServer(t, copyRepo(t), testenv.FreePort(t), testenv.FreePort(t), true)
	ctx := context.Background()
	for name, c := range clients(t, s, client.Options{}) {
		_, err := c.GetOnlineFeatures(ctx, &client.OnlineRequest{Features: []string{"nope:x"}, Entities: map[string][]any{"pipeline_id": {1}}})
		var e *client.Error
		if !errors.As(err, &e) || e.Kind != client.KindNotFound || !strings.Contains(e.Message, "nope") {
			t.Errorf("%s unknown view: %#v", name, err)
		}
		err = c.WriteToOnlineStore(ctx, &client.WriteRequest{FeatureView: "nope", Rows: map[string][]any{"a": {1}}})
		if !errors.As(err, &e) || e.Kind != client.KindNotFound {
			t.Errorf("%s write to an unknown view: %#v", name, err)
		}
		// Refused before sending: no call reaches the server.
		_, err = c.GetOnlineFeatures(ctx, &client.OnlineRequest{Features: []string{"pipeline_stats:error_count"}, Entities: map[string][]any{"pipeline_id": {1, 2}, "team_id": {"a"}}})
		if !errors.As(err, &e) || e.Kind != client.KindInvalidArgument || !strings.Contains(e.Message, "OnlineRequest.Entities") {
			t.Errorf("%s ragged entities: %#v", name, err)
		}
		_, err = c.GetOnlineFeatures(ctx, &client.OnlineRequest{Entities: map[string][]any{"pipeline_id": {1}}})
		if !errors.As(err, &e) || e.Kind != client.KindInvalidArgument {
			t.Errorf("%s no features: %#v", name, err)
		}
	}
	if _, err := client.NewHTTP("localhost:1", nil, client.Options{}); err == nil {
		t.Error("NewHTTP accepted a URL without a scheme")
	}
}

func TestWritesReadBack(t *testing.T) {
	s := startServer(t, copyRepo(t), testenv.FreePort(t), testenv.FreePort(t), true)
	ctx := context.Background()
	ts := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	for i, name := range []string{"http", "grpc"} {
		c := clients(t, s, client.Options{})[name]
		id := int64(8000 + i)
		rows := statsRows(2)
		rows["pipeline_id"], rows["event_timestamp"] = []any{id, id + 10}, []any{ts, ts}
		rows["error_count"], rows["last_status"] = []any{int64(41), int64(42)}, []any{"ok", "failed"}
		err := c.WriteToOnlineStore(ctx, &client.WriteRequest{FeatureView: "pipeline_stats", Rows: rows})
		if err != nil {
			t.Fatalf("%s write: %v", name, err)
		}
		rows = statsRows(1)
		rows["pipeline_id"], rows["event_timestamp"] = []any{id + 20}, []any{ts}
		rows["error_count"], rows["last_status"] = []any{int64(43)}, []any{"pushed"}
		err = c.Push(ctx, &client.PushRequest{PushSource: "pipeline_stats_push", Rows: rows})
		if err != nil {
			t.Fatalf("%s push: %v", name, err)
		}
		r, err := c.GetOnlineFeatures(ctx, &client.OnlineRequest{
			Features: []string{"pipeline_stats:error_count", "pipeline_stats:last_status"},
			Entities: map[string][]any{"pipeline_id": {id, id + 10, id + 20}},
		})
		if err != nil {
			t.Fatalf("%s read back: %v", name, err)
		}
		for row, want := range []struct {
			n int64
			s string
		}{{41, "ok"}, {42, "failed"}, {43, "pushed"}} {
			ec, _ := r.Get(row, "error_count")
			ls, _ := r.Get(row, "last_status")
			if ec.Value != want.n || ls.Value != want.s || !ec.EventTime.Equal(ts) {
				t.Errorf("%s row %d: %+v %+v, want %v %q at %v", name, row, ec, ls, want.n, want.s, ts)
			}
		}
	}
}

// statsRows returns n rows of pipeline_stats's other features.
func statsRows(n int) map[string][]any {
	rows := map[string][]any{}
	for name, v := range map[string]any{"avg_execution_time": 1.5, "success_rate": float32(0.5), "failure_probability": float32(0.25),
		"avg_memory_usage": 2.5, "cpu_utilization": float32(0.75), "is_active": true} {
		for range n {
			rows[name] = append(rows[name], v)
		}
	}
	return rows
}

// A client made before its server is up is served once it starts: a
// refused connection is Unavailable and retried with backoff.
func TestRetriesUntilTheServerIsUp(t *testing.T) {
	repo := copyRepo(t)
	serverBinary(t) // built before the clock matters
	hp, gp := testenv.FreePort(t), testenv.FreePort(t)
	s := &server{http: fmt.Sprintf("http://127.0.0.1:%d", hp), grpc: fmt.Sprintf("127.0.0.1:%d", gp)}
	cs := clients(t, s, client.Options{MaxRetries: 200, Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	req := &client.OnlineRequest{Features: []string{"pipeline_stats:error_count"}, Entities: map[string][]any{"pipeline_id": {1}}}

	// Without retries, a down server is an Unavailable error at once.
	for name := range cs {
		c := map[string]func() (*client.Client, error){
			"http": func() (*client.Client, error) { return client.NewHTTP(s.http, nil, client.Options{MaxRetries: -1}) },
			"grpc": func() (*client.Client, error) { return client.NewGRPC(s.grpc, client.Options{MaxRetries: -1}) },
		}
		one, err := c[name]()
		if err != nil {
			t.Fatal(err)
		}
		_, err = one.GetOnlineFeatures(context.Background(), req)
		one.Close()
		var e *client.Error
		if !errors.As(err, &e) || e.Kind != client.KindUnavailable {
			t.Fatalf("%s, server down, no retries: %#v", name, err)
		}
	}

	errs := make(chan error, len(cs))
	for name, c := range cs {
		go func() {
			r, err := c.GetOnlineFeatures(context.Background(), req)
			if err == nil {
				if f, _ := r.Get(0, "error_count"); f.Value != int64(7) {
					err = fmt.Errorf("answer %+v", f)
				}
			}
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond)
	startServer(t, repo, hp, gp, false)
	for range cs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// Cancelling the context stops the retries while they wait.
func TestCancelStopsRetrying(t *testing.T) {
	port := testenv.FreePort(t) // nothing listens there
	c, err := client.NewHTTP(fmt.Sprintf("http://127.0.0.1:%d", port), nil, client.Options{MaxRetries: 1000, Backoff: time.Second, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = c.GetOnlineFeatures(ctx, &client.OnlineRequest{Features: []string{"v:f"}, Entities: map[string][]any{"k": {1}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// Each attempt has its own deadline: a server that accepts and never
// answers costs Timeout, then a KindDeadline error (not retried: the
// request may have been applied).
func TestAttemptTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	c, err := client.NewHTTP("http://"+l.Addr().String(), nil, client.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.GetOnlineFeatures(context.Background(), &client.OnlineRequest{Features: []string{"v:f"}, Entities: map[string][]any{"k": {1}}})
	var e *client.Error
	if !errors.As(err, &e) || e.Kind != client.KindDeadline {
		t.Fatalf("got %#v, want KindDeadline", err)
	}
}
