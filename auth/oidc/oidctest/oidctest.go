// Package oidctest is an issuer of RS256 tokens held in memory, for tests
// and benchmarks of what the server does with verified users: its key set
// is served to the verifier through an in-memory transport, so nothing
// listens. Tests of the verifier against a real identity provider use
// internal/testoidc (Keycloak).
package oidctest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/feastgo/feastgo/auth/oidc"
)

// Issuer signs tokens with one RSA key, published under kid "test".
type Issuer struct {
	key *rsa.PrivateKey
}

// New returns an issuer with a fresh 2048-bit key.
func New() (*Issuer, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Issuer{key: k}, nil
}

func enc(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Token returns a token for user with the given client roles and groups,
// valid for an hour.
func (is *Issuer) Token(user, clientID string, roles, groups []string) string {
	now := time.Now()
	claims := map[string]any{
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "sub": "id-" + user, "preferred_username": user,
		"resource_access": map[string]any{clientID: map[string]any{"roles": roles}}, "groups": groups,
	}
	signed := enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "test"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, is.key, crypto.SHA256, sum[:])
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Verifier returns a verifier trusting this issuer only.
func (is *Issuer) Verifier(clientID string) (*oidc.Verifier, error) {
	jwks := map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "use": "sig", "kid": "test",
		"n": base64.RawURLEncoding.EncodeToString(is.key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(is.key.E)).Bytes()),
	}}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/certs") {
			_ = json.NewEncoder(w).Encode(jwks)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"jwks_uri": "http://issuer.test/certs"})
	})
	return oidc.New(oidc.Config{DiscoveryURL: "http://issuer.test/.well-known/openid-configuration", ClientID: clientID,
		HTTPClient: &http.Client{Transport: memTransport{h}}})
}

type memTransport struct{ h http.Handler }

func (t memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
