package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	pgstore "github.com/feastgo/feastgo/onlinestore/postgres"
	redisstore "github.com/feastgo/feastgo/onlinestore/redis"
	sqlitestore "github.com/feastgo/feastgo/onlinestore/sqlite"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
	"github.com/feastgo/feastgo/transformations"
)

const usage = `usage: feature-server [-c REPO] [-f feature_store.yaml] COMMAND [flags]

commands:
  serve    serve Feast's HTTP API (and gRPC with --grpc-port), like "feast serve"
  materialize START END, materialize-incremental END   like feast's, from parquet or PostgreSQL
  version  print the version
`

// Run is the whole program: it parses feast-style arguments and runs the
// command until ctx is done.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	global := flag.NewFlagSet("feature-server", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() { fmt.Fprint(stderr, usage) }
	repo := global.String("c", ".", "repository directory (feast's --chdir)")
	global.StringVar(repo, "chdir", ".", "repository directory")
	yamlPath := global.String("f", "", "feature_store.yaml path (default REPO/feature_store.yaml)")
	global.StringVar(yamlPath, "feature-store-yaml", "", "feature_store.yaml path")
	logLevel := global.String("log-level", "info", "debug, info, warning or error")
	if err := global.Parse(args); err != nil {
		return err
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: parseLevel(*logLevel)}))
	switch rest[0] {
	case "serve":
		return serve(ctx, *repo, *yamlPath, rest[1:], log, stderr)
	case "materialize", "materialize-incremental":
		return runMaterialize(ctx, *repo, *yamlPath, rest[1:], rest[0] == "materialize-incremental", log, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "feature-server", server.Version)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", rest[0])
	}
}

func parseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warning", "warn":
		return slog.LevelWarn
	case "error", "critical":
		return slog.LevelError
	}
	return slog.LevelInfo
}

type serveFlags struct {
	host, key, cert, typ string
	port, grpcPort       int
	registryTTL          int
	maxBody              int64
}

// serveGCPercent is the collector's GOGC for `serve` when the environment
// sets none. A serving process keeps a live heap of a few megabytes while
// every request leaves a few kilobytes of garbage (net/http's included), so
// at Go's default of 100 the collector ran about ten times a second under
// load, and the requests that met its mark phase made the tail: at one
// connection, 1 x 3 features, p99 was 0.90-1.56 ms (median 1.42) at
// GOGC=100 and 0.40-0.74 ms (median 0.58) at 400, five paired runs each.
// The price is a heap of up to five times the live data. Batch commands
// (materialize), whose live heap is large, keep Go's default.
const serveGCPercent = 400

func serve(ctx context.Context, repo, yamlPath string, args []string, log *slog.Logger, stderr io.Writer) error {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	for _, n := range []string{"h", "host"} {
		fs.StringVar(&f.host, n, "127.0.0.1", "HTTP host")
	}
	for _, n := range []string{"p", "port"} {
		fs.IntVar(&f.port, n, 6566, "HTTP port")
	}
	for _, n := range []string{"t", "type"} {
		fs.StringVar(&f.typ, n, "http", "server type (http)")
	}
	for _, n := range []string{"r", "registry_ttl_sec"} {
		fs.IntVar(&f.registryTTL, n, 60, "seconds between registry refreshes (0: never)")
	}
	fs.IntVar(&f.grpcPort, "grpc-port", 0, "also serve gRPC ServingService on this port (0: off)")
	for _, n := range []string{"k", "key"} {
		fs.StringVar(&f.key, n, "", "TLS private key file")
	}
	for _, n := range []string{"c", "cert"} {
		fs.StringVar(&f.cert, n, "", "TLS certificate file")
	}
	fs.Int64Var(&f.maxBody, "max-body-bytes", server.DefaultMaxBody, "request body limit")
	odfvExec := fs.String("odfv-execution", "auto", "on-demand feature views: auto (native when possible), native, or delegate (always the transformation service)")
	fillEmpty := fs.Bool("materialize-if-empty", true, "fill an empty SQLite online store from the offline sources at start")
	// Accepted for compatibility with `feast serve`; they tune Python
	// process models that do not exist here.
	var ignoredInt int
	var ignoredBool bool
	for _, n := range []string{"w", "workers", "worker-connections", "max-requests", "max-requests-jitter", "keep-alive-timeout"} {
		fs.IntVar(&ignoredInt, n, 0, "accepted for feast compatibility")
	}
	for _, n := range []string{"no-access-log", "no-feature-log"} {
		fs.BoolVar(&ignoredBool, n, false, "accepted for feast compatibility")
	}
	var metricsOn bool
	for _, n := range []string{"m", "metrics"} {
		fs.BoolVar(&metricsOn, n, false, "serve Prometheus metrics on --metrics-port, like feast serve --metrics")
	}
	metricsPort := fs.Int("metrics-port", 8000, "Prometheus metrics port (with -m or feature_server.metrics.enabled)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.typ != "http" {
		return fmt.Errorf("--type %q: only http is supported (gRPC runs beside it with --grpc-port)", f.typ)
	}
	if (f.key == "") != (f.cert == "") {
		return errors.New("--key and --cert must be given together")
	}

	cfg, err := config.Load(repo, yamlPath)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	for _, k := range cfg.Ignored {
		log.Info("feature_store.yaml key accepted but not used by this server", "key", k)
	}
	src, err := registry.NewSource(ctx, cfg.Registry.Path, cfg.RepoDir)
	if err != nil {
		return err
	}
	ttl := time.Duration(f.registryTTL) * time.Second
	reg, err := registry.Open(ctx, src, registry.Options{Project: cfg.Project, RefreshInterval: ttl,
		EnableVersioning: cfg.Registry.EnableOnlineFeatureViewVersioning, Logger: log})
	if err != nil {
		return err
	}
	store, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if *fillEmpty {
		if err := fillEmptyStore(ctx, cfg, reg, store, log); err != nil {
			return err
		}
	}

	exec, err := transformations.ParseExecution(*odfvExec)
	if err != nil {
		return fmt.Errorf("--odfv-execution: %w", err)
	}
	odfvs := transformations.New(transformations.Options{Endpoint: cfg.FeatureServer.TransformationServiceEndpoint,
		Project: cfg.Project, Execution: exec, Log: log})
	defer odfvs.Close()
	svc := &online.Service{Snapshot: reg.Current, Store: store, KeyVersion: cfg.EntityKeySerializationVersion, Transformer: odfvs}
	h := &server.HTTP{Online: svc, Registry: reg, MaxBody: f.maxBody, Log: log, Ingest: newIngest(cfg, reg, store, svc)}
	h.Materialize = server.NewMaterializer(newMaterializer(cfg, reg, store, log))
	defer h.Materialize.Close()
	var metricsSrv *http.Server
	var metricsLn net.Listener
	if metricsOn || cfg.FeatureServer.Metrics.Enabled {
		h.Metrics = server.NewMetrics(reg)
		if metricsLn, err = net.Listen("tcp", net.JoinHostPort(f.host, fmt.Sprint(*metricsPort))); err != nil {
			return fmt.Errorf("--metrics-port: %w", err)
		}
		defer metricsLn.Close()
		metricsSrv = &http.Server{Handler: h.Metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
	}
	httpSrv := h.NewFastServer()
	ln, err := net.Listen("tcp", net.JoinHostPort(f.host, fmt.Sprint(f.port)))
	if err != nil {
		return err
	}
	if f.key != "" {
		cert, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return fmt.Errorf("--cert/--key: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}

	var grpcSrv *grpc.Server
	var grpcLn net.Listener
	if f.grpcPort > 0 {
		grpcLn, err = net.Listen("tcp", net.JoinHostPort(f.host, fmt.Sprint(f.grpcPort)))
		if err != nil {
			ln.Close()
			return err
		}
		grpcSrv = grpc.NewServer()
		(&server.GRPC{Online: svc, Ingest: h.Ingest}).Register(grpcSrv)
	}

	// Every long-running part starts here and stops when ctx ends or when
	// any part fails.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4) // one slot per goroutine below, so none blocks on exit
	wg.Add(1)
	go func() {
		defer wg.Done()
		errc <- reg.Run(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		log.Info("serving HTTP", "addr", ln.Addr().String(), "project", cfg.Project, "online_store", cfg.OnlineStore.Type)
		err := httpSrv.Serve(ln)
		if ctx.Err() != nil {
			err = nil // stopped by the shutdown below
		}
		errc <- err
	}()
	if grpcSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("serving gRPC", "addr", grpcLn.Addr().String())
			errc <- grpcSrv.Serve(grpcLn)
		}()
	}
	if metricsSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("serving metrics", "addr", metricsLn.Addr().String())
			if err := metricsSrv.Serve(metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
				return
			}
			errc <- nil
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = httpSrv.ShutdownWithContext(shutdownCtx)
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(shutdownCtx)
	}
	if grpcSrv != nil {
		grpcSrv.GracefulStop()
	}
	wg.Wait()
	return runErr
}

// openStore builds the online store named by the configuration.
func openStore(cfg *config.RepoConfig, log *slog.Logger) (onlinestore.Store, error) {
	switch cfg.OnlineStore.Type {
	case "sqlite":
		p := cfg.OnlineStore.SQLite.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(cfg.RepoDir, p)
		}
		return sqlitestore.New(sqlitestore.Options{Path: p, Project: cfg.Project, Log: log})
	case "redis":
		rc := cfg.OnlineStore.Redis
		o := redisstore.Options{Type: rc.RedisType, Addrs: rc.Addrs, SentinelMaster: rc.SentinelMaster,
			Username: rc.Username, Password: rc.Password, DB: rc.DB, Project: cfg.Project, SkipDedup: rc.SkipDedup}
		if rc.SSL {
			o.TLS = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: rc.SSLCertReqs == "none"} //nolint:gosec // the user asked for ssl_cert_reqs=none
		}
		if rc.KeyTTLSeconds != nil && *rc.KeyTTLSeconds > 0 {
			o.KeyTTL = time.Duration(*rc.KeyTTLSeconds) * time.Second
		}
		return redisstore.New(o)
	case "postgres":
		pc := cfg.OnlineStore.Postgres
		return pgstore.New(context.Background(), pgstore.Options{DSN: pc.DSN(), Project: cfg.Project,
			MinConns: int32(pc.MinConn), MaxConns: int32(pc.MaxConn), ValueNum: pc.EnableOpenAICompatibleStore})
	case "none", "":
		return nil, errors.New("online_store: disabled in feature_store.yaml; the server needs an online store")
	default:
		return nil, fmt.Errorf("online_store.type: %q is not supported by this server yet (sqlite, redis, postgres)", cfg.OnlineStore.Type)
	}
}
