// Package oidc verifies OIDC bearer tokens as Feast 0.67's OidcTokenParser
// does: an RS256 signature checked against the issuer's JWKS, found through
// its discovery document; expiry, not-before and issued-at with 10 s of
// leeway; audience and issuer only when configured; the user name, roles
// and groups taken from the claims Feast reads.
//
// Unlike Feast, nothing is fetched per request: the discovery document is
// fetched once, the key set is kept for its lifespan (and fetched again at
// once, at most every RefreshCooldown, when a token names a key it does
// not hold), and a verified token is remembered until it expires, so that
// a request with a known token costs one map lookup.
package oidc

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/core"
)

// Config is the server side of Feast's OidcAuthConfig.
type Config struct {
	// DiscoveryURL is the issuer's .well-known/openid-configuration.
	DiscoveryURL string
	// ClientID names the resource_access entry whose roles are the user's.
	ClientID string
	// InsecureSkipVerify is Feast's verify_ssl: false.
	InsecureSkipVerify bool
	// CACertPath, when set and present, is the CA bundle the IdP's
	// certificate is verified against.
	CACertPath string
	// Audience and Issuer, when non-nil, must match the token's aud and iss.
	Audience, Issuer *string
	// JWKSLifespan is how long a fetched key set is used (default 300 s).
	JWKSLifespan time.Duration
	// JWKSTimeout bounds each fetch from the IdP (default 10 s).
	JWKSTimeout time.Duration
	// RefreshCooldown is the least time between two fetches of the key set
	// caused by tokens naming an unknown key (default 5 s).
	RefreshCooldown time.Duration
	// IntraCommUser is Feast's INTRA_COMMUNICATION_BASE64: a token whose
	// preferred_username equals it is taken as the servers' own user.
	IntraCommUser string
	// CacheEntries bounds the verified tokens remembered (default 65,536).
	CacheEntries int
	// HTTPClient, when set, replaces the client built from the TLS options.
	HTTPClient *http.Client
	// Now is the clock (tests); time.Now by default.
	Now func() time.Time
}

// Leeway is the clock skew Feast allows on exp, nbf and iat.
const Leeway = 10 * time.Second

// Verifier is an auth.Authenticator for OIDC tokens. It is safe for
// concurrent use and starts no goroutine.
type Verifier struct {
	cfg    Config
	client *http.Client

	keys atomic.Pointer[keySet]
	// fetchMu makes one request fetch while the others wait for its result.
	fetchMu   sync.Mutex
	jwksURL   string    // from the discovery document, once fetched
	lastFetch time.Time // the last attempt to fetch the key set
	lastErr   error     // its error

	cache auth.TokenCache
}

// keySet is one fetch of the issuer's signing keys.
type keySet struct {
	byKid   map[string]*rsa.PublicKey
	noKid   *rsa.PublicKey // the first key without a kid, for tokens without one
	fetched time.Time
}

// New returns a verifier for cfg. It fetches nothing: see Warm.
func New(cfg Config) (*Verifier, error) {
	if cfg.DiscoveryURL == "" {
		return nil, errors.New("oidc: auth_discovery_url is required")
	}
	if cfg.JWKSLifespan <= 0 {
		cfg.JWKSLifespan = 300 * time.Second
	}
	if cfg.JWKSTimeout <= 0 {
		cfg.JWKSTimeout = 10 * time.Second
	}
	if cfg.RefreshCooldown <= 0 {
		cfg.RefreshCooldown = 5 * time.Second
	}
	if cfg.CacheEntries <= 0 {
		cfg.CacheEntries = 65536
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{cfg: cfg, client: cfg.HTTPClient}
	if v.client == nil {
		c, err := newHTTPClient(cfg.InsecureSkipVerify, cfg.CACertPath, cfg.JWKSTimeout)
		if err != nil {
			return nil, err
		}
		v.client = c
	}
	v.cache.Init(cfg.CacheEntries)
	return v, nil
}

// newHTTPClient is a client for the IdP with Feast's TLS options:
// verify_ssl false skips verification; a CA bundle that does not exist is
// ignored, as Feast ignores it.
func newHTTPClient(insecure bool, caPath string, timeout time.Duration) (*http.Client, error) {
	var pem []byte
	if !insecure && caPath != "" {
		b, err := os.ReadFile(caPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("oidc: ca_cert_path: %w", err)
		}
		pem = b
	}
	c, err := auth.HTTPClient(pem, insecure, timeout)
	if err != nil {
		return nil, fmt.Errorf("oidc: ca_cert_path %s %w", caPath, err)
	}
	return c, nil
}

// Warm fetches the discovery document and the key set now, so that the
// first request does not wait for them; an error is worth a warning only,
// since requests fetch again.
func (v *Verifier) Warm(ctx context.Context) error {
	_, err := v.keySet(ctx, "", false)
	return err
}

// Remembered returns the user of a token verified before and not yet
// expired, without any other check (auth.Remembering).
func (v *Verifier) Remembered(token string) (*auth.User, bool) {
	u := v.cache.Get(token, v.cfg.Now())
	return u, u != nil
}

var _ auth.Remembering = (*Verifier)(nil)

// Authenticate verifies token and returns its user.
func (v *Verifier) Authenticate(ctx context.Context, token string) (*auth.User, error) {
	now := v.cfg.Now()
	if u := v.cache.Get(token, now); u != nil {
		return u, nil
	}
	u, until, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if limit := now.Add(v.cfg.JWKSLifespan); until.IsZero() || until.After(limit) {
		// A key the issuer removes is trusted no longer than Feast trusts it.
		until = limit
	}
	v.cache.Put(token, u, until, now)
	return u, nil
}

// verify checks token in the order Feast's parser does.
func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (*auth.User, time.Time, error) {
	var zero time.Time
	tok, err := parse(token)
	if err != nil {
		return nil, zero, err
	}
	if v.cfg.IntraCommUser != "" {
		if name, ok := tok.claims["preferred_username"].(string); ok && name == v.cfg.IntraCommUser {
			return &auth.User{Name: name}, zero, nil
		}
	}
	if _, ok := tok.claims["kubernetes.io"].(map[string]any); ok {
		return nil, zero, auth.Unauthenticated("a Kubernetes service-account token: this server does not run Kubernetes TokenReviews in oidc mode")
	}
	kid, hasKid := tok.header["kid"]
	kidStr, _ := kid.(string)
	key, err := v.key(ctx, kidStr, hasKid && kid != nil)
	if err != nil {
		return nil, zero, err
	}
	if alg, _ := tok.header["alg"].(string); alg != "RS256" {
		return nil, zero, auth.Unauthenticated(fmt.Sprintf("the token's algorithm %q is not RS256", tok.header["alg"]))
	}
	sum := sha256.Sum256([]byte(tok.signed))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], tok.sig); err != nil {
		return nil, zero, auth.Unauthenticated("the token's signature does not verify")
	}
	until, err := v.checkClaims(tok.claims, now)
	if err != nil {
		return nil, zero, err
	}
	u, err := v.user(tok.claims)
	return u, until, err
}

// token is a JWT split and decoded, not yet verified.
type token struct {
	header, claims map[string]any
	signed         string // header.payload, what the signature covers
	sig            []byte
}

func parse(s string) (*token, error) {
	bad := func(why string) error { return auth.Unauthenticated("failed to decode the token: " + why) }
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 {
		return nil, bad("not enough segments")
	}
	signed, sigPart := s[:dot], s[dot+1:]
	hdrPart, payPart, ok := strings.Cut(signed, ".")
	if !ok {
		return nil, bad("not enough segments")
	}
	t := &token{signed: signed}
	var err error
	if t.header, err = segment(hdrPart); err != nil {
		return nil, bad("invalid header: " + err.Error())
	}
	if t.claims, err = segment(payPart); err != nil {
		return nil, bad("invalid payload: " + err.Error())
	}
	if t.sig, err = b64(sigPart); err != nil {
		return nil, bad("invalid crypto padding")
	}
	return t, nil
}

func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// segment decodes one base64url JSON object of a token.
func segment(s string) (map[string]any, error) {
	raw, err := b64(s)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, errors.New("not JSON")
	}
	if d.More() {
		return nil, errors.New("not one JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("must be a JSON object")
	}
	return m, nil
}

// checkClaims validates the registered claims PyJWT validates, and
// returns the token's expiry (zero when it has none).
func (v *Verifier) checkClaims(c map[string]any, now time.Time) (time.Time, error) {
	var until time.Time
	n := float64(now.UnixNano()) / 1e9
	leeway := Leeway.Seconds()
	if raw, ok := c["iat"]; ok {
		iat, ok := pyInt(raw)
		if !ok {
			return until, auth.Unauthenticated("issued at claim (iat) must be an integer")
		}
		if iat > n+leeway {
			return until, auth.Unauthenticated("the token is not yet valid (iat)")
		}
	}
	if raw, ok := c["nbf"]; ok {
		nbf, ok := pyInt(raw)
		if !ok {
			return until, auth.Unauthenticated("not before claim (nbf) must be an integer")
		}
		if nbf > n+leeway {
			return until, auth.Unauthenticated("the token is not yet valid (nbf)")
		}
	}
	if raw, ok := c["exp"]; ok {
		exp, ok := pyInt(raw)
		if !ok {
			return until, auth.Unauthenticated("expiration time claim (exp) must be an integer")
		}
		if exp <= n-leeway {
			return until, auth.Unauthenticated("the token has expired")
		}
		if exp < float64(math.MaxInt64/1e9) {
			until = time.Unix(int64(exp), 0).Add(Leeway)
		}
	}
	if v.cfg.Issuer != nil {
		raw, ok := c["iss"]
		if !ok || raw == nil {
			return until, auth.Unauthenticated("the token has no iss claim")
		}
		if iss, ok := raw.(string); !ok || iss != *v.cfg.Issuer {
			return until, auth.Unauthenticated("the token's issuer is not the configured one")
		}
	}
	if v.cfg.Audience != nil {
		if err := checkAudience(c, *v.cfg.Audience); err != nil {
			return until, err
		}
	}
	if raw, ok := c["sub"]; ok {
		if _, ok := raw.(string); !ok {
			return until, auth.Unauthenticated("subject (sub) must be a string")
		}
	}
	if raw, ok := c["jti"]; ok {
		if _, ok := raw.(string); !ok {
			return until, auth.Unauthenticated("JWT ID (jti) must be a string")
		}
	}
	return until, nil
}

// checkAudience is PyJWT's non-strict audience check.
func checkAudience(c map[string]any, want string) error {
	raw, ok := c["aud"]
	if !ok || raw == nil {
		return auth.Unauthenticated("the token has no aud claim")
	}
	var auds []string
	switch a := raw.(type) {
	case string:
		auds = []string{a}
	case []any:
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return auth.Unauthenticated("invalid claim format in token (aud)")
			}
			auds = append(auds, s)
		}
	default:
		return auth.Unauthenticated("invalid claim format in token (aud)")
	}
	for _, a := range auds {
		if a == want {
			return nil
		}
	}
	return auth.Unauthenticated("the token's audience does not include the configured one")
}

// pyInt is Python's int() of a JSON value, as PyJWT applies it to the
// time claims: numbers truncate, integer strings parse, booleans are 0 or 1.
func pyInt(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return float64(i), true
		}
		if b, ok := new(big.Int).SetString(x.String(), 10); ok {
			f, _ := new(big.Float).SetInt(b).Float64()
			return f, true
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false
		}
		return math.Trunc(f), true
	case string:
		s := strings.TrimLeft(strings.TrimSpace(x), "+-")
		if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
			return 0, false
		}
		b, ok := new(big.Int).SetString(strings.ReplaceAll(strings.TrimSpace(x), "_", ""), 10)
		if !ok {
			return 0, false
		}
		f, _ := new(big.Float).SetInt(b).Float64()
		return f, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// user derives the user as Feast's parser does.
func (v *Verifier) user(c map[string]any) (*auth.User, error) {
	u := &auth.User{}
	found := false
	for _, claim := range []string{"preferred_username", "upn", "azp", "appid", "sub"} {
		if s, ok := c[claim].(string); ok {
			u.Name, found = s, true
			break
		}
	}
	if !found {
		return nil, auth.Unauthenticated("missing username claim in access token: expected one of preferred_username, upn, azp, appid or sub")
	}
	var roles []string
	if v.cfg.ClientID != "" {
		if ra, ok := c["resource_access"].(map[string]any); ok {
			if cl, ok := ra[v.cfg.ClientID].(map[string]any); ok {
				roles = strings1(cl["roles"])
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range append(roles, strings1(c["roles"])...) {
		if !seen[r] {
			seen[r] = true
			u.Roles = append(u.Roles, r)
		}
	}
	u.Groups = strings1(c["groups"])
	return u, nil
}

// strings1 is the strings of a claim that is a list; anything else is
// none, as Feast defaults a claim of the wrong type to an empty list. A
// member that is not a string could never equal a policy's role or group.
func strings1(v any) []string {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// key returns the public key a token names, fetching the key set when it
// is missing, stale, or (at most every RefreshCooldown) lacks the kid.
func (v *Verifier) key(ctx context.Context, kid string, hasKid bool) (*rsa.PublicKey, error) {
	// A fetch serves every request waiting for it: one caller going away
	// does not cancel it.
	ks, err := v.keySet(context.WithoutCancel(ctx), kid, hasKid)
	if err != nil {
		return nil, err
	}
	if k := ks.lookup(kid, hasKid); k != nil {
		return k, nil
	}
	if hasKid {
		return nil, auth.Unauthenticated(fmt.Sprintf("unable to find a signing key that matches kid %q", kid))
	}
	return nil, auth.Unauthenticated("the token names no key (kid) and the key set has no key without one")
}

func (ks *keySet) lookup(kid string, hasKid bool) *rsa.PublicKey {
	if ks == nil {
		return nil
	}
	if !hasKid {
		return ks.noKid
	}
	return ks.byKid[kid]
}

// keySet returns a usable key set: the current one when it is fresh and
// holds the kid, else one fetched now (one request fetches while others
// wait for it).
func (v *Verifier) keySet(ctx context.Context, kid string, hasKid bool) (*keySet, error) {
	fresh := func(ks *keySet, now time.Time) bool {
		return ks != nil && now.Sub(ks.fetched) < v.cfg.JWKSLifespan
	}
	now := v.cfg.Now()
	if ks := v.keys.Load(); fresh(ks, now) && ks.lookup(kid, hasKid) != nil {
		return ks, nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	now = v.cfg.Now()
	ks := v.keys.Load()
	if fresh(ks, now) && ks.lookup(kid, hasKid) != nil {
		return ks, nil // fetched while this request waited
	}
	if !v.lastFetch.IsZero() && now.Sub(v.lastFetch) < v.cfg.RefreshCooldown {
		// Fetched (or failed to) moments ago: an unknown kid stays
		// unknown, and an issuer that is down is not called once per
		// request.
		if ks == nil {
			return nil, core.Unavailable(v.lastErr, "the OIDC identity provider could not be reached to verify the token")
		}
		return ks, nil
	}
	v.lastFetch = now
	fetched, err := v.fetch(ctx)
	v.lastErr = err
	if err != nil {
		if ks != nil {
			return ks, nil // the issuer is down: its last keys still verify
		}
		return nil, core.Unavailable(err, "the OIDC identity provider could not be reached to verify the token")
	}
	fetched.fetched = now
	v.keys.Store(fetched)
	return fetched, nil
}

// fetch reads the discovery document (once) and the key set.
func (v *Verifier) fetch(ctx context.Context) (*keySet, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.JWKSTimeout)
	defer cancel()
	if v.jwksURL == "" {
		var doc struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := v.getJSON(ctx, v.cfg.DiscoveryURL, &doc); err != nil {
			return nil, fmt.Errorf("discovery document %s: %w", v.cfg.DiscoveryURL, err)
		}
		if doc.JWKSURI == "" {
			return nil, fmt.Errorf("discovery document %s has no jwks_uri", v.cfg.DiscoveryURL)
		}
		v.jwksURL = doc.JWKSURI
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.getJSON(ctx, v.jwksURL, &set); err != nil {
		return nil, fmt.Errorf("key set %s: %w", v.jwksURL, err)
	}
	return parseKeys(set.Keys), nil
}

func (v *Verifier) getJSON(ctx context.Context, url string, out any) error {
	return fetchJSON(ctx, v.client, http.MethodGet, url, nil, 4<<20, out)
}

// fetchJSON sends one request to the identity provider and decodes its JSON
// answer, reading at most limit bytes. A non-200 answer is an error carrying
// the IdP's OAuth error code and description when it sends them (e.g.
// invalid_grant), never the body itself, so a token is not echoed.
func fetchJSON(ctx context.Context, client *http.Client, method, url string, form io.Reader, limit int64, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, form)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("status %s: %s %s", resp.Status, e.Error, e.Description)
		}
		return fmt.Errorf("status %s", resp.Status)
	}
	return json.Unmarshal(b, out)
}

// parseKeys keeps the RSA signing keys of a JWK set; keys for encryption,
// of another type or that do not parse are left out, as PyJWT leaves them.
func parseKeys(raw []json.RawMessage) *keySet {
	ks := &keySet{byKid: map[string]*rsa.PublicKey{}}
	for _, r := range raw {
		var k struct {
			Kty string  `json:"kty"`
			Use *string `json:"use"`
			Kid *string `json:"kid"`
			N   string  `json:"n"`
			E   string  `json:"e"`
		}
		if json.Unmarshal(r, &k) != nil || k.Kty != "RSA" || (k.Use != nil && *k.Use != "sig") {
			continue
		}
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			continue
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.E < 2 || pub.N.BitLen() < 1024 {
			continue
		}
		if k.Kid == nil {
			if ks.noKid == nil {
				ks.noKid = pub
			}
			continue
		}
		if _, dup := ks.byKid[*k.Kid]; !dup {
			ks.byKid[*k.Kid] = pub
		}
	}
	return ks
}
