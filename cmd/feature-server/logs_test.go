package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testlog"

	"github.com/feastgo/feastgo/internal/testenv"
)

// serveLogged runs `feature-server GLOBAL... -c golden serve -p PORT ARGS...`,
// sends a read (with the given X-Request-ID) and a /health, and returns
// what the server logged once stopped.
func serveLogged(t *testing.T, global []string, args ...string) string {
	t.Helper()
	port := testenv.FreePort(t)
	argv := append(append(global, "-c", goldenRepo, "serve", "-p", fmt.Sprint(port)), args...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testlog.Buffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, argv, io.Discard, &stderr) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, http.DefaultClient, base+"/health")
	req, err := http.NewRequest(http.MethodPost, base+"/get-online-features",
		strings.NewReader(`{"features":["pipeline_stats:error_count"],"entities":{"pipeline_id":[1]}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", "given-id-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-ID") != "given-id-1" {
		t.Fatalf("read: %d, X-Request-ID %q", resp.StatusCode, resp.Header.Get("X-Request-ID"))
	}
	resp, err = http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !generatedIDPattern(resp.Header.Get("X-Request-ID")) {
		t.Fatalf("/health: X-Request-ID %q", resp.Header.Get("X-Request-ID"))
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v; log:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop")
	}
	return stderr.String()
}

func generatedIDPattern(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// serve logs a JSON object a line with --log-format json, one access line
// a request among them.
func TestServeAccessLogJSON(t *testing.T) {
	out := serveLogged(t, []string{"--log-format", "json"})
	var access []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if m["msg"] == "request" {
			access = append(access, m)
		}
	}
	var read map[string]any
	for _, m := range access {
		if m["path"] == "/get-online-features" {
			read = m
		}
	}
	if read == nil {
		t.Fatalf("no access line for the read:\n%s", out)
	}
	if read["level"] != "INFO" || read["method"] != "POST" || read["status"] != float64(200) || read["request_id"] != "given-id-1" ||
		!strings.HasPrefix(read["remote_addr"].(string), "127.0.0.1:") {
		t.Errorf("access line %v", read)
	}
	if d, ok := read["duration_ms"].(float64); !ok || d < 0 || d > 10_000 {
		t.Errorf("duration_ms %v", read["duration_ms"])
	}
	// waitHTTP's /health and ours, at least.
	health := 0
	for _, m := range access {
		if m["path"] == "/health" && m["method"] == "GET" && generatedIDPattern(m["request_id"].(string)) {
			health++
		}
	}
	if health < 2 {
		t.Errorf("%d access lines for /health:\n%s", health, out)
	}
}

// The default text log has the access lines too; --no-access-log has none
// (and the ids still go out).
func TestServeNoAccessLog(t *testing.T) {
	out := serveLogged(t, nil)
	if !strings.Contains(out, `level=INFO msg=request method=POST path=/get-online-features status=200 duration_ms=`) ||
		!strings.Contains(out, "request_id=given-id-1 remote_addr=127.0.0.1:") {
		t.Errorf("text access log missing:\n%s", out)
	}
	out = serveLogged(t, nil, "--no-access-log")
	if strings.Contains(out, "msg=request ") || !strings.Contains(out, "serving HTTP") {
		t.Errorf("--no-access-log logged:\n%s", out)
	}
}
