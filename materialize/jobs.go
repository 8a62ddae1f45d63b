package materialize

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feastgo/feastgo/core"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Jobs runs the materializations the feature server is asked for (Feast's
// POST /materialize and /materialize-incremental): it checks a request in
// Feast's order, refuses views another run holds, and runs the plan at
// once or, for an async request, in the background. Async runs outlive
// their request; Close stops and awaits them.
type Jobs struct {
	Engine *Engine

	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// running counts the runs in progress, sync and async.
	running atomic.Int64
}

// Running is how many runs are in progress now (0 on nil Jobs).
func (j *Jobs) Running() int64 {
	if j == nil {
		return 0
	}
	return j.running.Load()
}

// run is Engine.Run, counted in running.
func (j *Jobs) run(ctx context.Context, tasks []Task) error {
	j.running.Add(1)
	defer j.running.Add(-1)
	_, err := j.Engine.Run(ctx, tasks, false)
	return err
}

// NewJobs runs jobs on an engine; nil for a nil engine.
func NewJobs(e *Engine) *Jobs {
	if e == nil {
		return nil
	}
	j := &Jobs{Engine: e}
	j.ctx, j.cancel = context.WithCancel(context.Background())
	return j
}

// Close cancels async runs (their views get back the state they had before
// the run, as after a failure) and waits for them. It is safe on nil. The
// engine's offline catalog is not closed: it is shared with offline pushes,
// and its owner closes it after this.
func (j *Jobs) Close() {
	if j == nil {
		return
	}
	j.once.Do(j.cancel)
	j.wg.Wait()
}

// Wait waits for the async runs started so far to end.
func (j *Jobs) Wait() { j.wg.Wait() }

// JobRequest is a materialization as a client asks for it.
type JobRequest struct {
	// Start and End are the window's bounds as sent (ISO 8601, naive is
	// UTC); nil when not sent. An incremental run has no Start.
	Start, End *string
	// Views are the views to run; all of them when empty.
	Views []string
	// DisableEventTS runs over all time, ignoring Start and End.
	DisableEventTS bool
	// Version, when set, is the one view's version to write.
	Version     *string
	Incremental bool
	// Async answers once the views are reserved and runs in the background.
	Async bool
	// Force resets views the registry shows as MATERIALIZING (another
	// server's or a crashed run) instead of refusing them; async only.
	Force bool
}

// BusyError refuses a run whose views are already materializing.
type BusyError struct{ Views []string }

func (e *BusyError) Error() string {
	return "feature views already materializing: " + strings.Join(e.Views, ", ")
}

// Start checks and plans req, then runs it, or for an async request
// reserves its views and starts the run. It returns the views run; an
// error is the request's (core kinds) or the run's, and *BusyError when a
// view is already being materialized.
func (j *Jobs) Start(ctx context.Context, req JobRequest) ([]string, error) {
	mreq, tasks, err := j.Plan(ctx, req)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(tasks))
	for i, t := range tasks {
		names[i] = t.View.Name
	}
	release, busy := j.Engine.Begin(names)
	if busy == nil && req.Async {
		busy, err = j.materializingInRegistry(ctx, names, req.Force)
		if err != nil {
			release()
			return nil, err
		}
		if busy != nil {
			release()
		}
	}
	if busy != nil {
		return nil, &BusyError{Views: busy}
	}
	if !req.Async {
		defer release()
		if err := j.run(ctx, tasks); err != nil {
			return nil, err
		}
		return names, nil
	}
	// Reserve the views before answering, so a concurrent request sees
	// MATERIALIZING and gets 409, as with Feast. The run gives each view
	// the state it has now back if it fails, as the sync path does.
	if err := j.Engine.Reserve(ctx, tasks); err != nil {
		release()
		return nil, err
	}
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		defer release()
		if err := j.run(j.ctx, tasks); err != nil {
			j.Engine.log().Error("async materialization failed", "views", strings.Join(names, ","), "start", mreq.Start, "end", mreq.End, "err", err)
		}
	}()
	return names, nil
}

// Plan resolves views first and parses timestamps second, in Feast's
// order, so the same mistake gets the same error.
func (j *Jobs) Plan(ctx context.Context, req JobRequest) (Request, []Task, error) {
	e := j.Engine
	var mreq Request
	snap, err := e.Snapshot(ctx)
	if err != nil {
		return mreq, nil, err
	}
	mreq.Views, mreq.Incremental, mreq.Version = req.Views, req.Incremental, req.Version
	if len(req.Views) == 0 {
		mreq.Views = nil // Feast: an empty list means all views too
	}
	// The window is needed by Plan only to check it; resolve names first.
	named, err := e.Plan(snap, Request{Views: mreq.Views, Incremental: true, Version: mreq.Version})
	if err != nil {
		return mreq, nil, err
	}
	if err := authorize(ctx, snap, named); err != nil {
		return mreq, nil, err
	}
	if err := req.window(&mreq); err != nil {
		return mreq, nil, err
	}
	tasks, err := e.Plan(snap, mreq)
	return mreq, tasks, err
}

// window sets the run's window from the request's bounds.
func (req JobRequest) window(mreq *Request) error {
	parse := func(field, s string) (time.Time, error) {
		t, err := core.ParseTime(s)
		if err != nil {
			return time.Time{}, core.Invalidf("Invalid timestamp format: %s: %v", field, err)
		}
		return t.Time(), nil
	}
	var err error
	switch {
	case req.Incremental:
		if req.End == nil {
			return core.Invalidf("end_ts is required")
		}
		mreq.End, err = parse("end_ts", *req.End)
		return err
	case req.DisableEventTS:
		mreq.Start, mreq.End = time.Unix(0, 0).UTC(), time.Now().UTC()
		return nil
	case req.Start == nil || req.End == nil:
		return core.Invalidf("start_ts and end_ts are required when disable_event_timestamp is False")
	}
	if mreq.Start, err = parse("start_ts", *req.Start); err != nil {
		return err
	}
	if mreq.End, err = parse("end_ts", *req.End); err != nil {
		return err
	}
	if !mreq.Start.Before(mreq.End) {
		return core.Invalidf("start_ts (%s) must be before end_ts (%s)", PyTime(mreq.Start), PyTime(mreq.End))
	}
	return nil
}

// materializingInRegistry returns the views the registry shows as
// MATERIALIZING (started by another server or a crashed run). With force
// they are reset to GENERATED instead, as Feast's ?force=true does.
func (j *Jobs) materializingInRegistry(ctx context.Context, names []string, force bool) ([]string, error) {
	e := j.Engine
	snap, err := e.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var stuck []string
	for _, n := range names {
		if v, ok := snap.View(n); ok && v.State == corepb.FeatureViewState_MATERIALIZING {
			stuck = append(stuck, n)
		}
	}
	if !force || len(stuck) == 0 {
		return stuck, nil
	}
	e.log().Info("force reset MATERIALIZING to GENERATED", "views", strings.Join(stuck, ","))
	return nil, e.SetStates(ctx, stuck, corepb.FeatureViewState_GENERATED)
}
