package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
)

func fastBench(t *testing.T, h *server.HTTP) string {
	t.Helper()
	snap := bench.Snapshot("bench")
	h.Online = &online.Service{Snapshot: func() *registry.Snapshot { return snap }, Store: bench.NewMemStore(), KeyVersion: 3}
	return serveFast(t, h)
}

// roundTrip sends req to a live server: the status, body and Content-Type
// of the answer.
func roundTrip(t *testing.T, req *http.Request) (int, []byte, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out, resp.Header.Get("Content-Type")
}

func newRequest(t *testing.T, method, url, contentType, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return req
}

func fastPost(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	code, out, ct := roundTrip(t, newRequest(t, http.MethodPost, url, contentType, body))
	if ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return code, string(out)
}

// A body over MaxBody is refused by fasthttp before any handler runs: the
// answer is still 413 in Feast's error shape, on every route.
func TestFastBodyLimit(t *testing.T) {
	base := fastBench(t, &server.HTTP{MaxBody: 1000})
	big := `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[` + strings.Repeat("1,", 600) + `1]}}`
	for _, path := range []string{"/get-online-features", "/push"} {
		code, body := fastPost(t, base+path, "application/json", big)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "over the limit of 1000 bytes") {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	// Under the limit the same route answers.
	code, body := fastPost(t, base+"/get-online-features", "application/json", `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[1]}}`)
	if code != http.StatusOK {
		t.Errorf("small body: %d %s", code, body)
	}
}

// Routes other than the native one reach the router with their raw path
// and method, as net/http gave them.
func TestFastOtherRoutes(t *testing.T) {
	base := fastBench(t, &server.HTTP{})
	cases := []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, "/get-online-features", http.StatusMethodNotAllowed},
		{http.MethodPost, "/get-online-features/", http.StatusNotFound},
		{http.MethodPost, "//get-online-features", http.StatusNotFound},
		{http.MethodPost, "/get-online-%66eatures", http.StatusNotFound}, // chi routes on the raw path
		{http.MethodPost, "/get-online-features?x=1", http.StatusOK},
		{http.MethodGet, "/nowhere", http.StatusNotFound},
	}
	for _, tc := range cases {
		req := newRequest(t, tc.method, base+tc.path, "application/json", `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[1]}}`)
		if code, out, _ := roundTrip(t, req); code != tc.code {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, code, out, tc.code)
		}
	}
}

// The native route counts in the metrics like the routed ones.
func TestFastMetrics(t *testing.T) {
	h := &server.HTTP{Metrics: server.NewMetrics(nil)}
	base := fastBench(t, h)
	fastPost(t, base+"/get-online-features", "application/json", `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[1]}}`)
	fastPost(t, base+"/get-online-features", "application/json", `{"features":["nope:x"],"entities":{"user_id":[1]}}`)
	fastPost(t, base+"/get-online-features", "text/plain", `x`)
	// An answer over 1 MB, which is not swapped into the connection's
	// body buffer, counts too.
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	var refs []string
	for v := 1; v <= bench.Views; v++ {
		for _, f := range bench.FeatureNames(v) {
			refs = append(refs, `"`+bench.ViewName(v)+":"+f+`"`)
		}
	}
	code, big := fastPost(t, base+"/get-online-features", "application/json",
		`{"features":[`+strings.Join(refs, ",")+`],"entities":{"user_id":[`+strings.Join(ids, ",")+`]}}`)
	if code != http.StatusOK || len(big) <= 1<<20 {
		t.Fatalf("big answer: %d, %d bytes", code, len(big))
	}
	srv := serveMetrics(t, h)
	resp, err := http.Get(srv)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`feature_server_http_requests_total{code="200",path="/get-online-features"} 2`,
		`feature_server_http_requests_total{code="404",path="/get-online-features"} 1`,
		`feature_server_http_requests_total{code="422",path="/get-online-features"} 1`,
		`feature_server_http_request_duration_seconds_count{path="/get-online-features"} 4`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func serveMetrics(t *testing.T, h *server.HTTP) string {
	t.Helper()
	srv := httptest.NewServer(h.Metrics.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// Request headers over the read buffer get 431 in Feast's error shape,
// and the connection is closed. What the server can promise is that much:
// it answers once it has read 64 KB, while the client may still be
// writing the rest, so the close can reset the connection before the
// client reads the answer (a client writing sees "broken pipe"). The test
// asserts that promise: the answer, when it arrives, is the 431; the
// connection never stays open or answers anything else; the server goes
// on serving.
func TestFastHeadersTooLarge(t *testing.T) {
	base := fastBench(t, &server.HTTP{})
	addr := strings.TrimPrefix(base, "http://")
	header := "POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n" +
		"X-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n{}"
	read := 0
	for range 5 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = conn.Write([]byte(header)) }() // may fail once the server closes
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || resp.Header.Get("Content-Type") != "application/json" ||
				!strings.Contains(string(out), "over the limit of 65536 bytes") || !resp.Close {
				t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, out)
			}
			read++
			// Nothing follows the answer: the connection is closed.
			_, err = br.ReadByte()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the connection stays open after a request over the header limit")
		}
		if err == nil {
			t.Fatal("more bytes after the 431")
		}
		conn.Close()
	}
	t.Logf("the 431 was readable %d times of 5 (the others were reset by the close)", read)
	if code, body := fastPost(t, base+"/get-online-features", "application/json", `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[1]}}`); code != http.StatusOK {
		t.Fatalf("after: %d %s", code, body)
	}
}

// panicStore fails every read by panicking.
type panicStore struct{ onlinestore.Store }

func (panicStore) Read(context.Context, []onlinestore.ReadRequest) error { panic("store exploded") }

// A panic while serving the native route answers 500 in Feast's error
// shape, and the server goes on serving (fasthttp itself would let the
// panic end the process).
func TestFastPanicIsAnError(t *testing.T) {
	snap := bench.Snapshot("bench")
	h := &server.HTTP{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h.Online = &online.Service{Snapshot: func() *registry.Snapshot { return snap }, Store: panicStore{bench.NewMemStore()}, KeyVersion: 3}
	base := serveFast(t, h)
	for range 2 {
		code, body := fastPost(t, base+"/get-online-features", "application/json", `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[1]}}`)
		if code != http.StatusInternalServerError || !strings.Contains(body, "internal error") {
			t.Fatalf("%d %s", code, body)
		}
	}
	if code, _, _ := roundTrip(t, newRequest(t, http.MethodGet, base+"/health", "", "")); code != http.StatusServiceUnavailable && code != http.StatusOK {
		t.Fatalf("health after a panic: %d", code)
	}
}

// A request fasthttp cannot parse gets 400 in Feast's error shape, and the
// connection is closed.
func TestFastMalformedRequest(t *testing.T) {
	base := fastBench(t, &server.HTTP{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(string(out), "malformed request") || !resp.Close {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, out)
	}
}

// A client that waits for "100 Continue" before sending its body (curl
// does for bodies over 1 KB) gets it, then the answer.
func TestFastExpectContinue(t *testing.T) {
	base := fastBench(t, &server.HTTP{})
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	t.Cleanup(client.CloseIdleConnections)
	req := newRequest(t, http.MethodPost, base+"/get-online-features", "application/json", `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[1]}}`)
	req.Header.Set("Expect", "100-continue")
	got := false
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{Got100Continue: func() { got = true }}))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if !got || resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"PRESENT"`) {
		t.Fatalf("100 Continue seen: %v; %d %s", got, resp.StatusCode, out)
	}
}
