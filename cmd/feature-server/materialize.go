package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/materialize"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/offlinestore/catalog"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	sqlitestore "github.com/feastgo/feastgo/onlinestore/sqlite"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/transformations"
	"github.com/feastgo/feastgo/transformations/worker"
)

const materializeUsage = `usage: feature-server [-c REPO] materialize START_TS END_TS [--views NAME]... [--disable-event-timestamp] [--version vN]
       feature-server [-c REPO] materialize-incremental END_TS [--views NAME]... [--version vN]

Timestamps are ISO 8601 (2021-07-16T19:20:01, optionally with a fraction and
Z or an offset); without an offset they are UTC, as in feast.
`

// materializeArgs are feast's materialize arguments.
type materializeArgs struct {
	times          []string
	views          []string
	disableEventTS bool
	version        *string
}

// parseMaterializeArgs reads feast's materialize arguments, click-style.
func parseMaterializeArgs(args []string, incremental bool) (materializeArgs, error) {
	var a materializeArgs
	fs := optionSet{}
	fs.strs(&a.views, "--views", "-v")
	if !incremental {
		fs.flag(&a.disableEventTS, "--disable-event-timestamp")
	}
	fs.optStr(&a.version, "--version")
	fs.help()
	var err error
	a.times, err = fs.parse(args)
	return a, err
}

// parseTS parses a feast CLI timestamp; naive means UTC.
func parseTS(s string) (time.Time, error) {
	t, err := core.ParseTime(s)
	if err != nil {
		return time.Time{}, err
	}
	return t.Time(), nil
}

// runMaterialize is "feature-server materialize" and "materialize-incremental".
func runMaterialize(ctx context.Context, repo, yamlPath string, args []string, incremental bool, log *slog.Logger, stdout, stderr io.Writer) error {
	a, err := parseMaterializeArgs(args, incremental)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, materializeUsage)
		return nil
	}
	if err != nil {
		fmt.Fprint(stderr, materializeUsage)
		return err
	}
	req := materialize.Request{Views: a.views, Incremental: incremental, Version: a.version}
	switch {
	case incremental:
		if len(a.times) != 1 || a.disableEventTS {
			fmt.Fprint(stderr, materializeUsage)
			return errors.New("materialize-incremental takes exactly one argument, END_TS")
		}
		if req.End, err = parseTS(a.times[0]); err != nil {
			return fmt.Errorf("END_TS: %w", err)
		}
	case a.disableEventTS:
		if len(a.times) != 0 {
			return errors.New("cannot specify START_TS or END_TS when --disable-event-timestamp is used")
		}
		req.Start, req.End = time.Unix(0, 0).UTC(), time.Now().UTC()
	default:
		if len(a.times) != 2 {
			fmt.Fprint(stderr, materializeUsage)
			return errors.New("START_TS and END_TS are required unless --disable-event-timestamp is used")
		}
		if req.Start, err = parseTS(a.times[0]); err != nil {
			return fmt.Errorf("START_TS: %w", err)
		}
		if req.End, err = parseTS(a.times[1]); err != nil {
			return fmt.Errorf("END_TS: %w", err)
		}
	}

	cfg, err := config.Load(repo, yamlPath)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	src, closeRegistry, err := openRegistrySource(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeRegistry()
	store, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	offline := openOffline(cfg)
	defer offline.Close()
	eng, err := newEngine(cfg, src, store, offline, log)
	if err != nil {
		return err
	}
	odfvs, stopODFVs := materializeTransformer(ctx, cfg, yamlPath, log)
	defer stopODFVs()
	eng.Transformer = odfvs
	tty := isTerminal(stderr)
	prog := &cliProgress{out: stdout, bar: stderr, tty: tty}
	eng.Progress = prog

	snap, err := eng.Snapshot(ctx)
	if err != nil {
		return err
	}
	tasks, err := eng.Plan(snap, req)
	if err != nil {
		return err
	}
	// Feast's header line, without its colours.
	if incremental {
		fmt.Fprintf(stdout, "Materializing %d feature views to %s into the %s online store.\n\n", len(tasks), materialize.PyTime(req.End.Truncate(time.Second)), cfg.OnlineStore.Type)
	} else {
		fmt.Fprintf(stdout, "Materializing %d feature views from %s to %s into the %s online store.\n\n", len(tasks), materialize.PyTime(req.Start.Truncate(time.Second)), materialize.PyTime(req.End.Truncate(time.Second)), cfg.OnlineStore.Type)
	}
	prog.incremental = incremental
	res, err := eng.Run(ctx, tasks, false)
	if res != nil {
		done := len(res.Views)
		if err != nil {
			done--
		}
		fmt.Fprintf(stdout, "Materialized %d feature views, %d rows (%d feature values) in %.2f s\n",
			done, res.Rows, res.Values, res.Duration.Seconds())
	}
	if err != nil {
		return fmt.Errorf("materialization failed, the failed view's interval was not recorded: %w", err)
	}
	return nil
}

// openOffline returns the configured offline store; its owner closes it. A
// variable so that a test can see the catalog closed at shutdown.
var openOffline = func(cfg *config.RepoConfig) offlinestore.Catalog {
	return catalog.Open(cfg)
}

// newEngine wires a materialization engine to the configured stores.
func newEngine(cfg *config.RepoConfig, src registry.Source, store onlinestore.Store, offline offlinestore.Catalog, log *slog.Logger) (*materialize.Engine, error) {
	w, ok := store.(onlinestore.Writer)
	if !ok {
		return nil, fmt.Errorf("online_store %s does not accept writes", cfg.OnlineStore.Type)
	}
	eng := &materialize.Engine{
		Project: cfg.Project, Registry: src, Store: w, Sources: offline,
		KeyVersion: cfg.EntityKeySerializationVersion, EnableVersioning: cfg.Registry.EnableOnlineFeatureViewVersioning,
		Writers: 1, Log: log,
	}
	if n := cfg.Materialization.OnlineWriteBatchSize; n != nil {
		eng.BatchSize = *n
	}
	// SQLite takes one writer at a time; Redis and PostgreSQL overlap round
	// trips with the next batch's encoding.
	if cfg.OnlineStore.Type != "sqlite" {
		eng.Writers = 4
	}
	return eng, nil
}

// materializeTransformer is the transformation engine of the on-demand
// views with write_to_online_store a materialize command writes, with our
// Python worker for the UDFs that need Python (started only if one does,
// as serve's). stop ends both.
func materializeTransformer(ctx context.Context, cfg *config.RepoConfig, yamlPath string, log *slog.Logger) (_ online.Transformer, stop func()) {
	w := worker.New(worker.Options{Repo: cfg.RepoDir, YAML: yamlPath, Log: log.With("component", "odfv-worker")})
	odfvs := transformations.New(transformations.Options{Endpoint: cfg.FeatureServer.TransformationServiceEndpoint,
		Project: cfg.Project, Log: log, Worker: w})
	wctx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(wctx) // nil: a worker that cannot start fails the views that need it
	}()
	return odfvs, func() {
		if err := odfvs.Close(); err != nil {
			log.Warn("closing the transformation engine", "err", err)
		}
		stopWorker()
		<-done
	}
}

// newMaterializer is the engine behind POST /materialize: registry writes
// also refresh the server's snapshot at once.
func newMaterializer(cfg *config.RepoConfig, reg *registry.Registry, store onlinestore.Store, offline offlinestore.Catalog, odfvs online.Transformer, log *slog.Logger) *materialize.Engine {
	eng, err := newEngine(cfg, reg.Source(), store, offline, log)
	if err != nil {
		return nil
	}
	eng.Transformer = odfvs
	eng.RegistryChanged = func() {
		if err := reg.Refresh(context.Background()); err != nil {
			log.Warn("registry refresh after materialization failed", "err", err)
		}
	}
	return eng
}

// fillEmptyStore materializes, at start-up, the views whose SQLite table is
// missing or empty, over the windows the registry says were materialized:
// a fresh checkout (registry committed, online.db not) then serves the same
// values as the machine that ran feast materialize. The registry is not
// written. Other stores are left alone: an empty Redis may be on purpose.
func fillEmptyStore(ctx context.Context, cfg *config.RepoConfig, reg *registry.Registry, store onlinestore.Store, offline offlinestore.Catalog, log *slog.Logger) error {
	sq, ok := store.(*sqlitestore.Store)
	if !ok {
		return nil
	}
	path := cfg.OnlineStore.SQLite.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(cfg.RepoDir, path)
	}
	snap := reg.Current()
	var empty []string
	for _, v := range snap.AllViews() {
		if !v.Online || v.Disabled || len(v.MaterializationIntervals) == 0 {
			continue
		}
		ok, err := sq.HasRows(ctx, v.StorageName())
		if err != nil {
			return fmt.Errorf("checking the online store %s: %w", path, err)
		}
		if !ok {
			empty = append(empty, v.Name)
		}
	}
	if len(empty) == 0 {
		return nil
	}
	eng, err := newEngine(cfg, reg.Source(), store, offline, log)
	if err != nil {
		return err
	}
	log.Info("online store is empty: materializing the recorded intervals from the offline sources", "path", path, "views", strings.Join(empty, ","))
	res, err := eng.Materialize(ctx, materialize.Request{Views: empty, Replay: true})
	if err != nil {
		// Serving what is there beats not serving: say so loudly and go on.
		log.Error("filling the empty online store failed; serving it as it is (run materialize, or start with --materialize-if-empty=false)", "err", err)
		return nil
	}
	log.Info("online store filled", "views", len(res.Views), "rows", res.Rows, "seconds", fmt.Sprintf("%.2f", res.Duration.Seconds()))
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// cliProgress prints a line per view and, on a terminal, a progress bar.
type cliProgress struct {
	out, bar    io.Writer
	tty         bool
	incremental bool

	mu      sync.Mutex
	view    string
	started time.Time
	drawn   time.Time
}

func (p *cliProgress) ViewStarted(view string, start, end time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.view, p.started, p.drawn = view, time.Now(), time.Time{}
	if p.incremental && !start.IsZero() {
		fmt.Fprintf(p.out, "%s from %s to %s:\n", view, materialize.PyTime(start.Truncate(time.Second)), materialize.PyTime(end.Truncate(time.Second)))
	} else {
		fmt.Fprintf(p.out, "%s:\n", view)
	}
}

func (p *cliProgress) RowsWritten(view string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty || time.Since(p.drawn) < 100*time.Millisecond {
		return
	}
	p.drawn = time.Now()
	p.draw(done, total)
}

func (p *cliProgress) ViewDone(view string, rows int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		total := int64(-1)
		if err == nil {
			total = rows
		}
		p.draw(rows, total)
		fmt.Fprintln(p.bar)
	}
	if err != nil {
		fmt.Fprintf(p.out, "  failed after %d rows: %v\n", rows, err)
		return
	}
	fmt.Fprintf(p.out, "  %d rows in %.2f s\n", rows, time.Since(p.started).Seconds())
}

// draw renders "[#####.....]  50% 500/1000 rows 12345 rows/s" in place.
func (p *cliProgress) draw(done, total int64) {
	const width = 30
	secs := time.Since(p.started).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(done) / secs
	}
	if total <= 0 {
		fmt.Fprintf(p.bar, "\r  %d rows  %.0f rows/s\x1b[K", done, rate)
		return
	}
	filled := int(float64(width) * float64(done) / float64(total))
	filled = min(filled, width)
	fmt.Fprintf(p.bar, "\r  [%s%s] %3d%% %d/%d rows  %.0f rows/s\x1b[K",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), done*100/total, done, total, rate)
}
