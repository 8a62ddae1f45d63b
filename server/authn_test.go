package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/core"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
)

// tokens is an Authenticator over fixed tokens: "t-<user>" is that user of
// the permissions matrix, "down" an identity provider that cannot be
// reached. The OIDC verifier itself is tested in auth/oidc and against
// Keycloak; this tests what the transports do with its answers.
type tokens struct{}

func (tokens) Authenticate(_ context.Context, token string) (*auth.User, error) {
	if token == "down" {
		return nil, core.Unavailable(errors.New("connection refused"), "the OIDC identity provider could not be reached to verify the token")
	}
	if u, ok := permUsers[strings.TrimPrefix(token, "t-")]; ok && strings.HasPrefix(token, "t-") {
		return u, nil
	}
	return nil, auth.Unauthenticated("unknown token")
}

func serveAuthHTTP(t *testing.T) string {
	t.Helper()
	h, _ := permissionsHTTP(t)
	h.Auth = tokens{}
	srv := h.NewFastServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return "http://" + ln.Addr().String()
}

func TestHTTPRequiresToken(t *testing.T) {
	base := serveAuthHTTP(t)
	do := func(method, path, authz, body string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	read := `{"features":["driver_hourly_stats:rate"],"entities":{"driver_id":[1]}}`
	push := `{"push_source_name":"driver_push","df":{"driver_id":[1],"rate":[0.5],"event_timestamp":["2026-01-01T00:00:00Z"]},"to":"online"}`

	for _, authz := range []string{"", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Bearer garbage", "Bearer t-alice extra", "t-alice"} {
		for _, c := range []struct{ path, body string }{{onlinePath, read}, {"/push", push}, {"/on-demand/driver_rate_plus", `{}`}} {
			st, hdr, b := do(http.MethodPost, c.path, authz, c.body)
			if st != http.StatusUnauthorized || b != `{"detail":"Invalid or expired access token"}` || hdr.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("%s with %q: %d %q %v, want Feast's 401", c.path, authz, st, b, hdr)
			}
		}
	}
	// Health and unknown routes need no token.
	// (/health is 503 here: this handler has no registry to report on.)
	if st, _, b := do(http.MethodGet, "/health", "", ""); st == http.StatusUnauthorized {
		t.Fatalf("/health without a token: %d %s", st, b)
	}
	if st, _, _ := do(http.MethodGet, "/health/live", "", ""); st != http.StatusOK {
		t.Fatalf("/health/live without a token: %d", st)
	}
	if st, _, _ := do(http.MethodPost, "/nowhere", "", ""); st != http.StatusNotFound {
		t.Fatalf("an unknown route: %d, want 404", st)
	}
	// A verified user reaches the permission checks, on the native route
	// and through the router.
	if st, _, b := do(http.MethodPost, onlinePath, "Bearer t-alice", read); st != http.StatusOK {
		t.Fatalf("alice reads: %d %s", st, b)
	}
	if st, _, b := do(http.MethodPost, onlinePath, "bearer  t-alice ", read); st != http.StatusOK {
		t.Fatalf("the scheme in any case: %d %s", st, b)
	}
	st, _, b := do(http.MethodPost, onlinePath, "Bearer t-nobody", read)
	expectDenied(t, st, b, "['READ_ONLINE'] to FeatureView:driver_hourly_stats")
	if st, _, b := do(http.MethodPost, "/push", "Bearer t-bob", push); st != http.StatusOK {
		t.Fatalf("bob pushes: %d %s", st, b)
	}
	st, _, b = do(http.MethodPost, "/push", "Bearer t-alice", push)
	expectDenied(t, st, b, "['WRITE_ONLINE']")
	// An identity provider that cannot be reached is the server's trouble.
	if st, _, b := do(http.MethodPost, onlinePath, "Bearer down", read); st != http.StatusServiceUnavailable || !strings.Contains(b, "identity provider") {
		t.Fatalf("identity provider down: %d %s, want 503", st, b)
	}
}

func TestGRPCRequiresToken(t *testing.T) {
	h, _ := permissionsHTTP(t)
	conn, req := servingConn(t, h, AuthGRPCOptions(tokens{})...)
	c := servingpb.NewServingServiceClient(conn)
	call := func(authz string) error {
		ctx := context.Background()
		if authz != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", authz)
		}
		_, err := c.GetOnlineFeatures(ctx, req)
		return err
	}
	for _, authz := range []string{"", "Bearer", "Bearer junk", "t-alice"} {
		if err := call(authz); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("%q: %v, want Unauthenticated", authz, err)
		}
	}
	if err := call("Bearer t-alice"); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if err := call("Bearer t-bob"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("bob: %v, want PermissionDenied", err)
	}
	if err := call("Bearer down"); status.Code(err) != codes.Unavailable {
		t.Fatalf("identity provider down: %v, want Unavailable", err)
	}
	// Health probes need no token.
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) == codes.Unauthenticated {
		t.Fatalf("health check: %v", err)
	}
}
