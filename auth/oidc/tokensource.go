package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/feastgo/feastgo/auth"
)

// ServiceAccountTokenPath is where Kubernetes mounts a pod's token, the
// last source Feast's OIDC client tries.
const ServiceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// ClientConfig is the client side of Feast's OIDC auth block: what a
// server presents on its own outbound calls (to a registry server).
type ClientConfig struct {
	// DiscoveryURL, ClientID, InsecureSkipVerify and CACertPath as in Config.
	DiscoveryURL       string
	ClientID           string
	InsecureSkipVerify bool
	CACertPath         string
	// Username and Password, with ClientSecret, ask for the password grant;
	// ClientSecret alone for the client-credentials grant.
	Username, Password, ClientSecret string
	// Token is a fixed token; TokenEnvVar names a variable holding one.
	Token, TokenEnvVar string
	// RefreshMargin: an IdP token is fetched again this long before it
	// expires (default 30 s).
	RefreshMargin time.Duration
	// Timeout bounds each request to the IdP (default 10 s).
	Timeout time.Duration
	// Getenv and ReadFile read the environment and the service-account
	// token (tests); os.Getenv and os.ReadFile by default.
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	// Now is the clock (tests).
	Now func() time.Time
}

// TokenSource gives the bearer token of each outbound call in the order
// Feast 0.67's OidcAuthClientManager.get_token tries its sources:
// INTRA_COMMUNICATION_BASE64 (an unsigned token naming the servers' own
// user), token, token_env_var, the IdP (client_secret), FEAST_OIDC_TOKEN,
// the service-account token file. An IdP token is kept until
// RefreshMargin before its expiry, so the IdP is asked once per token
// lifetime, not per call. Safe for concurrent use; starts no goroutine.
type TokenSource struct {
	cfg    ClientConfig
	client *http.Client

	mu       sync.Mutex // one fetch at a time; the others wait for it
	tokenURL string     // from the discovery document, once read
	cached   string
	expiry   time.Time // zero: the cached token's expiry is unknown, never reused
}

// NewTokenSource checks cfg and returns its token source; it fetches
// nothing until the first Token.
func NewTokenSource(cfg ClientConfig) (*TokenSource, error) {
	if cfg.RefreshMargin <= 0 {
		cfg.RefreshMargin = 30 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.ReadFile == nil {
		cfg.ReadFile = os.ReadFile
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClientSecret != "" && (cfg.DiscoveryURL == "" || cfg.ClientID == "") {
		return nil, errors.New("oidc: client_secret needs auth_discovery_url and client_id to fetch a token")
	}
	ts := &TokenSource{cfg: cfg}
	if cfg.ClientSecret != "" {
		c, err := newHTTPClient(cfg.InsecureSkipVerify, cfg.CACertPath, cfg.Timeout)
		if err != nil {
			return nil, err
		}
		ts.client = c
	}
	return ts, nil
}

// Token is the token of the next call.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	c := &ts.cfg
	if v := c.Getenv("INTRA_COMMUNICATION_BASE64"); v != "" {
		return auth.UnsignedToken(map[string]string{"preferred_username": v}), nil
	}
	switch {
	case c.Token != "":
		return c.Token, nil
	case c.TokenEnvVar != "":
		if v := c.Getenv(c.TokenEnvVar); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("auth.token_env_var: %s is configured but the environment variable is not set or is empty", c.TokenEnvVar)
	case c.ClientSecret != "":
		return ts.idpToken(ctx)
	}
	if v := c.Getenv("FEAST_OIDC_TOKEN"); v != "" {
		return v, nil
	}
	if b, err := c.ReadFile(ServiceAccountTokenPath); err == nil {
		if tok := strings.TrimSpace(string(b)); tok != "" {
			return tok, nil
		}
	}
	return "", errors.New("auth: no OIDC token source configured for the server's own calls: set one of token, token_env_var, " +
		"client_secret (with auth_discovery_url and client_id), the FEAST_OIDC_TOKEN or INTRA_COMMUNICATION_BASE64 " +
		"environment variable, or run in a pod with a service-account token")
}

// Invalidate drops a token the server refused, so the next call fetches a
// fresh one (Feast's invalidate_token).
func (ts *TokenSource) Invalidate() {
	ts.mu.Lock()
	ts.cached, ts.expiry = "", time.Time{}
	ts.mu.Unlock()
}

func (ts *TokenSource) idpToken(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := ts.cfg.Now()
	if ts.cached != "" && !ts.expiry.IsZero() && now.Before(ts.expiry.Add(-ts.cfg.RefreshMargin)) {
		return ts.cached, nil
	}
	ctx, cancel := context.WithTimeout(ctx, ts.cfg.Timeout)
	defer cancel()
	if ts.tokenURL == "" {
		var doc struct {
			TokenEndpoint string `json:"token_endpoint"`
		}
		if err := ts.getJSON(ctx, http.MethodGet, ts.cfg.DiscoveryURL, nil, &doc); err != nil {
			return "", fmt.Errorf("auth: discovery document %s: %w", ts.cfg.DiscoveryURL, err)
		}
		if doc.TokenEndpoint == "" {
			return "", fmt.Errorf("auth: discovery document %s has no token_endpoint", ts.cfg.DiscoveryURL)
		}
		ts.tokenURL = doc.TokenEndpoint
	}
	form := url.Values{"client_id": {ts.cfg.ClientID}, "client_secret": {ts.cfg.ClientSecret}}
	if ts.cfg.Username != "" && ts.cfg.Password != "" {
		form.Set("grant_type", "password")
		form.Set("username", ts.cfg.Username)
		form.Set("password", ts.cfg.Password)
	} else {
		form.Set("grant_type", "client_credentials")
	}
	var resp struct {
		AccessToken string   `json:"access_token"`
		ExpiresIn   *float64 `json:"expires_in"`
	}
	if err := ts.getJSON(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()), &resp); err != nil {
		return "", fmt.Errorf("auth: token request to %s (%s grant): %w", ts.tokenURL, form.Get("grant_type"), err)
	}
	if resp.AccessToken == "" {
		return "", fmt.Errorf("auth: the token response of %s has no access_token", ts.tokenURL)
	}
	// The token's own exp decides; else expires_in; else it is not reused.
	ts.cached, ts.expiry = resp.AccessToken, time.Time{}
	if exp, ok := expiryClaim(resp.AccessToken); ok {
		ts.expiry = exp
	} else if resp.ExpiresIn != nil {
		ts.expiry = now.Add(time.Duration(*resp.ExpiresIn * float64(time.Second)))
	}
	return resp.AccessToken, nil
}

func (ts *TokenSource) getJSON(ctx context.Context, method, u string, body io.Reader, out any) error {
	return fetchJSON(ctx, ts.client, method, u, body, 1<<20, out)
}

// expiryClaim reads a JWT's exp without verifying it (the server
// verifies), with the verifier's own segment decoding.
func expiryClaim(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	claims, err := segment(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	n, ok := claims["exp"].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	exp, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	sec := int64(exp)
	return time.Unix(sec, int64((exp-float64(sec))*1e9)), true
}
