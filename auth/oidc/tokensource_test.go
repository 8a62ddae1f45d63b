package oidc_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/auth/oidc"
	"github.com/feastgo/feastgo/internal/testoidc"
)

// TestTokenSourceOrder: the sources in Feast's order, each tried only
// when the ones before it are unset.
func TestTokenSourceOrder(t *testing.T) {
	env := map[string]string{}
	files := map[string]string{}
	cfg := func(c oidc.ClientConfig) oidc.ClientConfig {
		c.Getenv = func(k string) string { return env[k] }
		c.ReadFile = func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, os.ErrNotExist
		}
		return c
	}
	token := func(c oidc.ClientConfig) (string, error) {
		t.Helper()
		ts, err := oidc.NewTokenSource(cfg(c))
		if err != nil {
			t.Fatal(err)
		}
		return ts.Token(context.Background())
	}
	if _, err := token(oidc.ClientConfig{}); err == nil || !strings.Contains(err.Error(), "no OIDC token source") {
		t.Errorf("nothing set: %v", err)
	}
	files[oidc.ServiceAccountTokenPath] = " sa-token\n"
	if tok, _ := token(oidc.ClientConfig{}); tok != "sa-token" {
		t.Errorf("service-account file: %q", tok)
	}
	env["FEAST_OIDC_TOKEN"] = "env-token"
	if tok, _ := token(oidc.ClientConfig{}); tok != "env-token" {
		t.Errorf("FEAST_OIDC_TOKEN before the file: %q", tok)
	}
	if _, err := token(oidc.ClientConfig{TokenEnvVar: "MY_TOKEN"}); err == nil || !strings.Contains(err.Error(), "token_env_var: MY_TOKEN") {
		t.Errorf("token_env_var unset is an error naming it, not a fall-through: %v", err)
	}
	env["MY_TOKEN"] = "my-token"
	if tok, _ := token(oidc.ClientConfig{TokenEnvVar: "MY_TOKEN"}); tok != "my-token" {
		t.Errorf("token_env_var: %q", tok)
	}
	if tok, _ := token(oidc.ClientConfig{Token: "fixed", TokenEnvVar: "MY_TOKEN"}); tok != "fixed" {
		t.Errorf("token first: %q", tok)
	}
	// Intra-server communication overrides all: PyJWT's unsigned token.
	env["INTRA_COMMUNICATION_BASE64"] = "c2VydmVy"
	tok, _ := token(oidc.ClientConfig{Token: "fixed"})
	if tok != "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJwcmVmZXJyZWRfdXNlcm5hbWUiOiJjMlZ5ZG1WeSJ9." {
		t.Errorf("intra-communication token %q", tok)
	}
	// Our verifier takes it as the servers' own user, as Feast's parser does.
	v, err := oidc.New(oidc.Config{DiscoveryURL: "http://127.0.0.1:1/unused", IntraCommUser: "c2VydmVy"})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := v.Authenticate(context.Background(), tok); err != nil || u == nil {
		t.Errorf("the intra-communication token is refused by our verifier: %v", err)
	}
	if _, err := oidc.NewTokenSource(oidc.ClientConfig{ClientSecret: "s"}); err == nil {
		t.Error("client_secret without discovery URL and client id accepted")
	}
}

// TestTokenSourceFromKeycloak gets tokens from the real Keycloak: the
// password grant's token is reused until RefreshMargin before its expiry,
// fetched again after that or after Invalidate, and a wrong password is the
// IdP's error, not a token.
func TestTokenSourceFromKeycloak(t *testing.T) {
	discovery := testoidc.Discovery(t)
	now := time.Now()
	clock := func() time.Time { return now }
	ts, err := oidc.NewTokenSource(oidc.ClientConfig{DiscoveryURL: discovery, ClientID: "feast-client", ClientSecret: "feast-secret",
		Username: "alice", Password: "alice-password", RefreshMargin: 30 * time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := oidc.New(oidc.Config{DiscoveryURL: discovery, ClientID: "feast-client"})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := v.Authenticate(ctx, first); err != nil || u.Name != "alice" {
		t.Fatalf("the fetched token verifies as %+v, %v", u, err)
	}
	if again, _ := ts.Token(ctx); again != first {
		t.Error("a live token was fetched again instead of reused")
	}
	exp := time.Unix(int64(testoidc.Claims(t, first)["exp"].(float64)), 0)
	now = exp.Add(-29 * time.Second) // inside the refresh margin
	renewed, err := ts.Token(ctx)
	if err != nil || renewed == first {
		t.Errorf("inside the refresh margin the token was not renewed (%v)", err)
	}
	ts.Invalidate()
	if fresh, err := ts.Token(ctx); err != nil || fresh == renewed {
		t.Errorf("after Invalidate the token was not fetched again (%v)", err)
	}

	bad, err := oidc.NewTokenSource(oidc.ClientConfig{DiscoveryURL: discovery, ClientID: "feast-client", ClientSecret: "feast-secret",
		Username: "alice", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Token(ctx); err == nil || !strings.Contains(err.Error(), "invalid_grant") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v (want the IdP's invalid_grant, without the password)", err)
	}
	cc, err := oidc.NewTokenSource(oidc.ClientConfig{DiscoveryURL: discovery, ClientID: "feast-client", ClientSecret: "feast-secret"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client-credentials grant: %v", err)
	}
	if _, err := v.Authenticate(ctx, tok); err != nil {
		t.Errorf("client-credentials token does not verify: %v", err)
	}
}
