package main

import (
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/feastgo/feastgo/internal/tlsfiles"
)

// tlsFlags are the TLS options of the serving commands: --key/--cert
// (Feast's) put every listener of the command on TLS; --client-ca asks
// clients for certificates that CA signed (mTLS).
type tlsFlags struct {
	key, cert, clientCA, clientCert string
}

const tlsUsage = `  --client-ca FILE            with --key/--cert: verify client certificates
                              against this CA bundle (mTLS)
  --client-cert MODE          require: no handshake without one (default);
                              if-given: health answers without one, the API
                              and every RPC but health refuse it (401 /
                              Unauthenticated)
`

func (t *tlsFlags) register(fs *optionSet) {
	fs.str(&t.key, "--key", "-k")
	fs.str(&t.cert, "--cert", "-c")
	fs.str(&t.clientCA, "--client-ca")
	fs.str(&t.clientCert, "--client-cert")
}

func (t *tlsFlags) check() error {
	switch {
	case (t.key == "") != (t.cert == ""):
		return errors.New("--key and --cert must be given together")
	case t.clientCA != "" && t.key == "":
		return errors.New("--client-ca: needs --key and --cert (client certificates are verified over TLS)")
	case t.clientCert != "" && t.clientCA == "":
		return errors.New("--client-cert: needs --client-ca")
	case t.clientCert != "" && t.clientCert != "require" && t.clientCert != "if-given":
		return fmt.Errorf("--client-cert %q: must be require or if-given", t.clientCert)
	}
	return nil
}

// source loads the files, nil without --key; the certificates are
// reloaded when the files change.
func (t *tlsFlags) source(log *slog.Logger) (*tlsfiles.Source, error) {
	if t.key == "" {
		return nil, nil
	}
	mode := tlsfiles.NoClientCert
	if t.clientCA != "" {
		mode = tlsfiles.RequireClientCert
		if t.clientCert == "if-given" {
			mode = tlsfiles.VerifyClientCertIfGiven
		}
	}
	src, err := tlsfiles.Load(tlsfiles.Files{Cert: t.cert, Key: t.key, ClientCA: t.clientCA, ClientAuth: mode,
		OnReloadError: func(err error) {
			log.Warn("TLS: changed certificate files could not be loaded; serving the last good ones", "err", err)
		}})
	if err != nil {
		return nil, fmt.Errorf("--cert/--key/--client-ca: %w", err)
	}
	return src, nil
}

// perRequestClientCert reports whether requests, rather than handshakes,
// must show a client certificate.
func (t *tlsFlags) perRequestClientCert() bool { return t.clientCert == "if-given" }

// grpcTLS is the gRPC server option serving src (none for nil).
func grpcTLS(src *tlsfiles.Source) []grpc.ServerOption {
	if src == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(src.Config("h2")))}
}
