package materialize

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

func str(s string) *string { return &s }

// jobState reads a view's state from the registry.
func jobState(t *testing.T, e *Engine, view string) corepb.FeatureViewState {
	t.Helper()
	snap, err := e.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, ok := snap.View(view)
	if !ok {
		t.Fatalf("no view %s", view)
	}
	return v.State
}

// A job request is checked in Feast's order: the views are resolved before
// the timestamps are read, so a request wrong in both gets the view's error.
func TestJobRequestErrors(t *testing.T) {
	j := NewJobs(newTestEngine(t, demoRepo(t), &memStore{}))
	defer j.Close()
	cases := []struct {
		name string
		req  JobRequest
		kind core.Kind
		msg  string
	}{
		{"unknown view before a bad timestamp", JobRequest{Start: str("soon"), End: str("2025-01-02"), Views: []string{"nope"}}, core.KindNotFound, "Feature view nope does not exist"},
		{"bad timestamp", JobRequest{Start: str("soon"), End: str("2025-01-02")}, core.KindInvalidArgument, "Invalid timestamp format: start_ts"},
		{"no window", JobRequest{}, core.KindInvalidArgument, "start_ts and end_ts are required when disable_event_timestamp is False"},
		{"start after end", JobRequest{Start: str("2025-01-02"), End: str("2025-01-01")}, core.KindInvalidArgument, "must be before end_ts"},
		{"incremental bad end", JobRequest{End: str("x"), Incremental: true}, core.KindInvalidArgument, "Invalid timestamp format: end_ts"},
		{"incremental without end", JobRequest{Incremental: true}, core.KindInvalidArgument, "end_ts is required"},
		{"version without one view", JobRequest{Start: str("2025-01-01"), End: str("2025-01-02"), Version: str("v2")}, core.KindInvalidArgument, "--version requires --views"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := j.Start(context.Background(), c.req)
			if err == nil || core.KindOf(err) != c.kind || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("got %v (kind %v), want kind %v with %q", err, core.KindOf(err), c.kind, c.msg)
			}
		})
	}
}

// A view held by a run of this server, or shown MATERIALIZING by the
// registry (an async request only), is refused with the views named;
// Force resets the registry's state instead.
func TestJobConflicts(t *testing.T) {
	e := newTestEngine(t, demoRepo(t), &memStore{})
	j := NewJobs(e)
	defer j.Close()
	ctx := context.Background()
	req := JobRequest{Start: str("2025-01-01T00:00:00"), End: str("2025-01-08T00:00:00"), Views: []string{"team_stats"}}
	release, _ := e.Begin([]string{"team_stats"})
	for _, async := range []bool{false, true} {
		req.Async = async
		_, err := j.Start(ctx, req)
		var busy *BusyError
		if !errors.As(err, &busy) || len(busy.Views) != 1 || busy.Views[0] != "team_stats" {
			t.Errorf("async=%v on a held view: %v", async, err)
		}
	}
	release()
	if err := e.SetStates(ctx, []string{"team_stats"}, corepb.FeatureViewState_MATERIALIZING); err != nil {
		t.Fatal(err)
	}
	req.Async = true
	if _, err := j.Start(ctx, req); !errors.As(err, new(*BusyError)) {
		t.Errorf("MATERIALIZING in the registry: %v", err)
	}
	req.Force = true
	views, err := j.Start(ctx, req)
	if err != nil || len(views) != 1 || views[0] != "team_stats" {
		t.Fatalf("force: %v %v", views, err)
	}
	j.Wait()
	if s := jobState(t, e, "team_stats"); s != corepb.FeatureViewState_AVAILABLE_ONLINE {
		t.Errorf("after the forced run: %v", s)
	}
}

// waitingStore blocks every write until its context ends.
type waitingStore struct {
	once    sync.Once
	started chan struct{}
}

func (s *waitingStore) Write(ctx context.Context, _ onlinestore.WriteBatch) error {
	s.once.Do(func() { close(s.started) })
	<-ctx.Done()
	return ctx.Err()
}

// An async run reserves its views before Start returns (a concurrent
// request sees MATERIALIZING), outlives the request's context, and when
// Close cuts it short gives every view its state back.
func TestAsyncJobOutlivesRequestAndCloseRestores(t *testing.T) {
	store := &waitingStore{started: make(chan struct{})}
	e := newTestEngine(t, demoRepo(t), store)
	j := NewJobs(e)
	ctx, cancel := context.WithCancel(context.Background())
	views, err := j.Start(ctx, JobRequest{Start: str("2025-01-01T00:00:00"), End: str("2025-01-08T00:00:00"),
		Views: []string{"pipeline_stats", "team_stats"}, Async: true})
	cancel() // the request is answered
	if err != nil || len(views) != 2 {
		t.Fatalf("%v %v", views, err)
	}
	for _, v := range views {
		if s := jobState(t, e, v); s != corepb.FeatureViewState_MATERIALIZING {
			t.Errorf("%s is %v once Start returns, want MATERIALIZING", v, s)
		}
	}
	<-store.started
	j.Close()
	for _, v := range views {
		if s := jobState(t, e, v); s != corepb.FeatureViewState_AVAILABLE_ONLINE {
			t.Errorf("%s is %v after Close, want AVAILABLE_ONLINE back", v, s)
		}
	}
}
