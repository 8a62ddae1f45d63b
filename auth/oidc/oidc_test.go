package oidc

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/core"
)

// The verifier is tested here with keys of the test's own, published by a
// local HTTP handler standing for the issuer's two documents; the real
// identity provider (Keycloak) is exercised by internal/testoidc and the
// conformance matrix.

var (
	keyOnce sync.Once
	keyA    *rsa.PrivateKey
	keyB    *rsa.PrivateKey
)

func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if keyA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keyB, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keyA, keyB
}

func enc(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// sign makes an RS256 JWT of claims, with header fields hdr added.
func sign(k *rsa.PrivateKey, hdr map[string]any, claims map[string]any) string {
	h := map[string]any{"alg": "RS256", "typ": "JWT"}
	for key, v := range hdr {
		if v == nil {
			delete(h, key)
		} else {
			h[key] = v
		}
	}
	signed := enc(h) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func jwk(kid string, k *rsa.PublicKey) map[string]any {
	m := map[string]any{
		"kty": "RSA", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}
	if kid != "" {
		m["kid"] = kid
	}
	return m
}

// issuer serves a discovery document and a key set the test can change.
type issuer struct {
	srv       *httptest.Server
	mu        sync.Mutex
	keys      []map[string]any
	fetches   atomic.Int32
	down      atomic.Bool
	discovery atomic.Int32
}

func newIssuer(t *testing.T, keys ...map[string]any) *issuer {
	is := &issuer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if is.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		is.discovery.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/certs",
			"token_endpoint": is.srv.URL + "/token", "authorization_endpoint": is.srv.URL + "/auth",
		})
	})
	mux.HandleFunc("/certs", func(w http.ResponseWriter, r *http.Request) {
		if is.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		is.fetches.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": is.keys})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) setKeys(keys ...map[string]any) {
	is.mu.Lock()
	is.keys = keys
	is.mu.Unlock()
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newVerifier(t *testing.T, is *issuer, mod func(*Config)) (*Verifier, *clock) {
	t.Helper()
	clk := &clock{t: time.Now()}
	cfg := Config{DiscoveryURL: is.srv.URL + "/.well-known/openid-configuration", ClientID: "feast-client", Now: clk.now}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v, clk
}

func claimsAt(now time.Time, extra map[string]any) map[string]any {
	c := map[string]any{
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "sub": "f:1234",
		"preferred_username": "alice", "iss": "https://idp.example/realms/feast", "aud": "account",
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func wantUnauthenticated(t *testing.T, v *Verifier, tok, why string) {
	t.Helper()
	u, err := v.Authenticate(context.Background(), tok)
	if err == nil {
		t.Fatalf("%s: accepted as %+v", why, u)
	}
	if !auth.IsUnauthenticated(err) {
		t.Fatalf("%s: want an unauthenticated error, got %T %v", why, err, err)
	}
}

func TestUserFromClaims(t *testing.T) {
	a, _ := keys(t)
	is := newIssuer(t, jwk("k1", &a.PublicKey))
	v, clk := newVerifier(t, is, nil)
	now := clk.now()
	tok := sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{
		"resource_access": map[string]any{"feast-client": map[string]any{"roles": []any{"reader", "writer"}}, "other": map[string]any{"roles": []any{"admin"}}},
		"roles":           []any{"writer", "auditor", 7},
		"groups":          []any{"ds", "writers"},
	}))
	u, err := v.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := &auth.User{Name: "alice", Roles: []string{"reader", "writer", "auditor"}, Groups: []string{"ds", "writers"}}
	if !reflect.DeepEqual(u, want) {
		t.Fatalf("user %+v, want %+v", u, want)
	}

	// Without client_id, only the top-level roles count.
	v2, _ := newVerifier(t, is, func(c *Config) { c.ClientID = "" })
	u, err = v2.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(u.Roles, []string{"writer", "auditor"}) {
		t.Fatalf("roles without client_id: %v", u.Roles)
	}
}

func TestUserNameClaimPrecedence(t *testing.T) {
	a, _ := keys(t)
	is := newIssuer(t, jwk("k1", &a.PublicKey))
	v, clk := newVerifier(t, is, nil)
	now := clk.now()
	for _, c := range []struct {
		claims map[string]any
		want   string
	}{
		{map[string]any{"preferred_username": "p", "upn": "u", "azp": "z", "appid": "a", "sub": "s"}, "p"},
		{map[string]any{"preferred_username": nil, "upn": "u", "azp": "z", "sub": "s"}, "u"},
		{map[string]any{"preferred_username": 12, "upn": nil, "azp": "z", "sub": "s"}, "z"},
		{map[string]any{"preferred_username": nil, "appid": "a", "sub": "s"}, "a"},
		{map[string]any{"preferred_username": nil, "sub": "s"}, "s"},
		{map[string]any{"preferred_username": ""}, ""},
	} {
		u, err := v.Authenticate(context.Background(), sign(a, map[string]any{"kid": "k1"}, claimsAt(now, c.claims)))
		if err != nil {
			t.Fatalf("%v: %v", c.claims, err)
		}
		if u.Name != c.want {
			t.Fatalf("%v: name %q, want %q", c.claims, u.Name, c.want)
		}
	}
	wantUnauthenticated(t, v, sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"preferred_username": nil, "sub": nil})), "no name claim")
}

func TestBadTokens(t *testing.T) {
	a, b := keys(t)
	is := newIssuer(t, jwk("k1", &a.PublicKey))
	v, clk := newVerifier(t, is, nil)
	now := clk.now()
	good := sign(a, map[string]any{"kid": "k1"}, claimsAt(now, nil))
	parts := strings.Split(good, ".")
	flip := []byte(parts[2])
	if flip[10] == 'A' {
		flip[10] = 'B'
	} else {
		flip[10] = 'A'
	}
	none := enc(map[string]any{"alg": "none", "kid": "k1"}) + "." + parts[1] + "."
	// HS256 keyed with the public key's bytes: the classic confusion.
	hs := enc(map[string]any{"alg": "HS256", "kid": "k1"}) + "." + parts[1] + "." + parts[2]
	for _, c := range []struct{ why, tok string }{
		{"empty", ""},
		{"garbage", "garbage"},
		{"two segments", parts[0] + "." + parts[1]},
		{"four segments", good + ".x"},
		{"header not base64", "!!!." + parts[1] + "." + parts[2]},
		{"payload not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("{not json")) + "." + parts[2]},
		{"payload not an object", parts[0] + "." + enc([]int{1, 2}) + "." + parts[2]},
		{"signature flipped", parts[0] + "." + parts[1] + "." + string(flip)},
		{"payload changed", parts[0] + "." + enc(claimsAt(now, map[string]any{"preferred_username": "root"})) + "." + parts[2]},
		{"signed by another key", sign(b, map[string]any{"kid": "k1"}, claimsAt(now, nil))},
		{"unknown kid", sign(b, map[string]any{"kid": "k9"}, claimsAt(now, nil))},
		{"no kid", sign(a, map[string]any{"kid": nil}, claimsAt(now, nil))},
		{"alg none", none},
		{"alg HS256", hs},
		{"expired", sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"exp": now.Add(-11 * time.Second).Unix()}))},
		{"exp not a number", sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"exp": "soon"}))},
		{"not yet valid (nbf)", sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"nbf": now.Add(time.Minute).Unix()}))},
		{"issued in the future", sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"iat": now.Add(time.Minute).Unix()}))},
		{"sub not a string", sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"sub": 5}))},
		{"kubernetes token", sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"kubernetes.io": map[string]any{"namespace": "ns"}}))},
	} {
		wantUnauthenticated(t, v, c.tok, c.why)
	}
	// Leeway: 9 s past exp still passes, as in Feast.
	if _, err := v.Authenticate(context.Background(), sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"exp": now.Add(-9 * time.Second).Unix()}))); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	// Python's int() of the time claims: a numeric string and a float count.
	if _, err := v.Authenticate(context.Background(), sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"exp": fmt.Sprint(now.Add(time.Minute).Unix()), "iat": float64(now.Unix()) + 0.5}))); err != nil {
		t.Fatalf("exp as a string: %v", err)
	}
	// A token without exp is valid (PyJWT checks exp only when present).
	if _, err := v.Authenticate(context.Background(), sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"exp": nil}))); err != nil {
		t.Fatalf("without exp: %v", err)
	}
}

func TestAudienceAndIssuer(t *testing.T) {
	a, _ := keys(t)
	is := newIssuer(t, jwk("k1", &a.PublicKey))
	aud, iss := "feast-client", "https://idp.example/realms/feast"
	v, clk := newVerifier(t, is, func(c *Config) { c.Audience, c.Issuer = &aud, &iss })
	now := clk.now()
	ok := func(extra map[string]any) string { return sign(a, map[string]any{"kid": "k1"}, claimsAt(now, extra)) }
	for _, tok := range []string{ok(map[string]any{"aud": "feast-client"}), ok(map[string]any{"aud": []any{"account", "feast-client"}})} {
		if _, err := v.Authenticate(context.Background(), tok); err != nil {
			t.Fatalf("a matching audience: %v", err)
		}
	}
	wantUnauthenticated(t, v, ok(nil), "audience account")
	wantUnauthenticated(t, v, ok(map[string]any{"aud": nil}), "no audience")
	wantUnauthenticated(t, v, ok(map[string]any{"aud": []any{"feast-client", 3}}), "audience list with a number")
	wantUnauthenticated(t, v, ok(map[string]any{"aud": "feast-client", "iss": "https://evil.example"}), "another issuer")
	wantUnauthenticated(t, v, ok(map[string]any{"aud": "feast-client", "iss": nil}), "no issuer")
	// Unset, neither is checked (Feast's defaults).
	v2, _ := newVerifier(t, is, nil)
	if _, err := v2.Authenticate(context.Background(), ok(map[string]any{"aud": "x", "iss": "y"})); err != nil {
		t.Fatalf("aud and iss unchecked by default: %v", err)
	}
}

func TestKeyRotationAndRefetchCooldown(t *testing.T) {
	a, b := keys(t)
	is := newIssuer(t, jwk("k1", &a.PublicKey))
	v, clk := newVerifier(t, is, func(c *Config) { c.RefreshCooldown = 5 * time.Second })
	now := clk.now()
	if _, err := v.Authenticate(context.Background(), sign(a, map[string]any{"kid": "k1"}, claimsAt(now, nil))); err != nil {
		t.Fatal(err)
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("%d key set fetches after one token, want 1", n)
	}
	// A flood of unknown kids fetches at most once per cooldown.
	clk.add(6 * time.Second)
	for i := range 50 {
		wantUnauthenticated(t, v, sign(b, map[string]any{"kid": fmt.Sprintf("x%d", i)}, claimsAt(clk.now(), nil)), "unknown kid")
	}
	if n := is.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after 50 unknown kids, want 2", n)
	}
	// The issuer rotates to k2: a token naming it is accepted once the
	// cooldown allows a fetch, without waiting for the lifespan.
	is.setKeys(jwk("k1", &a.PublicKey), jwk("k2", &b.PublicKey))
	clk.add(6 * time.Second)
	u, err := v.Authenticate(context.Background(), sign(b, map[string]any{"kid": "k2"}, claimsAt(clk.now(), map[string]any{"preferred_username": "bob"})))
	if err != nil || u.Name != "bob" {
		t.Fatalf("rotated key: %v %v", u, err)
	}
	if n := is.discovery.Load(); n != 1 {
		t.Fatalf("discovery fetched %d times, want once", n)
	}
}

func TestLifespanAndCache(t *testing.T) {
	a, b := keys(t)
	is := newIssuer(t, jwk("k1", &a.PublicKey))
	v, clk := newVerifier(t, is, func(c *Config) { c.JWKSLifespan = time.Minute })
	now := clk.now()
	tok := sign(a, map[string]any{"kid": "k1"}, claimsAt(now, map[string]any{"exp": now.Add(30 * time.Second).Unix()}))
	for range 100 {
		if _, err := v.Authenticate(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 100 requests, want 1", n)
	}
	// The remembered token expires with the token (plus leeway).
	clk.add(39 * time.Second)
	if _, err := v.Authenticate(context.Background(), tok); err != nil {
		t.Fatalf("within exp+leeway: %v", err)
	}
	clk.add(2 * time.Second)
	wantUnauthenticated(t, v, tok, "cached token past its expiry")

	// The issuer drops k1: tokens it signed stop verifying once the key
	// set's lifespan is over, cached or not.
	tok2 := sign(a, map[string]any{"kid": "k1"}, claimsAt(clk.now(), nil))
	if _, err := v.Authenticate(context.Background(), tok2); err != nil {
		t.Fatal(err)
	}
	is.setKeys(jwk("k2", &b.PublicKey))
	clk.add(61 * time.Second)
	wantUnauthenticated(t, v, tok2, "a key the issuer removed, past the lifespan")
}

func TestIssuerDown(t *testing.T) {
	a, _ := keys(t)
	is := newIssuer(t, jwk("k1", &a.PublicKey))
	is.down.Store(true)
	v, clk := newVerifier(t, is, func(c *Config) { c.JWKSLifespan = time.Minute })
	tok := sign(a, map[string]any{"kid": "k1"}, claimsAt(clk.now(), nil))
	_, err := v.Authenticate(context.Background(), tok)
	if core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("issuer down at the first request: want Unavailable, got %v", err)
	}
	if err := v.Warm(context.Background()); err == nil {
		t.Fatal("Warm with the issuer down: no error")
	}
	is.down.Store(false)
	clk.add(6 * time.Second)
	if _, err := v.Authenticate(context.Background(), tok); err != nil {
		t.Fatalf("issuer back: %v", err)
	}
	// Down again past the lifespan: the last keys still verify.
	is.down.Store(true)
	clk.add(2 * time.Minute)
	tok2 := sign(a, map[string]any{"kid": "k1"}, claimsAt(clk.now(), map[string]any{"preferred_username": "carol"}))
	if u, err := v.Authenticate(context.Background(), tok2); err != nil || u.Name != "carol" {
		t.Fatalf("issuer down with stale keys: %v %v", u, err)
	}
}

func TestIntraCommunicationUser(t *testing.T) {
	a, b := keys(t)
	is := newIssuer(t, jwk("k1", &a.PublicKey))
	v, clk := newVerifier(t, is, func(c *Config) { c.IntraCommUser = "c2VydmVy" })
	// Feast takes the servers' own token on its claim alone.
	u, err := v.Authenticate(context.Background(), sign(b, nil, claimsAt(clk.now(), map[string]any{"preferred_username": "c2VydmVy"})))
	if err != nil || u.Name != "c2VydmVy" || len(u.Roles) != 0 {
		t.Fatalf("intra-communication user: %+v %v", u, err)
	}
	v2, _ := newVerifier(t, is, nil)
	wantUnauthenticated(t, v2, sign(b, nil, claimsAt(clk.now(), map[string]any{"preferred_username": "c2VydmVy"})), "intra user without the variable set")
}

func TestBearerToken(t *testing.T) {
	for _, c := range []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc ", "abc", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"Bearer a b", "", false},
		{"Bearer\tabc", "", false},
		{"Bearerabc", "", false},
	} {
		tok, err := auth.BearerToken(c.header)
		if c.ok != (err == nil) || tok != c.token {
			t.Errorf("%q: got %q %v", c.header, tok, err)
		}
		if err != nil && !auth.IsUnauthenticated(err) {
			t.Errorf("%q: error %T", c.header, err)
		}
	}
}

func TestConcurrentFirstRequestsFetchOnce(t *testing.T) {
	a, _ := keys(t)
	is := newIssuer(t, jwk("k1", &a.PublicKey))
	v, clk := newVerifier(t, is, nil)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := sign(a, map[string]any{"kid": "k1"}, claimsAt(clk.now(), map[string]any{"preferred_username": fmt.Sprint("u", i)}))
			if _, err := v.Authenticate(context.Background(), tok); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 16 concurrent first requests, want 1", n)
	}
}

func FuzzAuthenticate(f *testing.F) {
	a, _ := keys(f)
	now := time.Now()
	f.Add(sign(a, map[string]any{"kid": "k1"}, claimsAt(now, nil)))
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(enc(map[string]any{"alg": "RS256", "kid": "k1"}) + "." + enc(map[string]any{"exp": "1e400", "iat": []int{1}}) + ".AAAA")
	// The key set is served from memory: no network in the fuzz loop.
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/certs") {
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwk("k1", &a.PublicKey)}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"jwks_uri": "http://idp/certs"})
	})
	v, err := New(Config{DiscoveryURL: "http://idp/.well-known/openid-configuration", ClientID: "c",
		HTTPClient: &http.Client{Transport: handlerTransport{srv}}, CacheEntries: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		u, err := v.Authenticate(context.Background(), tok)
		if err == nil {
			if u == nil {
				t.Fatal("no error and no user")
			}
			return
		}
		if !auth.IsUnauthenticated(err) {
			t.Fatalf("%q: an error that is not unauthenticated: %v", tok, err)
		}
	})
}

// handlerTransport answers HTTP requests with a handler, in memory.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func BenchmarkAuthenticateCached(b *testing.B) {
	a, _ := keys(b)
	now := time.Now()
	tok := sign(a, map[string]any{"kid": "k1"}, claimsAt(now, nil))
	v, err := New(Config{DiscoveryURL: "http://idp/.well-known/openid-configuration", HTTPClient: &http.Client{Transport: handlerTransport{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/certs") {
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwk("k1", &a.PublicKey)}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"jwks_uri": "http://idp/certs"})
	})}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Authenticate(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAuthenticateUncached(b *testing.B) {
	a, _ := keys(b)
	now := time.Now()
	tok := sign(a, map[string]any{"kid": "k1"}, claimsAt(now, nil))
	v, err := New(Config{DiscoveryURL: "http://idp/.well-known/openid-configuration", HTTPClient: &http.Client{Transport: handlerTransport{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/certs") {
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwk("k1", &a.PublicKey)}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"jwks_uri": "http://idp/certs"})
	})}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := v.verify(context.Background(), tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
