package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testkube"
	"github.com/feastgo/feastgo/internal/testrepo"
)

// TestServeWithKubernetesAuth: serve with auth type kubernetes, in the
// real API server's namespace feast as service account
// feast/feature-server, on the permissions golden repo (its Permission
// "reader" lets role reader read every view online). A token of
// feast/reader (bound to Role reader there) reads; feast/nobody (no role)
// is denied naming the permission; no token, a garbage token and user joe
// (no role) are told so; the API server's answer, not the token's own
// claims, decides.
func TestServeWithKubernetesAuth(t *testing.T) {
	c := testkube.Get(t)
	c.InClusterEnv(t)
	repo := testrepo.Copy(t, filepath.Join("..", "..", "permissions", "testdata", "repo"))
	appendYAML(t, repo, "auth:\n  type: kubernetes\n")
	port := testenv.FreePort(t)
	startServerArgs(t, []string{"-c", repo, "serve", "-p", fmt.Sprint(port), "--no-materialize-if-empty"})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, http.DefaultClient, base+"/health")

	read := func(token string) (int, string) {
		body := `{"features":["driver_hourly_stats:rate"],"entities":{"driver_id":[1]}}`
		req, _ := http.NewRequest(http.MethodPost, base+"/get-online-features", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, token string
		status      int
		want        string
	}{
		{"reader", c.SAToken(t, "feast", "reader"), http.StatusOK, `"rate"`},
		{"nobody", c.SAToken(t, "feast", "nobody"), http.StatusForbidden, "denied execution of ['READ_ONLINE'] to FeatureView:driver_hourly_stats"},
		{"joe", c.UserToken("joe"), http.StatusForbidden, "READ_ONLINE"},
		{"no token", "", http.StatusUnauthorized, ""},
		{"garbage", "not-a-token", http.StatusUnauthorized, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, b := read(tc.token)
			if st != tc.status || !strings.Contains(b, tc.want) {
				t.Fatalf("%d %s; want %d with %q", st, b, tc.status, tc.want)
			}
		})
	}
}

// Outside a pod (no KUBERNETES_SERVICE_HOST) serve with auth type
// kubernetes refuses to start and says why.
func TestServeKubernetesAuthOutsideAPod(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	repo := testrepo.Copy(t, filepath.Join("..", "..", "permissions", "testdata", "repo"))
	appendYAML(t, repo, "auth:\n  type: kubernetes\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr strings.Builder
	err := Run(ctx, []string{"-c", repo, "serve", "-p", fmt.Sprint(testenv.FreePort(t)), "--no-materialize-if-empty"}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "KUBERNETES_SERVICE_HOST") {
		t.Fatalf("serve: %v, want an error naming KUBERNETES_SERVICE_HOST; log:\n%s", err, stderr.String())
	}
}
