// Package materialize copies the latest feature rows of a time window from
// the offline sources (offlinestore) into the online store, byte for byte
// as `feast materialize` does, and records the window in the registry so
// Feast's materialize-incremental and ours continue from the same point.
//
// Per feature view: pull the latest row per entity key in the window,
// convert every cell to the Value Feast writes (convert.go), serialize
// entity keys with the configured version, write in batches through
// onlinestore.Writer, and only when every batch is confirmed record the
// interval. A view that fails is not recorded; re-running is safe because
// writes are idempotent (Redis skips rows not newer than what it holds,
// SQL stores upsert the same bytes).
//
// On-demand views with write_to_online_store go another way (odfv.go):
// their sources' latest rows are joined (historical), transformed by the
// Transformer and written as a write_to_online_store request (ingest).
//
// Offline tables are reached only through offlinestore.Catalog and
// offlinestore.Source: this package must not import an offline engine
// (offlinestore/parquet, offlinestore/postgres, offlinestore/catalog) or
// the serving packages (server, cmd); the caller wires the catalog in.
package materialize

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// Engine materializes feature views of one project.
type Engine struct {
	// Project is the Feast project.
	Project string
	// Registry is where views are read from and intervals written to; it
	// must implement registry.Writer unless every request has Replay set.
	Registry registry.Source
	// Store receives the rows.
	Store onlinestore.Writer
	// Sources resolves views' batch sources to offline tables. The engine
	// does not close it: its owner does, at shutdown.
	Sources offlinestore.Catalog
	// KeyVersion is entity_key_serialization_version.
	KeyVersion int
	// Transformer runs the UDFs of on-demand feature views with
	// write_to_online_store; nil refuses to materialize them.
	Transformer online.Transformer
	// EnableVersioning is registry.enable_online_feature_view_versioning:
	// rows of a view at version N > 0 are stored under "<name>_v<N>".
	EnableVersioning bool
	// BatchSize is rows per online write (materialization.
	// online_write_batch_size); 0 means DefaultBatchSize.
	BatchSize int
	// Writers is how many writes run at once (default 1). Rows of one view
	// have distinct keys, so parallel writes cannot reorder a key's rows.
	Writers int
	// Progress, when set, is told about every view and written batch.
	Progress Progress
	// RegistryChanged, when set, is called after each registry write (the
	// server refreshes its snapshot there).
	RegistryChanged func()
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives warnings (default slog.Default()).
	Log *slog.Logger

	mu      sync.Mutex
	running map[string]bool
}

// DefaultBatchSize is the rows per online write when the configuration does
// not set materialization.online_write_batch_size.
const DefaultBatchSize = 10_000

// Progress receives materialization events. ViewStarted and ViewDone come
// from the goroutine running Run; RowsWritten from the writers, possibly
// several at once.
type Progress interface {
	// ViewStarted is called before a view's first row is pulled.
	ViewStarted(view string, start, end time.Time)
	// RowsWritten is called after each confirmed write with the view's
	// running count and the expected total (-1 when unknown).
	RowsWritten(view string, done, total int64)
	// ViewDone is called when the view finished (err nil) or failed.
	ViewDone(view string, rows int64, err error)
}

// Request says what to materialize.
type Request struct {
	// Start and End bound event times, both inclusive as in Feast's offline
	// stores. Start is ignored when Incremental.
	Start, End time.Time
	// Incremental starts each view where its last recorded interval ended
	// (else now − ttl, else now − 52 weeks), as materialize_incremental does.
	Incremental bool
	// Views names the views; empty means every online, enabled feature
	// view and stream feature view of the project, and every enabled
	// on-demand view with write_to_online_store.
	Views []string
	// Replay rewrites the windows the registry already records for each
	// view and writes nothing to the registry (used to fill an empty online
	// store at start-up). Start, End and Incremental are ignored.
	Replay bool
	// Version pins a feature view version ("v2"; needs exactly one view
	// and online versioning), as feast materialize --version (version.go).
	Version *string
}

// Task is one view and its window.
type Task struct {
	View *registry.View
	// Windows are the [start, end] windows to pull, in order (one, except
	// for Replay).
	Windows [][2]time.Time
	// Before is set by Reserve: the view is already MATERIALIZING in the
	// registry and had this state before, which Run gives it back if its
	// run fails or never starts.
	Before *corepb.FeatureViewState
	// ODFV is set for an on-demand view with write_to_online_store (View
	// is then its written view); snap is the registry it was planned on,
	// whose source views it joins.
	ODFV *registry.ODFV
	snap *registry.Snapshot
}

// ViewResult is what one view wrote.
type ViewResult struct {
	Name string
	Rows int64
}

// Result sums up a materialization.
type Result struct {
	Views    []ViewResult
	Rows     int64
	Values   int64
	Duration time.Duration
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

// Snapshot loads the registry as it is now (Feast reads it uncached before
// materializing).
func (e *Engine) Snapshot(ctx context.Context) (*registry.Snapshot, error) {
	b, err := e.Registry.Fetch(ctx)
	if err != nil {
		return nil, core.Unavailable(err, "registry %s cannot be read", e.Registry.Location())
	}
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(b, reg); err != nil {
		return nil, fmt.Errorf("registry %s: not a feast.core.Registry: %w", e.Registry.Location(), err)
	}
	return registry.Compile(reg, e.Project, e.EnableVersioning)
}

// Plan resolves the request into tasks with Feast's rules
// (_get_feature_views_to_materialize): unknown names are NotFound, disabled
// or offline-only views and views Feast cannot materialize are invalid.
func (e *Engine) Plan(snap *registry.Snapshot, req Request) ([]Task, error) {
	if !req.Replay && !req.Incremental && req.Start.After(req.End) {
		return nil, core.Invalidf("The given start_date %s is greater than the given end_date %s.", PyTime(req.Start), PyTime(req.End))
	}
	pin, err := e.checkVersion(req)
	if err != nil {
		return nil, err
	}
	var views []*registry.View
	if len(req.Views) == 0 {
		for _, v := range registryOrder(snap) {
			if v.Online && !v.Disabled {
				views = append(views, v)
			}
		}
		for _, name := range writtenODFVs(snap) {
			if v, ok := snap.View(name); ok {
				views = append(views, v)
			}
		}
	} else {
		for _, name := range req.Views {
			v, ok, err := e.lookupView(snap, name, pin)
			if err != nil {
				return nil, err
			}
			if !ok {
				if o, isODFV := snap.ODFV(name); isODFV {
					if o.Disabled {
						return nil, core.Invalidf("FeatureView %s is disabled. Enable it before materializing.", name)
					}
					return nil, core.Invalidf("OnDemandFeatureView %s is not configured for write_to_online_store.", name)
				}
				return nil, core.Errorf(core.KindNotFound, "FeatureViewNotFoundException",
					"Feature view %s does not exist in project %s", name, snap.Project)
			}
			switch {
			case v.Kind == registry.KindLabelView:
				return nil, core.Invalidf("LabelView %s cannot be materialized via materialize(). Use FeatureStore.push() to write labels.", name)
			case v.Disabled:
				return nil, core.Invalidf("FeatureView %s is disabled. Enable it before materializing.", name)
			case !v.Online:
				return nil, core.Invalidf("FeatureView %s is not configured to be served online.", name)
			}
			views = append(views, v)
		}
	}
	now := e.now()
	// Feast materializes on-demand views as it meets them and the others
	// after the loop: on-demand views first, in their order.
	sort.SliceStable(views, func(i, j int) bool {
		return views[i].Kind == registry.KindOnDemandWritten && views[j].Kind != registry.KindOnDemandWritten
	})
	tasks := make([]Task, 0, len(views))
	for _, v := range views {
		t := Task{View: v}
		if o, ok := snap.ODFV(v.Name); ok && v.Kind == registry.KindOnDemandWritten {
			t.ODFV, t.snap = o, snap
			t.Windows = odfvWindow(snap, o, req)
			tasks = append(tasks, t)
			continue
		}
		switch {
		case req.Replay:
			t.Windows = recordedWindows(v.MaterializationIntervals)
		case req.Incremental:
			start := latestEnd(v.MaterializationIntervals)
			if start.IsZero() {
				if v.TTL > 0 {
					start = now.Add(-v.TTL)
				} else {
					start = now.Add(-52 * 7 * 24 * time.Hour)
				}
			}
			t.Windows = [][2]time.Time{{start, req.End}}
		default:
			t.Windows = [][2]time.Time{{req.Start, req.End}}
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

// Begin claims views for a run of this engine; it returns the names already
// being materialized here (and claims nothing) on a conflict.
func (e *Engine) Begin(names []string) (release func(), busy []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running == nil {
		e.running = map[string]bool{}
	}
	for _, n := range names {
		if e.running[n] {
			busy = append(busy, n)
		}
	}
	if len(busy) > 0 {
		return nil, busy
	}
	for _, n := range names {
		e.running[n] = true
	}
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, n := range names {
			delete(e.running, n)
		}
	}, nil
}

// Materialize plans and runs a request.
func (e *Engine) Materialize(ctx context.Context, req Request) (*Result, error) {
	snap, err := e.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	tasks, err := e.Plan(snap, req)
	if err != nil {
		return nil, err
	}
	return e.Run(ctx, tasks, req.Replay)
}

// Run materializes the tasks in order, recording each finished view in the
// registry (unless replay) before starting the next. It stops at the first
// failure; views finished before it stay recorded.
func (e *Engine) Run(ctx context.Context, tasks []Task, replay bool) (*Result, error) {
	began := time.Now()
	res := &Result{}
	for i, t := range tasks {
		rows, err := e.runTask(ctx, t, replay)
		res.Views = append(res.Views, ViewResult{Name: t.View.Name, Rows: rows})
		res.Rows += rows
		res.Values += rows * int64(len(t.View.Features))
		if err != nil {
			// Views reserved for this run that it never reached.
			e.restoreStates(ctx, tasks[i+1:])
			res.Duration = time.Since(began)
			return res, err
		}
	}
	res.Duration = time.Since(began)
	return res, nil
}

func (e *Engine) runTask(ctx context.Context, t Task, replay bool) (rows int64, err error) {
	v := t.View
	if len(t.Windows) == 0 {
		e.restoreStates(ctx, []Task{t})
		return 0, nil
	}
	if t.ODFV != nil {
		return e.runODFV(ctx, t)
	}
	if e.Progress != nil {
		e.Progress.ViewStarted(v.Name, t.Windows[0][0], t.Windows[len(t.Windows)-1][1])
		defer func() { e.Progress.ViewDone(v.Name, rows, err) }()
	}
	if replay {
		for _, w := range t.Windows {
			n, err := e.pullAndWrite(ctx, v, w[0], w[1])
			rows += n
			if err != nil {
				return rows, err
			}
		}
		return rows, nil
	}

	// Feast's lifecycle: MATERIALIZING while running (unless the state is
	// unset), AVAILABLE_ONLINE with the interval when done, the previous
	// state back on failure. A view reserved by Reserve is MATERIALIZING
	// already and gets back the state it had before the reservation: Feast's
	// server resets a failed async run to GENERATED instead, which leaves
	// the view unservable until it is materialized again.
	var prev corepb.FeatureViewState
	changed := t.Before != nil
	if changed {
		prev = *t.Before
	} else {
		if prev, err = e.startState(ctx, v); err != nil {
			return 0, err
		}
		switch prev {
		case corepb.FeatureViewState_MATERIALIZING:
			prev = corepb.FeatureViewState_GENERATED
		case corepb.FeatureViewState_STATE_UNSPECIFIED:
		case corepb.FeatureViewState_GENERATED, corepb.FeatureViewState_AVAILABLE_ONLINE:
			if err := e.setState(ctx, v.Name, corepb.FeatureViewState_MATERIALIZING); err != nil {
				return 0, err
			}
			changed = true
		default:
			return 0, core.Invalidf("FeatureView %s cannot transition from %s to MATERIALIZING.", v.Name, stateName(prev))
		}
	}
	w := t.Windows[0]
	rows, err = e.pullAndWrite(ctx, v, w[0], w[1])
	if err == nil {
		now := e.now()
		err = e.updateRegistry(ctx, func(reg *corepb.Registry) error {
			return registry.RecordMaterialization(reg, e.Project, v.Name, w[0], w[1], now)
		})
	}
	if err != nil && changed {
		e.restoreState(ctx, v.Name, prev)
	}
	return rows, err
}

// Reserve moves the tasks' views to MATERIALIZING in one registry write,
// as Feast's server does before it answers an async request (so a second
// request sees them busy), and records in each task the state its view had,
// which Run restores if that view's run fails or never starts. A view found
// MATERIALIZING already (a run elsewhere) counts as GENERATED, as in Run.
func (e *Engine) Reserve(ctx context.Context, tasks []Task) error {
	before := make([]corepb.FeatureViewState, len(tasks))
	err := e.updateRegistry(ctx, func(reg *corepb.Registry) error {
		for i, t := range tasks {
			if t.ODFV != nil {
				continue // Feast keeps no state for on-demand views
			}
			s, err := registry.ViewState(reg, e.Project, t.View.Name)
			if err != nil {
				return err
			}
			if s == corepb.FeatureViewState_MATERIALIZING {
				s = corepb.FeatureViewState_GENERATED
			}
			before[i] = s
			if err := registry.SetViewState(reg, e.Project, t.View.Name, corepb.FeatureViewState_MATERIALIZING); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range tasks {
		if tasks[i].ODFV == nil {
			tasks[i].Before = &before[i]
		}
	}
	return nil
}

// restoreStates gives reserved views that were not run their state back.
func (e *Engine) restoreStates(ctx context.Context, tasks []Task) {
	for _, t := range tasks {
		if t.Before != nil {
			e.restoreState(ctx, t.View.Name, *t.Before)
		}
	}
}

// restoreState sets a view's state after its run failed; the context may be
// cancelled by then (the failure may be the cancellation), so the write gets
// its own deadline.
func (e *Engine) restoreState(ctx context.Context, view string, state corepb.FeatureViewState) {
	restore, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := e.setState(restore, view, state); err != nil {
		e.log().Warn("could not restore the feature view state after a failed materialization", "view", view, "state", stateName(state), "err", err)
	}
}

// SetStates sets the state of several views in one registry write (the
// HTTP server reserves views for an async run this way, as Feast does).
func (e *Engine) SetStates(ctx context.Context, views []string, state corepb.FeatureViewState) error {
	return e.updateRegistry(ctx, func(reg *corepb.Registry) error {
		for _, v := range views {
			if err := registry.SetViewState(reg, e.Project, v, state); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *Engine) setState(ctx context.Context, view string, state corepb.FeatureViewState) error {
	return e.SetStates(ctx, []string{view}, state)
}

func (e *Engine) updateRegistry(ctx context.Context, change func(*corepb.Registry) error) error {
	if err := registry.Update(ctx, e.Registry, e.now(), change); err != nil {
		return err
	}
	if e.RegistryChanged != nil {
		e.RegistryChanged()
	}
	return nil
}

// viewState reads a view's state from the registry as stored now.
func (e *Engine) viewState(ctx context.Context, view string) (corepb.FeatureViewState, error) {
	snap, err := e.Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	v, ok := snap.View(view)
	if !ok {
		return 0, core.Errorf(core.KindNotFound, "FeatureViewNotFoundException", "Feature view %s does not exist in project %s", view, e.Project)
	}
	return v.State, nil
}

// pullAndWrite pulls one window of a view and writes it; it returns the
// rows confirmed by the store.
func (e *Engine) pullAndWrite(ctx context.Context, v *registry.View, start, end time.Time) (int64, error) {
	codec, q, err := newViewCodec(v, e.KeyVersion)
	if err != nil {
		return 0, err
	}
	src, err := e.Sources.Source(ctx, v.BatchSource)
	if err != nil {
		return 0, fmt.Errorf("feature view %s: %w", v.Name, err)
	}
	size := e.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	q.Start, q.End, q.BatchSize = core.TimestampOf(start), core.TimestampOf(end), size

	writers := max(e.Writers, 1)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	free := make(chan *rowBuf, writers+1)
	for range writers + 1 {
		free <- &rowBuf{}
	}
	jobs := make(chan *rowBuf)
	var written, total atomic.Int64
	total.Store(-1)
	var wg sync.WaitGroup
	name := v.StorageName()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for buf := range jobs {
				err := e.Store.Write(ctx, onlinestore.WriteBatch{View: name, Features: codec.features, Rows: buf.rows})
				if err != nil {
					cancel(fmt.Errorf("feature view %s: %w", v.Name, err))
				} else {
					n := written.Add(int64(len(buf.rows)))
					if e.Progress != nil {
						e.Progress.RowsWritten(v.Name, n, total.Load())
					}
				}
				free <- buf
			}
		}()
	}
	pullErr := src.PullLatest(ctx, q, func(b *offlinestore.Batch) error {
		if b.Total >= 0 {
			total.Store(b.Total)
		}
		if b.Rows == 0 {
			return nil
		}
		var buf *rowBuf
		select {
		case buf = <-free:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if err := codec.encode(b, buf); err != nil {
			free <- buf
			return fmt.Errorf("source %s: %w", src.Describe(), err)
		}
		select {
		case jobs <- buf:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(jobs)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return written.Load(), cause // a write failed: that is the error to report
	}
	if pullErr != nil {
		return written.Load(), fmt.Errorf("feature view %s: %w", v.Name, pullErr)
	}
	return written.Load(), ctx.Err()
}

// registryOrder lists the project's feature views, then stream feature
// views, in the registry's own order, which is the order Feast visits them.
func registryOrder(snap *registry.Snapshot) []*registry.View {
	var out []*registry.View
	for _, fv := range snap.Proto.GetFeatureViews() {
		if fv.GetSpec().GetProject() != snap.Project {
			continue
		}
		if v, ok := snap.View(fv.GetSpec().GetName()); ok && v.Kind == registry.KindFeatureView {
			out = append(out, v)
		}
	}
	for _, sfv := range snap.Proto.GetStreamFeatureViews() {
		if sfv.GetSpec().GetProject() != snap.Project {
			continue
		}
		if v, ok := snap.View(sfv.GetSpec().GetName()); ok && v.Kind == registry.KindStreamFeatureView {
			out = append(out, v)
		}
	}
	return out
}

func writtenODFVs(snap *registry.Snapshot) []string {
	var out []string
	for _, o := range snap.Proto.GetOnDemandFeatureViews() {
		sp := o.GetSpec()
		if sp.GetProject() == snap.Project && sp.GetWriteToOnlineStore() && !sp.GetDisabled() {
			out = append(out, sp.GetName())
		}
	}
	return out
}

// latestEnd is Feast's most_recent_end_time (zero when never materialized).
func latestEnd(iv []*corepb.MaterializationInterval) time.Time {
	var end time.Time
	for _, i := range iv {
		if t := i.GetEndTime().AsTime(); t.After(end) {
			end = t
		}
	}
	return end
}

// recordedWindows merges the recorded intervals that touch or overlap, in
// recorded order: rewriting a merged window leaves the same latest rows as
// rewriting its parts one after the other.
func recordedWindows(iv []*corepb.MaterializationInterval) [][2]time.Time {
	var out [][2]time.Time
	for _, i := range iv {
		w := [2]time.Time{i.GetStartTime().AsTime(), i.GetEndTime().AsTime()}
		if n := len(out); n > 0 && !w[0].After(out[n-1][1]) && !w[1].Before(out[n-1][0]) {
			if w[0].Before(out[n-1][0]) {
				out[n-1][0] = w[0]
			}
			if w[1].After(out[n-1][1]) {
				out[n-1][1] = w[1]
			}
			continue
		}
		out = append(out, w)
	}
	return out
}

func stateName(s corepb.FeatureViewState) string {
	if n, ok := corepb.FeatureViewState_name[int32(s)]; ok {
		return n
	}
	return strconv.Itoa(int(s))
}

// PyTime prints a time as Python's str() prints an aware datetime:
// "2025-01-08 00:00:00+00:00", with six fraction digits when it has
// microseconds. Feast's messages and CLI output use it.
func PyTime(t time.Time) string {
	if t.Nanosecond() >= 1000 {
		return t.Format("2006-01-02 15:04:05.000000-07:00")
	}
	return t.Format("2006-01-02 15:04:05-07:00")
}
