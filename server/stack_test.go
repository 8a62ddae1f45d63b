package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/registry"
)

// Reads have one HTTP stack: the fasthttp server's native route. The
// router keeps the route (for 405 and the metrics label) but does not
// serve it: a read that reached it would be a second stack nobody tests,
// as the net/http handler was, which production never ran.
func TestReadsHaveOneStack(t *testing.T) {
	snap := bench.Snapshot("bench")
	h := &HTTP{Online: &online.Service{Snapshot: func() *registry.Snapshot { return snap }, Store: bench.NewMemStore(), KeyVersion: 3}, Log: discardLog}
	const body = `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[1]}}`
	code, out := serve(h.Handler(), http.MethodPost, onlinePath, "application/json", []byte(body))
	if code != http.StatusOK || !strings.Contains(string(out), `"PRESENT"`) {
		t.Fatalf("through the server: %d %s", code, out)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, onlinePath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.router().ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "served by the fasthttp server") {
		t.Fatalf("through the router: %d %s", rec.Code, rec.Body.String())
	}
	if code, out := serve(h.Handler(), http.MethodGet, onlinePath, "", nil); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d %s", code, out)
	}
}
