package main

import (
	"context"
	"crypto/tls"
	"errors"
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
	"google.golang.org/grpc/keepalive"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/internal/tlsfiles"
	"github.com/feastgo/feastgo/materialize"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	pgstore "github.com/feastgo/feastgo/onlinestore/postgres"
	redisstore "github.com/feastgo/feastgo/onlinestore/redis"
	sqlitestore "github.com/feastgo/feastgo/onlinestore/sqlite"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
	"github.com/feastgo/feastgo/transformations"
	"github.com/feastgo/feastgo/transformations/worker"
	"github.com/feastgo/feastgo/version"
)

const usage = `usage: feature-server [-c REPO] [-f feature_store.yaml] [--log-level LEVEL]
                      [--log-format text|json] COMMAND [flags]

commands:
  serve    serve Feast's HTTP API (and gRPC with --grpc-port), like "feast serve"
  serve_offline   serve Feast's offline server (Arrow Flight, port 8815), like "feast serve_offline"
  serve_registry  serve the registry over gRPC (port 6570), like "feast serve_registry"
  materialize START END, materialize-incremental END   like feast's, from parquet or PostgreSQL
  get-historical-features --entities F --features ... --output OUT.parquet   a training set, like get_historical_features
  healthcheck [-u URL]   exit 0 when a running server answers 200 (the container healthcheck)
  version  print the version
`

// Run is the whole program: it parses feast-style arguments and runs the
// command until ctx is done.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	g, rest, err := parseGlobalArgs(args, os.Getenv(repoDirEnv))
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if err != nil {
		fmt.Fprint(stderr, usage)
		return err
	}
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	log := newLogger(stderr, g.logLevel, g.logFormat)
	switch rest[0] {
	case "serve":
		return serve(ctx, g.repo, g.yamlPath, rest[1:], log, stdout, stderr)
	case "materialize", "materialize-incremental":
		return runMaterialize(ctx, g.repo, g.yamlPath, rest[1:], rest[0] == "materialize-incremental", log, stdout, stderr)
	case "serve_offline":
		return serveOffline(ctx, g.repo, g.yamlPath, rest[1:], log, stdout, stderr)
	case "serve_registry":
		return runServeRegistry(ctx, g.repo, g.yamlPath, rest[1:], log, stdout, stderr)
	case "get-historical-features":
		return runHistorical(ctx, g.repo, g.yamlPath, rest[1:], log, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, rest[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "feature-server %s (compatible with Feast %s)\n", version.Server, version.Feast)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", rest[0])
	}
}

// globalArgs are feast's group options, and --log-format ("": text).
type globalArgs struct{ repo, yamlPath, logLevel, logFormat string }

// parseGlobalArgs reads the options before the command; envRepo is
// $FEATURE_REPO_DIR_ENV_VAR, used when -c is not given, as in feast.
func parseGlobalArgs(args []string, envRepo string) (globalArgs, []string, error) {
	g := globalArgs{repo: ".", logLevel: "info"}
	if envRepo != "" {
		g.repo = envRepo
	}
	fs := optionSet{group: true}
	fs.str(&g.repo, "--chdir", "-c")
	fs.str(&g.yamlPath, "--feature-store-yaml", "-f")
	fs.str(&g.logLevel, "--log-level")
	fs.choice(&g.logFormat, logFormats, "--log-format")
	fs.help()
	rest, err := fs.parse(args)
	return g, rest, err
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
	host, typ            string
	tls                  tlsFlags
	port, grpcPort       int
	offlinePort          int
	registryTTL          int
	maxBody              int64
	odfvExec             string
	odfvWorker           string
	odfvWorkerPython     string
	fillEmpty, metricsOn bool
	noAccessLog          bool
	metricsPort          int
	maxInFlightBody      int64
	drainTimeout         time.Duration
	planCacheSize        int
	cacheBytes           int64
	cacheTTL             time.Duration
	cacheMode            string
	keepAlive            int // seconds, feast serve's --keep-alive-timeout
	readTimeout          time.Duration
	requestTimeout       time.Duration
	maxEntities          int
}

// repoDirEnv sets the repository directory when -c is not given, as in
// feast's CLI.
const repoDirEnv = "FEATURE_REPO_DIR_ENV_VAR"

// defaultPort is feast serve's HTTP port.
const defaultPort = 6566

const serveUsage = `usage: feature-server [-c REPO] serve [options]

feast serve's options:
  -h, --host TEXT             HTTP host (127.0.0.1)
  -p, --port INTEGER          HTTP port (6566)
  -t, --type TEXT             server type: http
  -r, --registry_ttl_sec INT  seconds between registry refreshes (60; 0: never)
  -k, --key TEXT              TLS private key file (HTTP, and the gRPC and
                              offline ports when on; reloaded on change)
  -c, --cert TEXT             TLS certificate file
  -m, --metrics               serve Prometheus metrics on --metrics-port
  --no-access-log             no access log line per request (method, path,
                              status, duration_ms, request_id, remote_addr
                              at INFO)
  --keep-alive-timeout INTEGER
                              seconds an idle keep-alive connection stays
                              open (30)
  -w, --workers, --worker-connections, --max-requests, --max-requests-jitter
                              accepted for feast compatibility, unused
ours:
  --grpc-port INTEGER         also serve gRPC ServingService (0: off)
  --offline-port INTEGER      also serve Feast's offline server (Arrow
                              Flight, as serve_offline does; 0: off)
` + tlsUsage + `  --max-body-bytes INTEGER    request body limit (16 MiB); gRPC messages too
  --max-entities INTEGER      entity rows one online read may ask for; more
                              get 413 (100000; 0: no limit)
  --read-timeout DURATION     longest a client may take to send a request,
                              headers and body; past it 408 and the
                              connection closed (60s)
  --request-timeout DURATION  longest an online read may take (HTTP and
                              gRPC); past it 408 (0: off, the store's own
                              timeouts bound each read)
  --max-in-flight-body-bytes INTEGER
                              bound on the bytes of request bodies held at
                              once; past it 503 with Retry-After (256 MiB)
  --drain-timeout DURATION    on SIGTERM, how long requests already sent may
                              take to finish (10s)
  --plan-cache-size INTEGER   distinct feature lists whose compiled plans are
                              kept; past it the least used are dropped (4096)
  --odfv-execution TEXT       auto, native or delegate
  --odfv-worker TEXT          auto: start our own Python worker for on-demand
                              views that need Python when no transformation
                              service answers; off: answer 503 instead (auto)
  --odfv-worker-python PATH   the Python with Feast for that worker (the one
                              the feast command on PATH runs, else python3)
  --materialize-if-empty / --no-materialize-if-empty
                              fill an empty SQLite online store at start (on)
  --metrics-port INTEGER      Prometheus metrics port (8000)
  --online-cache-bytes INTEGER
                              hot-entity read cache of this many bytes (0: off)
  --online-cache-mode TEXT    auto: on Redis and Sentinel follow Redis's
                              invalidations (no value served after its change
                              is known), on SQLite and PostgreSQL a TTL-only
                              cache; tracking: refuse to start without
                              invalidations; ttl: TTL only, on any store (auto)
  --online-cache-ttl DURATION longest a cached row is served (1m with
                              invalidations, 1s TTL-only)
`

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

// parseServeArgs reads feast serve's options and ours.
func parseServeArgs(args []string) (serveFlags, error) {
	f := serveFlags{host: "127.0.0.1", port: defaultPort, typ: "http", registryTTL: 60, maxBody: server.DefaultMaxBody,
		odfvExec: "auto", odfvWorker: "auto", fillEmpty: true, metricsPort: 8000,
		maxInFlightBody: server.DefaultMaxInFlightBody, drainTimeout: defaultDrainTimeout,
		planCacheSize: registry.DefaultPlanCacheSize, cacheMode: "auto", keepAlive: int(server.DefaultIdleTimeout / time.Second),
		readTimeout: server.DefaultReadTimeout, maxEntities: online.DefaultMaxEntities}
	fs := optionSet{}
	fs.str(&f.host, "--host", "-h")
	fs.integer(&f.port, "--port", "-p")
	fs.str(&f.typ, "--type", "-t")
	fs.integer(&f.registryTTL, "--registry_ttl_sec", "-r")
	f.tls.register(&fs)
	fs.flag(&f.metricsOn, "--metrics", "-m")
	fs.flag(&f.noAccessLog, "--no-access-log")
	// Accepted for compatibility with `feast serve`; they tune Python
	// process models that do not exist here.
	var ignoredInt int
	fs.integer(&ignoredInt, "--workers", "-w")
	fs.integer(&f.keepAlive, "--keep-alive-timeout")
	for _, n := range []string{"--worker-connections", "--max-requests", "--max-requests-jitter"} {
		fs.integer(&ignoredInt, n)
	}
	// Ours.
	fs.integer(&f.grpcPort, "--grpc-port")
	fs.integer(&f.offlinePort, "--offline-port")
	fs.int64(&f.maxBody, "--max-body-bytes")
	fs.int64(&f.maxInFlightBody, "--max-in-flight-body-bytes")
	fs.duration(&f.drainTimeout, "--drain-timeout")
	fs.integer(&f.planCacheSize, "--plan-cache-size")
	fs.integer(&f.maxEntities, "--max-entities")
	fs.duration(&f.readTimeout, "--read-timeout")
	fs.duration(&f.requestTimeout, "--request-timeout")
	fs.str(&f.odfvExec, "--odfv-execution")
	fs.str(&f.odfvWorker, "--odfv-worker")
	fs.str(&f.odfvWorkerPython, "--odfv-worker-python")
	fs.boolPair(&f.fillEmpty, "--materialize-if-empty", "--no-materialize-if-empty")
	fs.integer(&f.metricsPort, "--metrics-port")
	fs.int64(&f.cacheBytes, "--online-cache-bytes")
	fs.duration(&f.cacheTTL, "--online-cache-ttl")
	fs.str(&f.cacheMode, "--online-cache-mode")
	fs.help()
	pos, err := fs.parse(args)
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("got unexpected extra argument (%s)", strings.Join(pos, " "))
	}
	return f, err
}

func serve(ctx context.Context, repo, yamlPath string, args []string, log *slog.Logger, stdout, stderr io.Writer) error {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
	f, err := serveArgs(args, stdout, stderr)
	if f == nil {
		return err // nil after --help
	}
	cfg, err := loadConfig(repo, yamlPath, log)
	if err != nil {
		return err
	}
	src, closeRegistry, err := openRegistrySource(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeRegistry()
	reg, err := registry.Open(ctx, src, registry.Options{Project: cfg.Project, RefreshInterval: time.Duration(f.registryTTL) * time.Second,
		EnableVersioning:        cfg.Registry.EnableOnlineFeatureViewVersioning,
		ServeWhileMaterializing: cfg.Registry.ServeFeaturesWhileMaterializing, PlanCacheSize: f.planCacheSize, Logger: log})
	if err != nil {
		return err
	}
	store, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }() // the cache, once it wraps the store, closes both
	// One offline store for materialization and offline pushes; closed
	// last, after the drain and the async materializations.
	offline := openOffline(cfg)
	defer offline.Close()
	if f.fillEmpty {
		if err := fillEmptyStore(ctx, cfg, reg, store, offline, log); err != nil {
			return err
		}
	}
	store, onlineCache, err := withOnlineCache(f, cfg, store, log)
	if err != nil {
		return err
	}

	odfvs, pyWorker, err := newODFVs(f, cfg, yamlPath, log)
	if err != nil {
		return err
	}
	defer odfvs.Close()
	// The worker outlives the drain below (requests being drained may need
	// it), so it has its own context, cancelled after the drain.
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorker()
	authn, err := newAuthenticator(ctx, cfg, log)
	if err != nil {
		return err
	}
	h := newHandler(f, cfg, reg, store, offline, odfvs, log)
	defer h.Materialize.Close()
	h.Auth = authn
	tlsSrc, err := f.tls.source(log)
	if err != nil {
		return err
	}
	h.RequireClientCert = f.tls.perRequestClientCert()
	offlineScheme := "grpc+tcp"
	if tlsSrc != nil {
		offlineScheme = "grpc+tls"
	}
	stopTracing, err := startTracing(ctx, h, cfg.OnlineStore.Type, log)
	if err != nil {
		return err
	}
	defer stopTracing() // after the drain: the drained requests' spans are flushed
	// Every gRPC listener: TLS as HTTP's, then the spans (h.Tracing exists from here on), then the
	// client certificate and token checks (refusals get spans too).
	rpcOpts := append(grpcTLS(tlsSrc), h.Tracing.GRPCOptions()...)
	rpcOpts = append(rpcOpts, server.AccessGRPCOptions(log, !f.noAccessLog)...)
	if h.RequireClientCert {
		rpcOpts = append(rpcOpts, server.ClientCertGRPCOptions()...)
	}
	rpcOpts = append(rpcOpts, server.AuthGRPCOptions(h.Auth)...)
	if h.Metrics != nil && onlineCache != nil {
		registerCacheMetrics(h.Metrics, onlineCache)
	}
	var metricsSrv *http.Server
	if h.Metrics != nil {
		metricsSrv = &http.Server{Handler: h.Metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
	}
	httpSrv := h.NewFastServer()
	lns, err := f.listen(metricsSrv != nil, tlsSrc)
	if err != nil {
		return err
	}
	defer lns.close()
	ln, grpcLn, offlineLn, metricsLn := lns.http, lns.grpc, lns.offline, lns.metrics
	var grpcSrv *grpc.Server
	if grpcLn != nil {
		grpcSrv = newGRPC(h, rpcOpts)
	}

	// Every long-running part starts here and stops when ctx ends or when
	// any part fails.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := newGroup(5)
	var workerWG sync.WaitGroup
	if pyWorker != nil {
		workerWG.Add(1)
		go func() {
			defer workerWG.Done()
			_ = pyWorker.Run(workerCtx) // nil: a worker that cannot start fails the requests that need it
		}()
	}
	parts.run(func() error { return reg.Run(ctx) })
	parts.run(func() error {
		log.Info("serving HTTP", "addr", ln.Addr().String(), "project", cfg.Project, "online_store", cfg.OnlineStore.Type)
		err := httpSrv.Serve(ln)
		if ctx.Err() != nil {
			err = nil // stopped by the shutdown below
		}
		return err
	})
	if grpcSrv != nil {
		parts.run(func() error {
			log.Info("serving gRPC", "addr", grpcLn.Addr().String())
			return grpcSrv.Serve(grpcLn)
		})
	}
	if offlineLn != nil {
		parts.run(func() error {
			return runOffline(ctx, offlineParts{cfg: cfg, yamlPath: yamlPath, reg: reg, catalog: offline, ln: offlineLn,
				location: offlineScheme + "://" + offlineLn.Addr().String(), log: log, transformer: odfvs, noRegistryRun: true,
				opts: rpcOpts})
		})
	}
	if metricsSrv != nil {
		parts.run(func() error {
			log.Info("serving metrics", "addr", metricsLn.Addr().String())
			if err := metricsSrv.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-parts.errc:
	}
	cancel()
	drain(f.drainTimeout, httpSrv, grpcSrv, metricsSrv, log)
	parts.wg.Wait()
	stopWorker()
	workerWG.Wait() // the worker process is reaped and its files removed
	return runErr
}

// newHandler assembles the HTTP API over the stores: online reads,
// writes, materialization jobs, historical retrieval, health and (when
// asked) metrics.
func newHandler(f *serveFlags, cfg *config.RepoConfig, reg *registry.Registry, store onlinestore.Store,
	offline offlinestore.Catalog, odfvs *transformations.Engine, log *slog.Logger) *server.HTTP {
	var metrics *server.Metrics // nil when off: no wrapper, no hooks
	if f.metricsOn || cfg.FeatureServer.Metrics.Enabled {
		metrics = server.NewMetricsConfig(reg, cfg.FeatureServer.Metrics)
		store = metrics.InstrumentStore(store, cfg.OnlineStore.Type)
	}
	svc := &online.Service{Snapshot: reg.Current, Store: store, KeyVersion: cfg.EntityKeySerializationVersion, Transformer: odfvs,
		MaxEntities: f.maxEntities, RequestTimeout: f.requestTimeout}
	h := &server.HTTP{Online: svc, Registry: reg, MaxBody: f.maxBody, MaxInFlightBody: f.maxInFlightBody, Log: log,
		Ingest: newIngest(cfg, reg, store, svc, offline), AccessLog: !f.noAccessLog,
		ReadTimeout: f.readTimeout, IdleTimeout: time.Duration(f.keepAlive) * time.Second}
	h.Checks = healthChecks(reg, store, offline, log)
	if h.Checks.Online != nil {
		h.Health = func(r *http.Request) error { return h.Checks.Online.Check(r.Context()) }
	}
	h.Materialize = materialize.NewJobs(newMaterializer(cfg, reg, store, offline, odfvs, log))
	h.Historical = &historical.Retriever{Catalog: offline, Transformer: odfvs}
	h.Metrics = metrics
	metrics.Instrument(h)
	return h
}

// newGRPC serves Feast's gRPC API over the HTTP API's services, with the
// HTTP server's limits: messages no larger than its bodies, a connection's
// handshake within the read timeout, idle connections closed after the
// keep-alive timeout, and clients that ping too often cut off.
func newGRPC(h *server.HTTP, extra []grpc.ServerOption) *grpc.Server {
	opts := append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(int(h.MaxBody)),
		grpc.ConnectionTimeout(h.ReadTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: h.IdleTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}, extra...)
	s := grpc.NewServer(opts...)
	(&server.GRPC{Online: h.Online, Ingest: h.Ingest, Checks: h.Checks}).Register(s)
	return s
}

// group runs serve's long-running parts, each sending its end (nil or the
// error) on errc, which has room for every part so none blocks on exit.
type group struct {
	wg   sync.WaitGroup
	errc chan error
}

func newGroup(n int) *group { return &group{errc: make(chan error, n)} }

func (g *group) run(fn func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.errc <- fn()
	}()
}

// healthChecks pings what the stores can ping: the online store (whose
// answer /health gives) and the offline store's database.
func healthChecks(reg *registry.Registry, store onlinestore.Store, offline offlinestore.Catalog, log *slog.Logger) *server.HealthChecks {
	c := &server.HealthChecks{Registry: reg}
	if p, ok := store.(onlinestore.Pinger); ok {
		c.Online = &server.StoreHealth{Pinger: p, Log: log}
	}
	if p, ok := offline.(onlinestore.Pinger); ok {
		c.Offline = &server.StoreHealth{Pinger: p}
	}
	return c
}

// serveArgs parses and checks serve's flags. After --help (usage printed)
// it returns nil flags and no error; a bad flag prints the usage too.
func serveArgs(args []string, stdout, stderr io.Writer) (*serveFlags, error) {
	f, err := parseServeArgs(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, serveUsage)
		return nil, nil
	}
	if err != nil {
		fmt.Fprint(stderr, serveUsage)
		return nil, err
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

// check refuses flag combinations serve cannot honour.
func (f *serveFlags) check() error {
	if f.typ != "http" {
		return fmt.Errorf("--type %q: only http is supported (gRPC runs beside it with --grpc-port)", f.typ)
	}
	if err := f.tls.check(); err != nil {
		return err
	}
	if f.maxInFlightBody < f.maxBody {
		return fmt.Errorf("--max-in-flight-body-bytes %d: must be at least --max-body-bytes (%d), or no body of that size is ever served", f.maxInFlightBody, f.maxBody)
	}
	if f.drainTimeout < 0 {
		return fmt.Errorf("--drain-timeout %v: must not be negative", f.drainTimeout)
	}
	if f.keepAlive < 1 {
		return fmt.Errorf("--keep-alive-timeout %d: must be at least 1 second", f.keepAlive)
	}
	if f.readTimeout <= 0 {
		return fmt.Errorf("--read-timeout %v: must be positive", f.readTimeout)
	}
	if f.requestTimeout < 0 {
		return fmt.Errorf("--request-timeout %v: must not be negative (0: off)", f.requestTimeout)
	}
	if f.maxEntities < 0 {
		return fmt.Errorf("--max-entities %d: must not be negative (0: no limit)", f.maxEntities)
	}
	if f.planCacheSize < 1 {
		return fmt.Errorf("--plan-cache-size %d: must be at least 1", f.planCacheSize)
	}
	if f.odfvWorker != "auto" && f.odfvWorker != "off" {
		return fmt.Errorf("--odfv-worker %q: must be auto or off", f.odfvWorker)
	}
	return f.checkCacheFlags()
}

// loadConfig reads feature_store.yaml and logs what it warns of and what
// this server accepts without using.
func loadConfig(repo, yamlPath string, log *slog.Logger) (*config.RepoConfig, error) {
	cfg, err := config.Load(repo, yamlPath)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	for _, k := range cfg.Ignored {
		log.Info("feature_store.yaml key accepted but not used by this server", "key", k)
	}
	return cfg, nil
}

// newODFVs returns the on-demand view engine the flags ask for, and the
// Python worker it delegates to (nil when there is none; the caller runs
// it).
func newODFVs(f *serveFlags, cfg *config.RepoConfig, yamlPath string, log *slog.Logger) (*transformations.Engine, *worker.Supervisor, error) {
	exec, err := transformations.ParseExecution(f.odfvExec)
	if err != nil {
		return nil, nil, fmt.Errorf("--odfv-execution: %w", err)
	}
	var pyWorker *worker.Supervisor
	topts := transformations.Options{Endpoint: cfg.FeatureServer.TransformationServiceEndpoint,
		Project: cfg.Project, Execution: exec, Log: log}
	if f.odfvWorker == "auto" && exec != transformations.Native {
		pyWorker = worker.New(worker.Options{Python: f.odfvWorkerPython, Repo: cfg.RepoDir, YAML: yamlPath, Log: log.With("component", "odfv-worker")})
		topts.Worker = pyWorker
	}
	return transformations.New(topts), pyWorker, nil
}

// serveListeners are serve's sockets; grpc, offline and metrics are nil
// when their port is off.
type serveListeners struct {
	http, grpc, offline, metrics net.Listener
}

// listen opens every socket the flags ask for (HTTP with TLS when
// --key/--cert are set), so a port taken fails the start before anything
// serves; on error none stays open.
func (f *serveFlags) listen(metrics bool, tlsSrc *tlsfiles.Source) (_ *serveListeners, err error) {
	l := &serveListeners{}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	open := func(port int, flag string) (net.Listener, error) {
		ln, err := net.Listen("tcp", net.JoinHostPort(f.host, fmt.Sprint(port)))
		if err != nil && flag != "" {
			err = fmt.Errorf("%s: %w", flag, err)
		}
		return ln, err
	}
	if metrics {
		if l.metrics, err = open(f.metricsPort, "--metrics-port"); err != nil {
			return nil, err
		}
	}
	if l.http, err = open(f.port, ""); err != nil {
		return nil, err
	}
	if tlsSrc != nil {
		l.http = tls.NewListener(l.http, tlsSrc.Config("http/1.1"))
	}
	if f.grpcPort > 0 {
		if l.grpc, err = open(f.grpcPort, ""); err != nil {
			return nil, err
		}
	}
	if f.offlinePort > 0 {
		if l.offline, err = open(f.offlinePort, "--offline-port"); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// close closes the listeners still open (a server's Serve closes its own
// on shutdown; closing again is harmless).
func (l *serveListeners) close() {
	for _, ln := range []net.Listener{l.http, l.grpc, l.offline, l.metrics} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// defaultDrainTimeout is --drain-timeout's default, well inside the 30 s
// Kubernetes leaves a pod between SIGTERM and SIGKILL, so that the drain
// ends before the kill.
const defaultDrainTimeout = 10 * time.Second

// drain stops the servers together: they stop accepting, the requests
// already sent finish (for at most timeout), then every connection is
// closed. A request cut by the timeout is logged, not an error: the
// process stops as asked.
func drain(timeout time.Duration, httpSrv *server.FastServer, grpcSrv *grpc.Server, metricsSrv *http.Server, log *slog.Logger) {
	ctx, done := context.WithTimeout(context.Background(), timeout)
	defer done()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := httpSrv.Drain(ctx); err != nil {
			log.Warn("HTTP requests cut by --drain-timeout", "timeout", timeout, "err", err)
		}
	}()
	if grpcSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stopped := make(chan struct{})
			go func() {
				grpcSrv.GracefulStop()
				close(stopped)
			}()
			select {
			case <-stopped:
			case <-ctx.Done():
				log.Warn("gRPC calls cut by --drain-timeout", "timeout", timeout)
				grpcSrv.Stop()
				<-stopped
			}
		}()
	}
	if metricsSrv != nil {
		// Scraped last, the metrics count the drained requests.
		wg.Wait()
		if err := metricsSrv.Shutdown(ctx); err != nil {
			_ = metricsSrv.Close()
		}
	}
	wg.Wait()
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
