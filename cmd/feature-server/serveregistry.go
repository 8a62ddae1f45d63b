package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
	"github.com/feastgo/feastgo/server/registryserver"
)

const serveRegistryUsage = `usage: feature-server [-c REPO] serve_registry [options]

Serves feast.registry.RegistryServer (gRPC, with health and reflection) from
the repository's registry, as feast serve_registry does.

  -p, --port N       port (default 6570)
  -h, --host HOST    address to bind (default ::)
  -k, --key FILE     TLS private key (with --cert)
  -c, --cert FILE    TLS certificate (with --key); both reloaded when
                     the files change
  --grpc/--no-grpc   the gRPC server is the only one this server has
  -r, --rest-api     not supported (Feast's REST registry API)
  --rest-port N      accepted, unused
` + tlsUsage

type serveRegistryArgs struct {
	port, restPort  int
	host            string
	tls             tlsFlags
	grpcOn, restAPI bool
}

func parseServeRegistryArgs(args []string) (serveRegistryArgs, error) {
	a := serveRegistryArgs{port: 6570, restPort: 6572, host: "::", grpcOn: true}
	var fs optionSet
	fs.integer(&a.port, "--port", "-p")
	fs.integer(&a.restPort, "--rest-port")
	fs.str(&a.host, "--host", "-h")
	a.tls.register(&fs)
	fs.boolPair(&a.grpcOn, "--grpc", "--no-grpc")
	fs.flag(&a.restAPI, "--rest-api", "-r")
	fs.help()
	rest, err := fs.parse(args)
	if err != nil {
		return a, err
	}
	switch {
	case len(rest) > 0:
		return a, fmt.Errorf("serve_registry takes no arguments, got %q", rest[0])
	case a.restAPI || !a.grpcOn:
		return a, errors.New("--rest-api, --no-grpc: only the gRPC registry server is supported")
	}
	return a, a.tls.check()
}

// runServeRegistry serves the registry until ctx is done; the registry is
// refreshed every registry.cache_ttl_seconds (0: only on Refresh calls).
func runServeRegistry(ctx context.Context, repo, yamlPath string, args []string, log *slog.Logger, stdout, stderr io.Writer) error {
	a, err := parseServeRegistryArgs(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, serveRegistryUsage)
		return nil
	}
	if err != nil {
		fmt.Fprint(stderr, serveRegistryUsage)
		return err
	}
	cfg, err := config.Load(repo, yamlPath)
	if err != nil {
		return err
	}
	src, closeRegistry, err := openRegistrySource(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeRegistry()
	// As feast serve_registry: a registry file not there yet starts empty,
	// for clients to apply into.
	if created, err := registry.CreateIfMissing(ctx, src, time.Now()); err != nil {
		return err
	} else if created {
		log.Info("the registry file did not exist: created an empty registry", "path", src.Location())
	}
	reg, err := registry.Open(ctx, src, registry.Options{Project: cfg.Project,
		RefreshInterval: time.Duration(max(cfg.Registry.CacheTTLSeconds, 0)) * time.Second, Logger: log})
	if err != nil {
		return err
	}
	authn, err := newAuthenticator(ctx, cfg, log)
	if err != nil {
		return err
	}
	tlsSrc, err := a.tls.source(log)
	if err != nil {
		return err
	}
	// TLS (certificates reloaded on change), then the client certificate
	// and token checks, as on serve's listeners.
	opts := append(grpcTLS(tlsSrc), server.AccessGRPCOptions(log, false)...) // request ids; no access log, as feast serve_registry
	if a.tls.perRequestClientCert() {
		opts = append(opts, server.ClientCertGRPCOptions()...)
	}
	opts = append(opts, server.AuthGRPCOptions(authn)...)
	lis, err := net.Listen("tcp", net.JoinHostPort(a.host, strconv.Itoa(a.port)))
	if err != nil {
		return err
	}
	gs := grpc.NewServer(append(opts, grpc.MaxSendMsgSize(1<<30))...)
	registryserver.Register(gs, registryserver.New(reg))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	refreshed := make(chan error, 1)
	go func() { refreshed <- reg.Run(ctx) }()
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("registry server listening", "addr", lis.Addr().String(), "registry", src.Location())
	select {
	case <-ctx.Done():
		gs.GracefulStop()
		<-served
	case err = <-served:
	}
	cancel()
	<-refreshed
	return err
}
