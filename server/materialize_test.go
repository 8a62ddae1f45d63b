package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/materialize"
	"github.com/feastgo/feastgo/offlinestore/catalog"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/onlinestore/sqlite"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// materializeStack serves a temp copy of Feast's golden repo (registry,
// config, the demo parquet files) over an empty SQLite store.
func materializeStack(t *testing.T) (*HTTP, *registry.Registry) {
	t.Helper()
	return materializeStackOpts(t, registry.Options{})
}

// materializeStackOpts is materializeStack with registry options (the
// project is filled in).
func materializeStackOpts(t *testing.T, opts registry.Options) (*HTTP, *registry.Registry) {
	t.Helper()
	golden := filepath.Join("testdata", "golden", "sqlite", "repo")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		filepath.Join(golden, "feature_store.yaml"):  "feature_store.yaml",
		filepath.Join(golden, "data", "registry.db"): "data/registry.db",
	}
	parquets, _ := filepath.Glob(filepath.Join("..", "feature_repo", "data", "*.parquet"))
	for _, p := range parquets {
		files[p] = "data/" + filepath.Base(p)
	}
	for from, to := range files {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts.Project = cfg.Project
	reg, err := registry.Open(ctx, &registry.FileSource{Path: filepath.Join(dir, "data", "registry.db")}, opts)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(filepath.Join(dir, "data", "online.db"), cfg.Project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	eng := &materialize.Engine{Project: cfg.Project, Registry: reg.Source(), Store: store, Sources: catalog.Open(cfg),
		KeyVersion: 3, RegistryChanged: func() { _ = reg.Refresh(ctx) }}
	m := materialize.NewJobs(eng)
	t.Cleanup(m.Close)
	svc := &online.Service{Snapshot: reg.Current, Store: store, KeyVersion: 3}
	return &HTTP{Online: svc, Registry: reg, Materialize: m}, reg
}

func state(t *testing.T, reg *registry.Registry, view string) corepb.FeatureViewState {
	t.Helper()
	if err := reg.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, ok := reg.Current().View(view)
	if !ok {
		t.Fatalf("no view %s", view)
	}
	return v.State
}

// waitState polls the registry until the view reaches the state (an async
// run ends).
func waitState(t *testing.T, reg *registry.Registry, view string, want corepb.FeatureViewState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := state(t, reg, view)
		if s == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s stayed %v, want %v", view, s, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMaterializeEndpoint(t *testing.T) {
	hs, reg := materializeStack(t)
	h := hs.Handler()
	read := func() string {
		_, _, b := post(t, h, "/get-online-features", `{"features": ["pipeline_stats:last_status"], "entities": {"pipeline_id": [7]}}`)
		return b
	}
	if strings.Contains(read(), "cancelled") {
		t.Fatal("the store should start empty")
	}
	code, ctype, body := post(t, h, "/materialize", `{"start_ts": "2025-01-01T00:00:00", "end_ts": "2025-01-08T00:00:00", "feature_views": ["pipeline_stats"]}`)
	if code != 200 || body != "null" || ctype != "application/json" {
		t.Fatalf("sync: %d %s %s", code, ctype, body)
	}
	if !strings.Contains(read(), `"cancelled"`) {
		t.Errorf("values not served after /materialize: %s", read())
	}
	v, _ := reg.Current().View("pipeline_stats")
	if n := len(v.MaterializationIntervals); n != 2 {
		t.Errorf("%d intervals recorded, want 2", n)
	}

	// Async: 202 with the resolved views, which are MATERIALIZING until done.
	code, _, body = post(t, h, "/materialize-incremental?async=true", `{"end_ts": "2025-01-09T00:00:00", "feature_views": ["team_stats", "platform_stats"]}`)
	if code != http.StatusAccepted || body != `{"status":"accepted","feature_views":["team_stats","platform_stats"]}` {
		t.Fatalf("async: %d %s", code, body)
	}
	waitState(t, reg, "team_stats", corepb.FeatureViewState_AVAILABLE_ONLINE)
	waitState(t, reg, "platform_stats", corepb.FeatureViewState_AVAILABLE_ONLINE)
}

func TestMaterializeConflicts(t *testing.T) {
	hs, reg := materializeStack(t)
	h := hs.Handler()
	body := `{"start_ts": "2025-01-01T00:00:00", "end_ts": "2025-01-08T00:00:00", "feature_views": ["team_stats"]}`

	// A run of this server holds the view.
	release, _ := hs.Materialize.Engine.Begin([]string{"team_stats"})
	code, _, got := post(t, h, "/materialize?async=true", body)
	release()
	want := `{"error":"Cannot start async materialization — the following feature views are already in MATERIALIZING state: ['team_stats']. Use ?force=true to override.","feature_views":["team_stats"]}`
	if code != http.StatusConflict || got != want {
		t.Errorf("busy view: %d %s", code, got)
	}

	// The registry says MATERIALIZING (another server, or a crashed run).
	if err := hs.Materialize.Engine.SetStates(context.Background(), []string{"team_stats"}, corepb.FeatureViewState_MATERIALIZING); err != nil {
		t.Fatal(err)
	}
	if code, _, got := post(t, h, "/materialize?async=true", body); code != http.StatusConflict {
		t.Errorf("MATERIALIZING in the registry: %d %s", code, got)
	}
	if code, _, got := post(t, h, "/materialize?async=true&force=true", body); code != http.StatusAccepted {
		t.Errorf("force: %d %s", code, got)
	}
	waitState(t, reg, "team_stats", corepb.FeatureViewState_AVAILABLE_ONLINE)
}

func TestMaterializeBadRequests(t *testing.T) {
	hs, _ := materializeStack(t)
	h := hs.Handler()
	cases := []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"unknown view", "/materialize", `{"start_ts": "2025-01-01", "end_ts": "2025-01-02", "feature_views": ["nope"]}`, 404,
			`"{\"module\": \"feast.errors\", \"class\": \"FeatureViewNotFoundException\", \"message\": \"Feature view nope does not exist in project pipeline_monitoring\"}"`},
		{"start after end", "/materialize", `{"start_ts": "2025-01-02", "end_ts": "2025-01-01"}`, 400, `must be before end_ts`},
		{"equal bounds", "/materialize", `{"start_ts": "2025-01-02", "end_ts": "2025-01-02"}`, 400, `must be before end_ts`},
		{"no window", "/materialize", `{}`, 400, `start_ts and end_ts are required when disable_event_timestamp is False`},
		{"bad timestamp", "/materialize", `{"start_ts": "soon", "end_ts": "2025-01-02"}`, 400, `Invalid timestamp format`},
		{"number for a timestamp", "/materialize", `{"start_ts": 5, "end_ts": "2025-01-02"}`, 422, `"type":"string_type","loc":["body","start_ts"]`},
		{"views not a list", "/materialize", `{"start_ts": "2025-01-01", "end_ts": "2025-01-02", "feature_views": "team_stats"}`, 422, `"type":"list_type"`},
		{"view not a string", "/materialize", `{"start_ts": "2025-01-01", "end_ts": "2025-01-02", "feature_views": ["a", 3]}`, 422, `"loc":["body","feature_views",1],"msg":"Input should be a valid string","input":3`},
		{"bad bool", "/materialize", `{"disable_event_timestamp": "maybe"}`, 422, `"type":"bool_parsing"`},
		{"incremental without end", "/materialize-incremental", `{"feature_views": ["team_stats"]}`, 422, `"type":"missing","loc":["body","end_ts"]`},
		{"not JSON", "/materialize", `{`, 422, `"type":"json_invalid"`},
		{"version without one view", "/materialize", `{"start_ts": "2025-01-01", "end_ts": "2025-01-02", "version": "v2"}`, 400, `--version requires --views with exactly one feature view.`},
		{"version without versioning", "/materialize", `{"start_ts": "2025-01-01", "end_ts": "2025-01-02", "version": "v2", "feature_views": ["team_stats"]}`, 400, `Version-aware materialization requires 'enable_online_feature_view_versioning: true'`},
		{"bad async flag", "/materialize?async=maybe", `{"start_ts": "2025-01-01", "end_ts": "2025-01-02"}`, 422, `"type":"bool_parsing","loc":["query","async"]`},
		{"on-demand view not written", "/materialize", `{"start_ts": "2025-01-01", "end_ts": "2025-01-02", "feature_views": ["pipeline_risk"]}`, 400,
			`OnDemandFeatureView pipeline_risk is not configured for write_to_online_store.`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, got := post(t, h, c.path, c.body)
			if code != c.code || !strings.Contains(got, c.want) {
				t.Errorf("got %d %s, want %d with %s", code, got, c.code, c.want)
			}
		})
	}
}

// A sync request on a view that an async run holds gets 409 rather than a
// second run writing the same rows.
func TestMaterializeSyncWaitsForNobody(t *testing.T) {
	hs, _ := materializeStack(t)
	release, _ := hs.Materialize.Engine.Begin([]string{"platform_stats"})
	defer release()
	start := time.Now()
	code, _, _ := post(t, hs.Handler(), "/materialize", `{"start_ts": "2025-01-01", "end_ts": "2025-01-08", "feature_views": ["platform_stats"]}`)
	if code != http.StatusConflict || time.Since(start) > 5*time.Second {
		t.Errorf("sync on a busy view: %d after %v", code, time.Since(start))
	}
}

// flakyStore fails every write while down is set, as a store that is
// briefly unreachable does.
type flakyStore struct {
	onlinestore.Writer
	down    atomic.Bool
	refused atomic.Int64
}

func (f *flakyStore) Write(ctx context.Context, b onlinestore.WriteBatch) error {
	if f.down.Load() {
		f.refused.Add(1)
		return core.Unavailable(errors.New("connection refused"), "online store write failed")
	}
	return f.Writer.Write(ctx, b)
}

// A materialization that fails because the store was briefly down leaves
// every view it claimed in the state it had before the run, on the sync
// path and on the async one, so reads keep working and keep working after
// a restart (the state is in the registry file).
func TestFailedMaterializeRestoresState(t *testing.T) {
	const window = `"start_ts": "2025-01-01T00:00:00", "end_ts": "2025-01-08T00:00:00"`
	// The async path fails on the first view and never starts the second:
	// both were reserved, both must come back.
	read := `{"features": ["pipeline_stats:last_status", "team_stats:team_size"], "entities": {"pipeline_id": [7], "team_id": ["t1"]}}`
	for _, path := range []string{"/materialize", "/materialize?async=true"} {
		t.Run(path, func(t *testing.T) {
			hs, reg := materializeStack(t)
			h := hs.Handler()
			flaky := &flakyStore{Writer: hs.Materialize.Engine.Store}
			hs.Materialize.Engine.Store = flaky
			views := []string{"pipeline_stats", "team_stats"}
			for _, v := range views {
				if s := state(t, reg, v); s != corepb.FeatureViewState_AVAILABLE_ONLINE {
					t.Fatalf("%s starts %v", v, s)
				}
			}
			body := `{` + window + `, "feature_views": ["pipeline_stats", "team_stats"]}`
			flaky.down.Store(true)
			code, _, got := post(t, h, path, body)
			hs.Materialize.Wait()
			if async := strings.Contains(path, "async"); async && code != http.StatusAccepted || !async && code != http.StatusServiceUnavailable {
				t.Fatalf("while the store is down: %d %s", code, got)
			}
			if flaky.refused.Load() == 0 {
				t.Fatal("the run never reached the store")
			}
			// A restart reads the registry file afresh.
			fresh, err := registry.Open(context.Background(), reg.Source(), registry.Options{Project: reg.Current().Project})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range views {
				fv, _ := fresh.Current().View(v)
				if fv.State != corepb.FeatureViewState_AVAILABLE_ONLINE {
					t.Errorf("%s is %v after the failed run, want AVAILABLE_ONLINE back", v, fv.State)
				}
			}
			flaky.down.Store(false)
			if code, _, got := post(t, h, "/get-online-features", read); code != http.StatusOK {
				t.Errorf("read after the store is back: %d %s", code, got)
			}
			if code, _, got := post(t, h, strings.Split(path, "?")[0], body); code != http.StatusOK {
				t.Errorf("re-run after the store is back: %d %s", code, got)
			}
		})
	}
}

// An async run cut short by shutdown gives its views their state back too.
func TestCancelledAsyncMaterializeRestoresState(t *testing.T) {
	hs, reg := materializeStack(t)
	h := hs.Handler()
	started := make(chan struct{})
	var once sync.Once
	hs.Materialize.Engine.Store = blockingStore(func(ctx context.Context) error {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return ctx.Err()
	})
	code, _, got := post(t, h, "/materialize?async=true", `{"start_ts": "2025-01-01T00:00:00", "end_ts": "2025-01-08T00:00:00", "feature_views": ["pipeline_stats", "team_stats"]}`)
	if code != http.StatusAccepted {
		t.Fatalf("%d %s", code, got)
	}
	<-started
	hs.Materialize.Close()
	for _, v := range []string{"pipeline_stats", "team_stats"} {
		if s := state(t, reg, v); s != corepb.FeatureViewState_AVAILABLE_ONLINE {
			t.Errorf("%s is %v after shutdown, want AVAILABLE_ONLINE back", v, s)
		}
	}
}

type blockingStore func(ctx context.Context) error

func (b blockingStore) Write(ctx context.Context, _ onlinestore.WriteBatch) error { return b(ctx) }

// While this server materializes a view, reads of it answer 503 (Feast's
// default) or, with serve_features_while_materializing, the rows already
// in the store.
func TestReadsDuringMaterialization(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("serve_features_while_materializing=%v", on), func(t *testing.T) {
			hs, reg := materializeStackOpts(t, registry.Options{ServeWhileMaterializing: on})
			h := hs.Handler()
			const window = `"start_ts": "2025-01-01T00:00:00", "end_ts": "2025-01-08T00:00:00", "feature_views": ["pipeline_stats"]`
			if code, _, got := post(t, h, "/materialize", `{`+window+`}`); code != http.StatusOK {
				t.Fatalf("first run: %d %s", code, got)
			}
			started, finish := make(chan struct{}), make(chan struct{})
			var once sync.Once
			store := hs.Materialize.Engine.Store
			hs.Materialize.Engine.Store = blockingStore(func(ctx context.Context) error {
				once.Do(func() { close(started) })
				select {
				case <-finish:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			defer func() { hs.Materialize.Engine.Store = store }()
			if code, _, got := post(t, h, "/materialize?async=true", `{`+window+`}`); code != http.StatusAccepted {
				t.Fatalf("async run: %d %s", code, got)
			}
			<-started
			if s := state(t, reg, "pipeline_stats"); s != corepb.FeatureViewState_MATERIALIZING {
				t.Fatalf("state during the run: %v", s)
			}
			code, _, got := post(t, h, "/get-online-features", `{"features": ["pipeline_stats:last_status"], "entities": {"pipeline_id": [7]}}`)
			if on && (code != http.StatusOK || !strings.Contains(got, `"cancelled"`)) ||
				!on && (code != http.StatusServiceUnavailable || !strings.Contains(got, `is in state 'MATERIALIZING'`)) {
				t.Errorf("read during the run: %d %s", code, got)
			}
			close(finish)
			hs.Materialize.Wait()
			if s := state(t, reg, "pipeline_stats"); s != corepb.FeatureViewState_AVAILABLE_ONLINE {
				t.Errorf("state after the run: %v", s)
			}
		})
	}
}
