package server_test

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testlog"

	"github.com/feastgo/feastgo/server"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Every answer carries X-Request-ID: the request's own when it is 1-128
// printable ASCII characters, else a new 32-hex-digit id, on the native
// route, routed requests, and errors of both.
func TestRequestID(t *testing.T) {
	h := newGoldenServer(t, filepath.Join("testdata", "golden", "sqlite", "repo"))
	var logs testlog.Buffer
	h.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	handler := h.Handler()
	const read = `{"features":["pipeline_stats:error_count"],"entities":{"pipeline_id":[1]}}`
	requests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"native", http.MethodPost, "/get-online-features", read, http.StatusOK},
		{"native error", http.MethodPost, "/get-online-features", `{"features":["nope:x"],"entities":{"pipeline_id":[1]}}`, http.StatusNotFound},
		{"routed", http.MethodGet, "/health", "", http.StatusOK},
		{"not found", http.MethodGet, "/nowhere", "", http.StatusNotFound},
		{"routed error", http.MethodPost, "/on-demand/nope", `{"request_data": {}}`, http.StatusNotFound},
	}
	long := strings.Repeat("a", 128)
	for _, r := range requests {
		for _, c := range []struct {
			given string
			keep  bool
		}{
			{"", false},
			{"abc-123", true},
			{"with space & {json} \"quotes\"", true},
			{long, true},
			{long + "b", false},
			{"caf\u00e9", false},
			{"tab\there", false},
		} {
			req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
			req.Header.Set("Content-Type", "application/json")
			if c.given != "" {
				req.Header.Set(server.RequestIDHeader, c.given)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			got := rec.Header().Values(server.RequestIDHeader)
			if rec.Code != r.status || len(got) != 1 {
				t.Errorf("%s, id %q: status %d, ids %q", r.name, c.given, rec.Code, got)
				continue
			}
			if c.keep && got[0] != c.given || !c.keep && !generatedID.MatchString(got[0]) {
				t.Errorf("%s, id %q: answered id %q (kept: %v)", r.name, c.given, got[0], c.keep)
			}
		}
	}
	// Generated ids differ.
	seen := map[string]bool{}
	for range 100 {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
		seen[rec.Header().Get(server.RequestIDHeader)] = true
	}
	if len(seen) != 100 {
		t.Errorf("100 requests got %d distinct ids", len(seen))
	}
	// The log of a failed request names its id, on both stacks.
	for path, body := range map[string]string{"/get-online-features": `{"features":["nope:x"],"entities":{"pipeline_id":[1]}}`,
		"/on-demand/nope": `{"request_data": {}}`} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(server.RequestIDHeader, "trace-"+path)
		handler.ServeHTTP(httptest.NewRecorder(), req)
		if !strings.Contains(logs.String(), "request_id=trace-"+path) {
			t.Errorf("%s: log does not name the request id:\n%s", path, logs.String())
		}
		// A generated id is the one the log names too.
		req = httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if id := rec.Header().Get(server.RequestIDHeader); !strings.Contains(logs.String(), "request_id="+id) {
			t.Errorf("%s: log does not name the generated id %s", path, id)
		}
	}
}

// A request fasthttp cannot read is answered with a new id too.
func TestRequestIDOnMalformedRequest(t *testing.T) {
	h := newGoldenServer(t, filepath.Join("testdata", "golden", "sqlite", "repo"))
	h.Log = quietLog
	addr := strings.TrimPrefix(serveFast(t, h), "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nX-Request-ID: given\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if id := resp.Header.Get(server.RequestIDHeader); resp.StatusCode != http.StatusBadRequest || !generatedID.MatchString(id) {
		t.Errorf("malformed request: %d, id %q", resp.StatusCode, id)
	}
}
