package main

import (
	"context"
	"fmt"

	"github.com/feastgo/feastgo/auth/kubernetes"
	"github.com/feastgo/feastgo/auth/oidc"
	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/registry/remoteregistry"
	"github.com/feastgo/feastgo/registry/sqlregistry"
)

// openRegistrySource picks the registry store feature_store.yaml names:
// a file or object (local, s3://, gs://) for registry_type file, Feast's
// SQL registry tables for registry_type sql, a registry server
// (feast serve_registry) for registry_type remote. close releases its
// connections; call it after everything that reads the registry stopped.
func openRegistrySource(ctx context.Context, cfg *config.RepoConfig) (src registry.Source, close func(), err error) {
	switch cfg.Registry.RegistryType {
	case "", "file":
		src, err := registry.NewSource(ctx, cfg.Registry.Path, cfg.RepoDir)
		return src, func() {}, err
	case "sql":
		s, err := sqlregistry.Open(ctx, sqlregistry.Options{Path: cfg.Registry.Path, ReadPath: cfg.Registry.SQL.ReadPath, Project: cfg.Project})
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case "remote":
		rc := remoteregistry.Config{Target: cfg.Registry.Path, Project: cfg.Project}
		if r := cfg.Registry.Remote; r != nil {
			rc.Cert, rc.IsTLS, rc.ClientCert, rc.ClientKey, rc.Authority = r.Cert, r.IsTLS, r.ClientCert, r.ClientKey, r.Authority
		}
		switch cfg.Auth.Type {
		case "oidc":
			ts, err := registryTokens(cfg)
			if err != nil {
				return nil, nil, err
			}
			rc.Tokens = ts
		case "kubernetes":
			rc.Tokens = &kubernetes.TokenSource{UserToken: cfg.Auth.KubernetesUserToken}
		}
		s, err := remoteregistry.Open(rc)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close() }, nil
	default:
		return nil, nil, fmt.Errorf("registry.registry_type: %q is not supported by this server (file, sql and remote are)", cfg.Registry.RegistryType)
	}
}

// registryTokens is the token source of our calls to a registry server
// when auth is oidc: the auth block's client keys, as Feast's client uses
// them.
func registryTokens(cfg *config.RepoConfig) (*oidc.TokenSource, error) {
	o := cfg.Auth.OIDC
	return oidc.NewTokenSource(oidc.ClientConfig{DiscoveryURL: o.DiscoveryURL, ClientID: o.ClientID,
		InsecureSkipVerify: !o.VerifySSL, CACertPath: o.CACertPath, Username: o.Client.Username, Password: o.Client.Password,
		ClientSecret: o.Client.ClientSecret, Token: o.Client.Token, TokenEnvVar: o.Client.TokenEnvVar,
		RefreshMargin: o.Client.RefreshMargin, Timeout: o.JWKSTimeout})
}
