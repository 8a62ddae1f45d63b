// Package remoteregistry reads the registry from a running registry server
// (`registry_type: remote`): Feast's `feast serve_registry`, or this
// project's own. One Proto RPC of feast.registry.RegistryServer returns the
// whole feast.core.Registry, every project's objects, which the registry
// package compiles as it compiles a registry file; a refresh is one more
// call, and a failed one keeps the snapshot in force.
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
	"google.golang.org/protobuf/types/known/emptypb"

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
	// Timeout bounds one fetch; 0 means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout bounds one Proto call when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Source is a registry served over gRPC.
type Source struct {
	conn    *grpc.ClientConn
	target  string
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
	conn, err := grpc.NewClient(cfg.Target, opts...)
	if err != nil {
		return nil, fmt.Errorf("registry.path %q: %w", cfg.Target, err)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Source{conn: conn, target: cfg.Target, timeout: timeout}, nil
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

// Fetch asks the server for the whole registry (the Proto RPC) and returns
// it as it came over the wire: the bytes are not decoded here, so an
// unchanged registry is recognized without compiling it again.
func (s *Source) Fetch(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var out rawMessage
	err := s.conn.Invoke(ctx, registrypb.RegistryServer_Proto_FullMethodName, &emptypb.Empty{}, &out,
		grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return nil, describe(err)
	}
	return out, nil
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

// rawMessage receives a response's bytes undecoded.
type rawMessage []byte

// rawCodec encodes requests as protobuf and hands responses over as bytes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("remoteregistry: cannot encode %T", v)
	}
	return proto.Marshal(m)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	out, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("remoteregistry: cannot decode into %T", v)
	}
	*out = append((*out)[:0], data...)
	return nil
}

// Name keeps the content type application/grpc+proto.
func (rawCodec) Name() string { return "proto" }
