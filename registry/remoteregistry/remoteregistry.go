// Package remoteregistry reads the registry from a running registry server
// (`registry_type: remote`): Feast's `feast serve_registry`, or this
// project's own. The List RPCs of feast.registry.RegistryServer give the
// project's objects, assembled into one feast.core.Registry, which the registry
// package compiles as it compiles a registry file; a refresh does the same
// calls again, and a failed one keeps the snapshot in force.
//
// The channel is set up as Feast's RemoteRegistry sets up its own:
// plaintext, or TLS when cert or is_tls is set (the CA from cert, else
// SSL_CERT_FILE or REQUESTS_CA_BUNDLE), mutual TLS with client_cert and
// client_key, and authority overriding :authority.
//
// It imports only registry and the generated protos; the wiring (cmd/)
// picks it.
package remoteregistry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
	"github.com/feastgo/feastgo/registry"
)

// Config is the remote registry block of feature_store.yaml.
type Config struct {
	// Target is registry.path: a gRPC target such as host:6570.
	Target string
	// Cert is a CA certificate file; setting it turns TLS on.
	Cert string
	// IsTLS turns TLS on with the CA from SSL_CERT_FILE or REQUESTS_CA_BUNDLE.
	IsTLS bool
	// ClientCert and ClientKey, both or neither, authenticate us (mutual TLS).
	ClientCert, ClientKey string
	// Authority overrides the :authority header (and the TLS server name).
	Authority string
	// Project is the feature_store.yaml project whose objects are read.
	Project string
	// Timeout bounds one fetch; 0 means DefaultTimeout.
	Timeout time.Duration
	// Tokens, when set, gives the bearer token of every call, as Feast's
	// client sends one when auth is configured.
	Tokens Tokens
}

// Tokens gives each call's bearer token; Invalidate drops one the server
// refused (UNAUTHENTICATED), so the next call gets a fresh one.
type Tokens interface {
	Token(ctx context.Context) (string, error)
	Invalidate()
}

// bearer puts the token in every call's authorization metadata, over
// plaintext too (as Feast's GrpcClientAuthHeaderInterceptor does).
type bearer struct{ t Tokens }

func (b bearer) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	tok, err := b.t.Token(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// invalidateRefused drops the token after a call the server answered
// UNAUTHENTICATED.
func invalidateRefused(t Tokens) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if status.Code(err) == codes.Unauthenticated {
			t.Invalidate()
		}
		return err
	}
}

// DefaultTimeout bounds one Proto call when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Source is a registry served over gRPC.
type Source struct {
	conn    *grpc.ClientConn
	client  registrypb.RegistryServerClient
	target  string
	project string
	timeout time.Duration
}

var _ registry.Source = (*Source)(nil)

// Open sets up the channel to the registry server. It does not connect:
// the first Fetch does, and reports a server that is down.
func Open(cfg Config) (*Source, error) {
	if cfg.Target == "" {
		return nil, errors.New("registry.path: required for registry_type remote (the registry server's host:port)")
	}
	creds, err := transportCredentials(cfg)
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1 << 30))}
	if cfg.Authority != "" {
		opts = append(opts, grpc.WithAuthority(cfg.Authority))
	}
	if cfg.Tokens != nil {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{cfg.Tokens}), grpc.WithUnaryInterceptor(invalidateRefused(cfg.Tokens)))
	}
	conn, err := grpc.NewClient(cfg.Target, opts...)
	if err != nil {
		return nil, fmt.Errorf("registry.path %q: %w", cfg.Target, err)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Source{conn: conn, client: registrypb.NewRegistryServerClient(conn), target: cfg.Target,
		project: cfg.Project, timeout: timeout}, nil
}

// transportCredentials follows Feast's _create_grpc_channel.
func transportCredentials(cfg Config) (credentials.TransportCredentials, error) {
	if cfg.Cert == "" && !cfg.IsTLS {
		return insecure.NewCredentials(), nil
	}
	caFile, field := cfg.Cert, "registry.cert"
	for _, env := range []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"} {
		if caFile == "" {
			caFile, field = os.Getenv(env), env
		}
	}
	if caFile == "" {
		return nil, errors.New("registry.is_tls: TLS needs a CA certificate: set registry.cert, or SSL_CERT_FILE or REQUESTS_CA_BUNDLE")
	}
	if (cfg.ClientCert == "") != (cfg.ClientKey == "") {
		return nil, errors.New("registry.client_cert, registry.client_key: mutual TLS needs both; only one is set")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", field, caFile)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: cfg.Authority}
	if cfg.ClientCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.ClientCert, cfg.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("registry.client_cert, registry.client_key: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(tc), nil
}

// Fetch assembles the project's registry from the server's List RPCs
// (entities, data sources, views of every kind, feature services,
// permissions, projects and project metadata) and returns it serialized.
// Feast's server answers with its Python objects' to_proto(), which leaves
// spec.project empty, so each object is given the project it was listed
// for. The first call asks the server to reload (allow_cache false); the
// others read the registry it then holds.
func (s *Source) Fetch(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	reg, err := s.fetch(ctx)
	if err != nil {
		return nil, describe(err)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(reg)
}

func (s *Source) fetch(ctx context.Context) (*corepb.Registry, error) {
	c, p := s.client, s.project
	reg := &corepb.Registry{RegistrySchemaVersion: "1"}
	projects, err := c.ListProjects(ctx, &registrypb.ListProjectsRequest{})
	if err != nil {
		return nil, err
	}
	reg.Projects = projects.GetProjects()
	meta, err := c.ListProjectMetadata(ctx, &registrypb.ListProjectMetadataRequest{Project: p, AllowCache: true})
	if err != nil {
		return nil, err
	}
	reg.ProjectMetadata = meta.GetProjectMetadata()
	ents, err := c.ListEntities(ctx, &registrypb.ListEntitiesRequest{Project: p, AllowCache: true})
	if err != nil {
		return nil, err
	}
	for _, e := range ents.GetEntities() {
		spec(e.Spec, &e.Spec).Project = p
	}
	reg.Entities = ents.GetEntities()
	srcs, err := c.ListDataSources(ctx, &registrypb.ListDataSourcesRequest{Project: p, AllowCache: true})
	if err != nil {
		return nil, err
	}
	for _, d := range srcs.GetDataSources() {
		d.Project = p
	}
	reg.DataSources = srcs.GetDataSources()
	fvs, err := c.ListFeatureViews(ctx, &registrypb.ListFeatureViewsRequest{Project: p, AllowCache: true})
	if err != nil {
		return nil, err
	}
	for _, v := range fvs.GetFeatureViews() {
		spec(v.Spec, &v.Spec).Project = p
	}
	reg.FeatureViews = fvs.GetFeatureViews()
	sfvs, err := c.ListStreamFeatureViews(ctx, &registrypb.ListStreamFeatureViewsRequest{Project: p, AllowCache: true})
	if err != nil {
		return nil, err
	}
	for _, v := range sfvs.GetStreamFeatureViews() {
		spec(v.Spec, &v.Spec).Project = p
	}
	reg.StreamFeatureViews = sfvs.GetStreamFeatureViews()
	odfvs, err := c.ListOnDemandFeatureViews(ctx, &registrypb.ListOnDemandFeatureViewsRequest{Project: p, AllowCache: true})
	if err != nil {
		return nil, err
	}
	for _, v := range odfvs.GetOnDemandFeatureViews() {
		spec(v.Spec, &v.Spec).Project = p
	}
	reg.OnDemandFeatureViews = odfvs.GetOnDemandFeatureViews()
	svcs, err := c.ListFeatureServices(ctx, &registrypb.ListFeatureServicesRequest{Project: p, AllowCache: true})
	if err != nil {
		return nil, err
	}
	for _, v := range svcs.GetFeatureServices() {
		spec(v.Spec, &v.Spec).Project = p
	}
	reg.FeatureServices = svcs.GetFeatureServices()
	return reg, nil
}

// spec returns *field, created when the server sent none.
func spec[T any](cur *T, field **T) *T {
	if cur == nil {
		*field = new(T)
	}
	return *field
}

// describe says what a failed call means for the operator.
func describe(err error) error {
	switch status.Code(err) {
	case codes.Unavailable:
		return fmt.Errorf("registry server unreachable: %w", err)
	case codes.DeadlineExceeded:
		return fmt.Errorf("registry server did not answer in time: %w", err)
	case codes.Unimplemented:
		return fmt.Errorf("not a feast.registry.RegistryServer (no Proto RPC): %w", err)
	}
	return err
}

// Location is the server's target.
func (s *Source) Location() string { return "grpc://" + s.target }

// Close closes the channel.
func (s *Source) Close() error { return s.conn.Close() }
