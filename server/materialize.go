package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/internal/feastjson"
	"github.com/feastgo/feastgo/materialize"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Materializer runs POST /materialize and /materialize-incremental. Runs
// started with ?async=true outlive their request; Close stops and awaits
// them.
type Materializer struct {
	Engine *materialize.Engine

	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewMaterializer wraps an engine for the HTTP API; nil for a nil engine.
func NewMaterializer(e *materialize.Engine) *Materializer {
	if e == nil {
		return nil
	}
	m := &Materializer{Engine: e}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m
}

// Close cancels async runs (their views get back the state they had before
// the run, as after a failure) and waits for them. It is safe on nil.
func (m *Materializer) Close() {
	if m == nil {
		return
	}
	m.once.Do(m.cancel)
	m.wg.Wait()
	if m.Engine.Sources != nil {
		m.Engine.Sources.Close()
	}
}

// materializeRoutes registers the materialization endpoints.
func (h *HTTP) materializeRoutes(r chi.Router) {
	r.Post("/materialize", func(w http.ResponseWriter, r *http.Request) { h.materialize(w, r, false) })
	r.Post("/materialize-incremental", func(w http.ResponseWriter, r *http.Request) { h.materialize(w, r, true) })
}

func (h *HTTP) materialize(w http.ResponseWriter, r *http.Request, incremental bool) {
	m := h.Materialize
	bp, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if !utf8.Valid(*bp) {
		bufPool.Put(bp)
		writeDetail(w, http.StatusBadRequest, bodyParseError)
		return
	}
	req, err := feastjson.ParseMaterializeRequest(*bp, incremental)
	if err != nil {
		writeValidationError(w, *bp, err)
		bufPool.Put(bp)
		return
	}
	bufPool.Put(bp)
	async, err := queryBool(r, "async")
	if err != nil {
		writeValidationError(w, nil, err)
		return
	}
	force, err := queryBool(r, "force")
	if err != nil {
		writeValidationError(w, nil, err)
		return
	}

	mreq, tasks, err := h.planMaterialize(r.Context(), req, incremental)
	if err != nil {
		h.logError(r, err)
		writeError(w, err)
		return
	}
	names := make([]string, len(tasks))
	for i, t := range tasks {
		names[i] = t.View.Name
	}
	ctx := r.Context()
	release, busy := m.Engine.Begin(names)
	if busy == nil && async {
		busy, err = h.materializingInRegistry(ctx, names, force)
		if err != nil {
			release()
			h.logError(r, err)
			writeError(w, err)
			return
		}
		if busy != nil {
			release()
		}
	}
	if busy != nil {
		writeConflict(w, busy)
		return
	}
	if !async {
		defer release()
		if _, err := m.Engine.Run(ctx, tasks, false); err != nil {
			h.logError(r, err)
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("null"))
		return
	}
	// Reserve the views before answering, so a concurrent request sees
	// MATERIALIZING and gets 409, as with Feast. The run gives each view
	// the state it has now back if it fails, as the sync path does.
	if err := m.Engine.Reserve(ctx, tasks); err != nil {
		release()
		h.logError(r, err)
		writeError(w, err)
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer release()
		if _, err := m.Engine.Run(m.ctx, tasks, false); err != nil {
			h.Log.Error("async materialization failed", "views", strings.Join(names, ","), "start", mreq.Start, "end", mreq.End, "err", err)
		}
	}()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(feastjson.AppendMaterializeAccepted(nil, names))
}

// planMaterialize resolves views first and parses timestamps second, in
// Feast's order, so the same mistake gets the same error.
func (h *HTTP) planMaterialize(ctx context.Context, req *feastjson.MaterializeRequest, incremental bool) (materialize.Request, []materialize.Task, error) {
	e := h.Materialize.Engine
	var mreq materialize.Request
	snap, err := e.Snapshot(ctx)
	if err != nil {
		return mreq, nil, err
	}
	mreq.Views, mreq.Incremental, mreq.Version = req.Views, incremental, req.Version
	if req.HasViews && len(req.Views) == 0 {
		mreq.Views = nil // Feast: an empty list means all views too
	}
	// The window is needed by Plan only to check it; resolve names first.
	if _, err := e.Plan(snap, materialize.Request{Views: mreq.Views, Incremental: true, Version: mreq.Version}); err != nil {
		return mreq, nil, err
	}
	parse := func(field, s string) (time.Time, error) {
		t, err := ingest.ParseTime(s)
		if err != nil {
			return time.Time{}, core.Invalidf("Invalid timestamp format: %s: %v", field, err)
		}
		return t.Time(), nil
	}
	switch {
	case incremental:
		if mreq.End, err = parse("end_ts", *req.EndTS); err != nil {
			return mreq, nil, err
		}
	case req.DisableEventTS:
		mreq.Start, mreq.End = time.Unix(0, 0).UTC(), time.Now().UTC()
	default:
		if req.StartTS == nil || req.EndTS == nil {
			return mreq, nil, core.Invalidf("start_ts and end_ts are required when disable_event_timestamp is False")
		}
		if mreq.Start, err = parse("start_ts", *req.StartTS); err != nil {
			return mreq, nil, err
		}
		if mreq.End, err = parse("end_ts", *req.EndTS); err != nil {
			return mreq, nil, err
		}
		if !mreq.Start.Before(mreq.End) {
			return mreq, nil, core.Invalidf("start_ts (%s) must be before end_ts (%s)", materialize.PyTime(mreq.Start), materialize.PyTime(mreq.End))
		}
	}
	tasks, err := e.Plan(snap, mreq)
	return mreq, tasks, err
}

// materializingInRegistry returns the views the registry shows as
// MATERIALIZING (started by another server or a crashed run). With force
// they are reset to GENERATED instead, as Feast's ?force=true does.
func (h *HTTP) materializingInRegistry(ctx context.Context, names []string, force bool) ([]string, error) {
	e := h.Materialize.Engine
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
	h.Log.Info("force reset MATERIALIZING to GENERATED", "views", strings.Join(stuck, ","))
	return nil, e.SetStates(ctx, stuck, corepb.FeatureViewState_GENERATED)
}

// writeConflict is Feast's 409 for views already materializing.
func writeConflict(w http.ResponseWriter, views []string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusConflict)
	_, _ = w.Write(feastjson.AppendMaterializeConflict(nil, views))
}

// queryBool reads a FastAPI bool query parameter (absent is false); a
// value pydantic cannot read as a bool is a 422, as in Feast.
func queryBool(r *http.Request, name string) (bool, error) {
	v, ok := r.URL.Query()[name]
	if !ok || len(v) == 0 {
		return false, nil
	}
	return feastjson.ParseQueryBool(name, v[len(v)-1])
}
