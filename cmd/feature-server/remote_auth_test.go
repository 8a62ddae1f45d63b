package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testoidc"
	"github.com/feastgo/feastgo/internal/testrepo"
)

// waitGRPCHealth waits until the gRPC server on port answers SERVING.
func waitGRPCHealth(t *testing.T, port int) {
	t.Helper()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("registry server on %d never became healthy", port)
}

// TestRemoteRegistryWithOIDC: serve_registry requires a token (auth oidc,
// verified against the real Keycloak); serve with registry_type remote
// and the auth block's client keys gets one from Keycloak (password
// grant), loads the registry through it and serves. With a wrong password,
// or no token source at all, serve fails at start and says why.
func TestRemoteRegistryWithOIDC(t *testing.T) {
	discovery := testoidc.Discovery(t)
	src := testrepo.Copy(t, filepath.Join("..", "..", "offlinestore", "testdata", "historical", "repo"))
	serverAuth := fmt.Sprintf("auth:\n  type: oidc\n  auth_discovery_url: %s\n  client_id: feast-client\n", discovery)
	appendYAML(t, src, serverAuth)
	regPort := testenv.FreePort(t)
	startServerArgs(t, []string{"-c", src, "serve_registry", "-p", fmt.Sprint(regPort)})
	waitGRPCHealth(t, regPort)

	// A repo whose registry is the registry server, online store the same file.
	remoteRepo := func(t *testing.T, client string) string {
		dir := t.TempDir()
		yaml := fmt.Sprintf("project: historical_conformance\nprovider: local\nregistry:\n  registry_type: remote\n  path: 127.0.0.1:%d\n"+
			"online_store:\n  type: sqlite\n  path: %s\noffline_store:\n  type: file\nentity_key_serialization_version: 3\n%s%s",
			regPort, filepath.Join(src, "data", "online.db"), serverAuth, client)
		if err := os.WriteFile(filepath.Join(dir, "feature_store.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}

	t.Run("password grant", func(t *testing.T) {
		repo := remoteRepo(t, "  client_secret: feast-secret\n  username: alice\n  password: alice-password\n")
		hp := testenv.FreePort(t)
		startServerArgs(t, []string{"-c", repo, "serve", "-p", fmt.Sprint(hp), "--no-materialize-if-empty"})
		base := fmt.Sprintf("http://127.0.0.1:%d", hp)
		waitHTTP(t, http.DefaultClient, base+"/health")
		body := `{"features":["driver_stats:conv_rate"],"entities":{"driver_id":[1001]}}`
		req, _ := http.NewRequest(http.MethodPost, base+"/get-online-features", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testoidc.UserToken(t, "alice"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"conv_rate"`)) {
			t.Fatalf("read through the remote registry: %d %s", resp.StatusCode, b)
		}
	})

	for name, c := range map[string]struct{ client, want string }{
		"wrong password": {"  client_secret: feast-secret\n  username: alice\n  password: nope\n", "invalid_grant"},
		"no token":       {"", "no OIDC token source"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("FEAST_OIDC_TOKEN", "")
			t.Setenv("INTRA_COMMUNICATION_BASE64", "")
			repo := remoteRepo(t, c.client)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			err := Run(ctx, []string{"-c", repo, "serve", "-p", fmt.Sprint(testenv.FreePort(t)), "--no-materialize-if-empty"}, io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), c.want) {
				t.Fatalf("serve: %v, want an error with %q; log:\n%s", err, c.want, stderr.String())
			}
		})
	}
}

// appendYAML adds text to a repo's feature_store.yaml.
func appendYAML(t *testing.T, repo, text string) {
	t.Helper()
	p := filepath.Join(repo, "feature_store.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(b, []byte(text)...), 0o644); err != nil {
		t.Fatal(err)
	}
}
