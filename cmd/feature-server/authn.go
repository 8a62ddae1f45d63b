package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/auth/kubernetes"
	"github.com/feastgo/feastgo/auth/oidc"
	"github.com/feastgo/feastgo/config"
)

// newAuthenticator returns the token verifier the repo's auth block asks
// for; nil for no_auth, where nothing is checked. A server configured for
// an auth type it cannot enforce refuses to start rather than serve
// everyone.
func newAuthenticator(ctx context.Context, cfg *config.RepoConfig, log *slog.Logger) (auth.Authenticator, error) {
	switch cfg.Auth.Type {
	case "", "no_auth":
		return nil, nil
	case "oidc":
		o := cfg.Auth.OIDC
		if o.DiscoveryURL == "" {
			return nil, errors.New("auth.auth_discovery_url: required for the server to verify tokens (this auth block holds only client credentials)")
		}
		v, err := oidc.New(oidc.Config{DiscoveryURL: o.DiscoveryURL, ClientID: o.ClientID, InsecureSkipVerify: !o.VerifySSL,
			CACertPath: o.CACertPath, Audience: o.Audience, Issuer: o.Issuer, JWKSLifespan: o.JWKSLifespan, JWKSTimeout: o.JWKSTimeout,
			IntraCommUser: os.Getenv("INTRA_COMMUNICATION_BASE64")})
		if err != nil {
			return nil, err
		}
		// Fetch the issuer's keys now, so the first request does not wait;
		// an issuer that is down is retried by the requests.
		wctx, cancel := context.WithTimeout(ctx, min(o.JWKSTimeout, 5*time.Second))
		defer cancel()
		if err := v.Warm(wctx); err != nil {
			log.Warn("auth: the OIDC identity provider could not be reached; requests will retry", "auth_discovery_url", o.DiscoveryURL, "err", err)
		} else {
			log.Info("auth: verifying OIDC bearer tokens", "auth_discovery_url", o.DiscoveryURL, "client_id", o.ClientID)
		}
		return v, nil
	case "kubernetes":
		kc, err := kubernetes.InCluster()
		if err != nil {
			return nil, err
		}
		r, err := kubernetes.New(kc)
		if err != nil {
			return nil, err
		}
		// A server that cannot review tokens would refuse everyone: say so
		// now, but start, as the API server may come back.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := r.Ping(wctx); err != nil {
			log.Warn("auth: the Kubernetes API server could not review this server's own token; requests will retry", "api_server", kc.Host, "err", err)
		} else {
			log.Info("auth: reviewing Kubernetes bearer tokens", "api_server", kc.Host, "namespace", kc.Namespace)
		}
		return r, nil
	}
	return nil, errors.New("auth.type: " + cfg.Auth.Type + " is not one of no_auth, kubernetes, oidc")
}
