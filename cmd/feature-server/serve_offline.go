package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
	"github.com/feastgo/feastgo/server/offline"
	"github.com/feastgo/feastgo/transformations"
	"github.com/feastgo/feastgo/transformations/worker"
)

const serveOfflineUsage = `usage: feature-server [-c REPO] serve_offline [options]

Feast's offline server (feast serve_offline): Arrow Flight for clients with
offline_store: {type: remote, host, port}.

  -h, --host TEXT             host (127.0.0.1)
  -p, --port INTEGER          port (8815)
  -k, --key TEXT              TLS private key file (with --cert; reloaded
                              when it changes)
  -c, --cert TEXT             TLS certificate file (with --key)
ours:
` + tlsUsage + `  -r, --registry_ttl_sec INT  seconds between registry refreshes (60; 0: never)
  --odfv-worker-python PATH   the Python with Feast for on-demand views that
                              need Python (the feast command's, else python3)
`

type serveOfflineFlags struct {
	host, python      string
	port, registryTTL int
	tls               tlsFlags
}

func parseServeOfflineArgs(args []string) (serveOfflineFlags, error) {
	f := serveOfflineFlags{host: "127.0.0.1", port: offline.DefaultPort, registryTTL: 60}
	fs := optionSet{}
	fs.str(&f.host, "--host", "-h")
	fs.integer(&f.port, "--port", "-p")
	f.tls.register(&fs)
	fs.integer(&f.registryTTL, "--registry_ttl_sec", "-r")
	fs.str(&f.python, "--odfv-worker-python")
	fs.help()
	pos, err := fs.parse(args)
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("got unexpected extra argument (%s)", strings.Join(pos, " "))
	}
	if err == nil && (f.tls.key == "") != (f.tls.cert == "") {
		err = errors.New("--key and --cert must be given together (Please pass --cert and --key args to start the offline server in TLS mode.)")
	}
	if err == nil {
		err = f.tls.check()
	}
	return f, err
}

// serveOffline runs feast serve_offline's server until ctx ends.
func serveOffline(ctx context.Context, repo, yamlPath string, args []string, log *slog.Logger, stdout, stderr io.Writer) error {
	f, err := parseServeOfflineArgs(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, serveOfflineUsage)
		return nil
	}
	if err != nil {
		fmt.Fprint(stderr, serveOfflineUsage)
		return err
	}
	cfg, err := config.Load(repo, yamlPath)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	authn, err := newAuthenticator(ctx, cfg, log)
	if err != nil {
		return err
	}
	src, closeRegistry, err := openRegistrySource(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeRegistry()
	reg, err := registry.Open(ctx, src, registry.Options{Project: cfg.Project, RefreshInterval: time.Duration(f.registryTTL) * time.Second,
		EnableVersioning: cfg.Registry.EnableOnlineFeatureViewVersioning, Logger: log})
	if err != nil {
		return err
	}
	tracing, stopTracing, err := newTracing(ctx, cfg.OnlineStore.Type, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	tlsSrc, err := f.tls.source(log)
	if err != nil {
		return err
	}
	scheme := "grpc+tcp"
	if tlsSrc != nil {
		scheme = "grpc+tls"
	}
	// TLS, a span per Flight call when OTEL_* asks, then the client
	// certificate and token checks.
	opts := append(grpcTLS(tlsSrc), tracing.GRPCOptions()...)
	opts = append(opts, server.AccessGRPCOptions(log, false)...) // request ids; no access log, as feast serve_offline
	if f.tls.perRequestClientCert() {
		opts = append(opts, server.ClientCertGRPCOptions()...)
	}
	opts = append(opts, server.AuthGRPCOptions(authn)...)
	ln, err := net.Listen("tcp", net.JoinHostPort(f.host, fmt.Sprint(f.port)))
	if err != nil {
		return err
	}
	defer ln.Close()
	cat := openOffline(cfg)
	defer cat.Close()
	return runOffline(ctx, offlineParts{cfg: cfg, yamlPath: yamlPath, reg: reg, catalog: cat, python: f.python,
		ln: ln, location: scheme + "://" + ln.Addr().String(), opts: opts, log: log})
}

// offlineParts is what the offline server needs, from serve_offline or
// from serve --offline-port.
type offlineParts struct {
	cfg      *config.RepoConfig
	yamlPath string
	reg      *registry.Registry
	catalog  offlinestore.Catalog
	python   string
	ln       net.Listener
	location string
	opts     []grpc.ServerOption
	log      *slog.Logger
	// transformer computes on-demand views; nil starts our own (and its
	// Python worker, lazily).
	transformer *transformations.Engine
	// noRegistryRun is set when the caller refreshes the registry itself.
	noRegistryRun bool
}

// runOffline serves the Flight service on p.ln until ctx ends or the
// server fails.
func runOffline(ctx context.Context, p offlineParts) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	odfvs := p.transformer
	if odfvs == nil {
		w := worker.New(worker.Options{Python: p.python, Repo: p.cfg.RepoDir, YAML: p.yamlPath, Log: p.log.With("component", "odfv-worker")})
		odfvs = transformations.New(transformations.Options{Endpoint: p.cfg.FeatureServer.TransformationServiceEndpoint,
			Project: p.cfg.Project, Worker: w, Log: p.log})
		defer odfvs.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = w.Run(ctx) // a worker that cannot start fails the requests that need it
		}()
	}
	srv := &offline.Server{Snapshot: p.reg.Current, Catalog: p.catalog, Location: p.location, Log: p.log, Repo: p.cfg.RepoDir,
		Historical: &historical.Retriever{Catalog: p.catalog, Transformer: odfvs}}
	defer srv.Close()
	g := offline.NewGRPCServer(srv, p.opts...)
	errc := make(chan error, 2)
	if !p.noRegistryRun {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- p.reg.Run(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.log.Info("serving Arrow Flight (offline server)", "location", p.location, "project", p.cfg.Project)
		errc <- g.Serve(p.ln)
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	stopGRPC(g, defaultDrainTimeout, p.log)
	return err
}

// stopGRPC stops g gracefully, cutting the calls still running after
// timeout.
func stopGRPC(g *grpc.Server, timeout time.Duration, log *slog.Logger) {
	stopped := make(chan struct{})
	go func() {
		g.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(timeout):
		log.Warn("offline server calls cut at shutdown", "timeout", timeout)
		g.Stop()
		<-stopped
	}
}
