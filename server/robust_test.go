package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
)

const oneRead = `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[1]}}`

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// goldenRegistry is a registry to answer /health with.
func goldenRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	reg, err := registry.Open(context.Background(), &registry.FileSource{Path: "testdata/golden/sqlite/repo/data/registry.db"},
		registry.Options{Project: "pipeline_monitoring"})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// A panic in a routed handler (not only the native route) answers 500 in
// Feast's error shape and closes the connection, through fasthttp and
// in process (the router's recoverer answers it inside fasthttp's
// adaptor); the server goes on serving. Before, fasthttp
// adaptor re-panicked it where nothing recovered it, ending the process.
func TestRoutedPanicIsAnError(t *testing.T) {
	h := &server.HTTP{Log: quietLog, Registry: goldenRegistry(t),
		Health: func(*http.Request) error { panic("health check exploded") }}
	check := func(t *testing.T, code int, hdr http.Header, body []byte) {
		t.Helper()
		if code != http.StatusInternalServerError || hdr.Get("Content-Type") != "application/json" ||
			!strings.Contains(string(body), `internal error`) || !strings.Contains(string(body), `FeastError`) {
			t.Fatalf("%d %v %s", code, hdr, body)
		}
	}
	t.Run("fasthttp", func(t *testing.T) {
		base := fastBench(t, h)
		for range 2 {
			resp, err := http.Get(base + "/health")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			check(t, resp.StatusCode, resp.Header, body)
			if !resp.Close {
				t.Error("the connection of a panicked request stays open")
			}
		}
		if code, body := fastPost(t, base+"/get-online-features", "application/json", oneRead); code != http.StatusOK {
			t.Fatalf("after the panics: %d %s", code, body)
		}
	})
	t.Run("in-process", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
		check(t, rec.Code, rec.Header(), rec.Body.Bytes())
		if rec.Header().Get("Connection") != "close" {
			t.Errorf("headers %v", rec.Header())
		}
	})
}

// Label values of the metrics are copies: requests of different path
// lengths on one keep-alive connection each count under their own path.
// Before, a label was a view of the connection's read buffer, and a later
// request overwrote it (/health was reported as /XXXXXX).
func TestFastMetricsLabelsOnKeepAlive(t *testing.T) {
	h := &server.HTTP{Log: quietLog, Registry: goldenRegistry(t), Metrics: server.NewMetrics(nil)}
	base := fastBench(t, h)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	send := func(method, path string) int {
		t.Helper()
		if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", method, path); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// The long path first, then shorter ones that overwrite its bytes.
	for _, r := range []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, "/get-online-features", 405},
		{http.MethodGet, "/health", 200},
		{http.MethodGet, "/XXXXXX", 404},
		{http.MethodGet, "/health", 200},
		{http.MethodGet, "/get-online-features", 405},
	} {
		if code := send(r.method, r.path); code != r.code {
			t.Fatalf("%s %s: %d, want %d", r.method, r.path, code, r.code)
		}
	}
	out := metricsText(t, h)
	for _, want := range []string{
		`feature_server_http_requests_total{code="405",path="/get-online-features"} 2`,
		`feature_server_http_requests_total{code="200",path="/health"} 2`,
		`feature_server_http_requests_total{code="404",path="other"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "feature_server_http_requests_total{") &&
			!strings.Contains(l, `path="/get-online-features"`) && !strings.Contains(l, `path="/health"`) && !strings.Contains(l, `path="other"`) {
			t.Errorf("corrupted label: %s", l)
		}
	}
}

func metricsText(t *testing.T, h *server.HTTP) string {
	t.Helper()
	resp, err := http.Get(serveMetrics(t, h))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// slowStore answers every read after a delay, or its context's error if
// the context ends first (as a real store's client does).
type slowStore struct {
	onlinestore.Store
	delay time.Duration
	// started, when set, is told of each read as it begins.
	started chan struct{}
}

func (s slowStore) Read(ctx context.Context, reqs []onlinestore.ReadRequest) error {
	if s.started != nil {
		select {
		case s.started <- struct{}{}:
		default:
		}
	}
	select {
	case <-time.After(s.delay):
		return s.Store.Read(ctx, reqs)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drain lets every request already sent finish with its real answer:
// those in flight when it starts, and one that arrives on an open
// keep-alive connection just after. Before, Shutdown cancelled the
// context of every request, which answered 499.
func TestFastDrainAnswersInFlight(t *testing.T) {
	const delay = 600 * time.Millisecond // longer than the drain's grace
	snap := bench.Snapshot("bench")
	// /health is slow too: a routed request in flight.
	h := &server.HTTP{Log: quietLog, Registry: goldenRegistry(t), Health: func(r *http.Request) error {
		select {
		case <-time.After(delay):
			return nil
		case <-r.Context().Done():
			return r.Context().Err()
		}
	}}
	h.Online = &online.Service{Snapshot: func() *registry.Snapshot { return snap },
		Store: slowStore{Store: bench.NewMemStore(), delay: delay}, KeyVersion: 3}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := h.NewFastServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/get-online-features"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	// idle keeps one keep-alive connection open, for a request sent once
	// the drain has begun.
	idle := &http.Client{Transport: &http.Transport{}}
	defer idle.CloseIdleConnections()
	post := func(client *http.Client) (int, string, error) {
		resp, err := client.Post(url, "application/json", strings.NewReader(oneRead))
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	if code, body, err := post(idle); err != nil || code != http.StatusOK {
		t.Fatalf("warm-up: %d %s %v", code, body, err)
	}

	const n = 32
	var wg sync.WaitGroup
	errs := make(chan string, n+1)
	started := make(chan struct{}, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			if i%2 == 0 {
				resp, err := client.Get(strings.Replace(url, "/get-online-features", "/health", 1))
				if err != nil || resp.StatusCode != http.StatusOK {
					errs <- fmt.Sprintf("routed in flight: %v %v", resp, err)
				}
				if err == nil {
					resp.Body.Close()
				}
				return
			}
			code, body, err := post(client)
			if err != nil || code != http.StatusOK || !strings.Contains(body, `"PRESENT"`) {
				errs <- fmt.Sprintf("in flight: %d %s %v", code, body, err)
			}
		}()
	}
	for range n {
		<-started
	}
	time.Sleep(100 * time.Millisecond) // every request is in the store now
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		drained <- srv.Drain(ctx)
	}()
	time.Sleep(20 * time.Millisecond)
	wg.Add(1)
	go func() {
		defer wg.Done()
		code, body, err := post(idle)
		if err != nil || code != http.StatusOK {
			errs <- fmt.Sprintf("sent during the drain: %d %s %v", code, body, err)
		}
	}()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if err := <-drained; err != nil {
		t.Errorf("Drain: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the server still accepts connections after Drain")
	}
}

// Drain gives up on a request that outlives its context: the connection
// is closed and Drain says so.
func TestFastDrainTimeout(t *testing.T) {
	snap := bench.Snapshot("bench")
	started := make(chan struct{}, 1)
	h := &server.HTTP{Log: quietLog}
	h.Online = &online.Service{Snapshot: func() *registry.Snapshot { return snap },
		Store: slowStore{Store: bench.NewMemStore(), delay: 5 * time.Second, started: started}, KeyVersion: 3}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := h.NewFastServer()
	go func() { _ = srv.Serve(ln) }()
	got := make(chan error, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/get-online-features", "application/json", strings.NewReader(oneRead))
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		got <- err
	}()
	<-started // the request is in flight
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := srv.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Drain: %v, want the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Drain took %v past its deadline", d)
	}
	select {
	case err := <-got:
		if err == nil || strings.Contains(err.Error(), "answered") {
			t.Errorf("the request cut by the timeout: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Error("the connection was left open after the drain timeout")
	}
}

// Request bodies in flight are bounded in total: past MaxInFlightBody a
// request gets 503 with Retry-After in Feast's error shape, and once the
// bytes are given back a body of the same size is served again.
func TestFastBodyBudget(t *testing.T) {
	const mb = 1 << 20
	h := &server.HTTP{Log: quietLog, MaxBody: 3 * mb, MaxInFlightBody: 4 * mb}
	base := fastBench(t, h)
	big := func(size int) string {
		return `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[1]}` + strings.Repeat(" ", size-len(oneRead)) + `}`
	}
	// A client that sends half of a 3 MB body holds 3 MB of the budget.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	held := big(3 * mb)
	if _, err := fmt.Fprintf(conn, "POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		len(held), held[:len(held)/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	for _, path := range []string{"/get-online-features", "/push"} {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(big(2*mb)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), "request bodies") {
			t.Fatalf("%s past the budget: %d %v %s", path, resp.StatusCode, resp.Header, body)
		}
	}
	// A small body still fits.
	if code, body := fastPost(t, base+"/get-online-features", "application/json", oneRead); code != http.StatusOK {
		t.Fatalf("small body beside the held one: %d %s", code, body)
	}
	// The held request completes and gives its bytes back.
	if _, err := io.WriteString(conn, held[len(held)/2:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("held request: %d", resp.StatusCode)
	}
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big(3 * mb))
		if chunked {
			body = struct{ io.Reader }{body} // no length: sent chunked
		}
		resp, err := http.Post(base+"/get-online-features", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"PRESENT"`) {
			t.Fatalf("3 MB body (chunked %v) after the release: %d %s", chunked, resp.StatusCode, out)
		}
	}
	// A chunked body over MaxBody is refused once it passes the limit.
	resp, err = http.Post(base+"/get-online-features", "application/json", struct{ io.Reader }{bytes.NewReader(make([]byte, 4*mb))})
	if err == nil {
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked body over the limit: %d %s", resp.StatusCode, out)
		}
	}
}
