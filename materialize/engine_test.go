package materialize

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore/catalog"
	"github.com/feastgo/feastgo/onlinestore"
	sqlitestore "github.com/feastgo/feastgo/onlinestore/sqlite"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// golden is the repo state Feast 0.67.0 produced with `feast apply` and
// `feast materialize 2025-01-01T00:00:00 2025-01-08T00:00:00` (refreshed by
// the conformance run).
var golden = filepath.Join("..", "server", "testdata", "golden", "sqlite", "repo")

var (
	winStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	winEnd   = time.Date(2025, 1, 8, 0, 0, 0, 0, time.UTC)
)

// demoRepo is a temp repo with Feast's registry, config and the demo
// parquet files, and no online store.
func demoRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	cp := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cp(filepath.Join(golden, "feature_store.yaml"), filepath.Join(dir, "feature_store.yaml"))
	cp(filepath.Join(golden, "data", "registry.db"), filepath.Join(dir, "data", "registry.db"))
	parquets, _ := filepath.Glob(filepath.Join("..", "feature_repo", "data", "*.parquet"))
	if len(parquets) == 0 {
		t.Fatal("no demo parquet files")
	}
	for _, p := range parquets {
		cp(p, filepath.Join(dir, "data", filepath.Base(p)))
	}
	return dir
}

// newTestEngine wires an engine to the repo's registry and the given store.
func newTestEngine(t *testing.T, repo string, store onlinestore.Writer) *Engine {
	t.Helper()
	cfg, err := config.Load(repo, "")
	if err != nil {
		t.Fatal(err)
	}
	src, err := registry.NewSource(context.Background(), cfg.Registry.Path, cfg.RepoDir)
	if err != nil {
		t.Fatal(err)
	}
	s := catalog.Open(cfg)
	t.Cleanup(func() { _ = s.Close() })
	return &Engine{Project: cfg.Project, Registry: src, Store: store, Sources: s,
		KeyVersion: cfg.EntityKeySerializationVersion, Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
}

// sqliteRows dumps every table of an online.db, rows sorted.
func sqliteRows(t *testing.T, path string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		if err := tables.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	tables.Close()
	out := map[string][]string{}
	for _, n := range names {
		rows, err := db.Query(`SELECT entity_key, feature_name, value, value_text, event_ts, created_ts FROM "` + n + `" ORDER BY entity_key, feature_name`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var key, val []byte
			var name string
			var text sql.NullString
			var ts, created sql.NullInt64
			if err := rows.Scan(&key, &name, &val, &text, &ts, &created); err != nil {
				t.Fatal(err)
			}
			out[n] = append(out[n], fmt.Sprintf("%x %s %x %v %v %v", key, name, val, text, ts, created))
		}
		rows.Close()
	}
	return out
}

func compareRows(t *testing.T, want, got map[string][]string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("the golden online store is empty")
	}
	for table, w := range want {
		g := got[table]
		if strings.Join(w, "\n") != strings.Join(g, "\n") {
			t.Errorf("table %s differs from Feast's: %d rows vs %d", table, len(g), len(w))
			for i := range min(len(w), len(g)) {
				if w[i] != g[i] {
					t.Errorf("  first difference:\n  feast %s\n  ours  %s", w[i], g[i])
					break
				}
			}
		}
	}
	for table := range got {
		if _, ok := want[table]; !ok {
			t.Errorf("table %s is not in Feast's store", table)
		}
	}
}

func loadRegistry(t *testing.T, repo string) *corepb.Registry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "data", "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(b, reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// Our materialization of Feast's repo leaves the SQLite rows Feast left,
// byte for byte, and records the interval as Feast does.
func TestSQLiteMatchesFeast(t *testing.T) {
	repo := demoRepo(t)
	store, err := sqlitestore.Open(filepath.Join(repo, "data", "online.db"), "pipeline_monitoring")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	before := loadRegistry(t, repo)
	e := newTestEngine(t, repo, store)
	res, err := e.Materialize(context.Background(), Request{Start: winStart, End: winEnd})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Views) != 7 || res.Rows != 54 {
		t.Errorf("result %+v, want 7 views and 54 rows", res)
	}
	compareRows(t, sqliteRows(t, filepath.Join(golden, "data", "online.db")), sqliteRows(t, filepath.Join(repo, "data", "online.db")))

	after := loadRegistry(t, repo)
	if after.GetVersionId() == before.GetVersionId() {
		t.Error("the registry's version_id must change")
	}
	var order, wantOrder []string
	for _, fv := range before.GetFeatureViews() {
		wantOrder = append(wantOrder, fv.GetSpec().GetName())
	}
	for _, fv := range after.GetFeatureViews() {
		order = append(order, fv.GetSpec().GetName())
		iv := fv.GetMeta().GetMaterializationIntervals()
		if len(iv) != 2 || !iv[1].GetStartTime().AsTime().Equal(winStart) || !iv[1].GetEndTime().AsTime().Equal(winEnd) {
			t.Errorf("%s intervals: %v", fv.GetSpec().GetName(), iv)
		}
		if fv.GetMeta().GetState() != corepb.FeatureViewState_AVAILABLE_ONLINE {
			t.Errorf("%s state %v", fv.GetSpec().GetName(), fv.GetMeta().GetState())
		}
	}
	// Each view moves to the end once, in registry order: the order is back.
	if strings.Join(order, ",") != strings.Join(wantOrder, ",") {
		t.Errorf("view order %v, want %v", order, wantOrder)
	}
}

// Replay rebuilds Feast's store from the registry's intervals and does not
// touch the registry: what `make run` does on a fresh checkout.
func TestReplayRebuildsFeastStore(t *testing.T) {
	repo := demoRepo(t)
	store, err := sqlitestore.Open(filepath.Join(repo, "data", "online.db"), "pipeline_monitoring")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	regPath := filepath.Join(repo, "data", "registry.db")
	before, _ := os.ReadFile(regPath)
	e := newTestEngine(t, repo, store)
	if _, err := e.Materialize(context.Background(), Request{Replay: true}); err != nil {
		t.Fatal(err)
	}
	compareRows(t, sqliteRows(t, filepath.Join(golden, "data", "online.db")), sqliteRows(t, filepath.Join(repo, "data", "online.db")))
	if after, _ := os.ReadFile(regPath); !bytes.Equal(before, after) {
		t.Error("replay must not write the registry")
	}
}

// memStore is an online store in memory with SQL semantics (last write
// wins); it can be told to fail.
type memStore struct {
	mu     sync.Mutex
	rows   map[string]string // view|key → "ts values..."
	writes int
	fail   func(view string, n int) error
}

func (m *memStore) Write(_ context.Context, b onlinestore.WriteBatch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if m.fail != nil {
		if err := m.fail(b.View, m.writes); err != nil {
			return err
		}
	}
	if m.rows == nil {
		m.rows = map[string]string{}
	}
	for _, r := range b.Rows {
		m.rows[b.View+"|"+string(r.Key)] = fmt.Sprintf("%v %v %x", r.TS, r.Created, r.Values)
	}
	return nil
}

func (m *memStore) dump() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.rows))
	for k := range m.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%x=%s\n", k, m.rows[k])
	}
	return b.String()
}

// A store that goes away mid-run: clear error, the failing view is not
// recorded and gets its state back, views done before stay recorded; a
// re-run ends in the state of one clean run.
func TestFailedViewIsNotRecorded(t *testing.T) {
	clean := &memStore{}
	if _, err := newTestEngine(t, demoRepo(t), clean).Materialize(context.Background(), Request{Start: winStart, End: winEnd}); err != nil {
		t.Fatal(err)
	}

	repo := demoRepo(t)
	order := []string{}
	for _, fv := range loadRegistry(t, repo).GetFeatureViews() {
		order = append(order, fv.GetSpec().GetName())
	}
	failing := order[2]
	down := errors.New("connection refused")
	store := &memStore{fail: func(view string, _ int) error {
		if view == failing {
			return core.Unavailable(down, "online store redis write failed")
		}
		return nil
	}}
	e := newTestEngine(t, repo, store)
	res, err := e.Materialize(context.Background(), Request{Start: winStart, End: winEnd})
	if err == nil || !errors.Is(err, down) || !strings.Contains(err.Error(), failing) {
		t.Fatalf("want the store's error naming view %s, got %v", failing, err)
	}
	if core.KindOf(err) != core.KindUnavailable {
		t.Errorf("kind %v, want unavailable", core.KindOf(err))
	}
	if len(res.Views) != 3 {
		t.Errorf("ran %d views, want to stop at the third", len(res.Views))
	}
	for _, fv := range loadRegistry(t, repo).GetFeatureViews() {
		n := len(fv.GetMeta().GetMaterializationIntervals())
		name := fv.GetSpec().GetName()
		want := 1
		if name == order[0] || name == order[1] {
			want = 2
		}
		if n != want {
			t.Errorf("%s has %d intervals, want %d", name, n, want)
		}
		if fv.GetMeta().GetState() != corepb.FeatureViewState_AVAILABLE_ONLINE {
			t.Errorf("%s state %v: the failed view must get its previous state back", name, fv.GetMeta().GetState())
		}
	}

	store.fail = nil
	if _, err := e.Materialize(context.Background(), Request{Start: winStart, End: winEnd}); err != nil {
		t.Fatal(err)
	}
	if got, want := store.dump(), clean.dump(); got != want {
		t.Errorf("after a failure and a re-run the store differs from one clean run")
	}
}

// A cancelled run (Ctrl-C, SIGTERM) stops with the context's error and
// records nothing for the view it was on.
func TestCancelledRun(t *testing.T) {
	repo := demoRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	store := &memStore{fail: func(string, int) error { cancel(); return nil }}
	e := newTestEngine(t, repo, store)
	_, err := e.Materialize(ctx, Request{Start: winStart, End: winEnd})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	recorded := 0
	for _, fv := range loadRegistry(t, repo).GetFeatureViews() {
		if len(fv.GetMeta().GetMaterializationIntervals()) > 1 {
			recorded++
		}
	}
	if recorded > 1 {
		t.Errorf("%d views recorded after cancelling during the first", recorded)
	}
}

func TestIncremental(t *testing.T) {
	repo := demoRepo(t)
	// team_stats was never materialized: it starts at now − ttl (2 days).
	src := &registry.FileSource{Path: filepath.Join(repo, "data", "registry.db")}
	err := registry.Update(context.Background(), src, time.Now(), func(reg *corepb.Registry) error {
		for _, fv := range reg.FeatureViews {
			if fv.GetSpec().GetName() == "team_stats" {
				fv.Meta.MaterializationIntervals = nil
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, repo, &memStore{})
	end := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)
	snap, err := e.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := e.Plan(snap, Request{Incremental: true, End: end, Views: []string{"pipeline_stats", "team_stats"}})
	if err != nil {
		t.Fatal(err)
	}
	if w := tasks[0].Windows; len(w) != 1 || !w[0][0].Equal(winEnd) || !w[0][1].Equal(end) {
		t.Errorf("pipeline_stats window %v, want from the last recorded end", w)
	}
	if w := tasks[1].Windows; !w[0][0].Equal(e.Now().Add(-48 * time.Hour)) {
		t.Errorf("team_stats window %v, want from now − ttl", w)
	}
	if _, err := e.Run(context.Background(), tasks, false); err != nil {
		t.Fatal(err)
	}
	for _, fv := range loadRegistry(t, repo).GetFeatureViews() {
		if fv.GetSpec().GetName() != "pipeline_stats" {
			continue
		}
		iv := fv.GetMeta().GetMaterializationIntervals()
		if last := iv[len(iv)-1]; !last.GetStartTime().AsTime().Equal(winEnd) || !last.GetEndTime().AsTime().Equal(end) {
			t.Errorf("recorded %v", last)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	repo := demoRepo(t)
	e := newTestEngine(t, repo, &memStore{})
	snap, err := e.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  Request
		kind core.Kind
		msg  string
	}{
		{"unknown view", Request{Start: winStart, End: winEnd, Views: []string{"nope"}}, core.KindNotFound, "Feature view nope does not exist in project pipeline_monitoring"},
		{"start after end", Request{Start: winEnd, End: winStart}, core.KindInvalidArgument, "is greater than the given end_date"},
		{"on-demand view not written", Request{Start: winStart, End: winEnd, Views: []string{"pipeline_risk"}}, core.KindInvalidArgument, "OnDemandFeatureView pipeline_risk is not configured for write_to_online_store."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Plan(snap, c.req)
			if err == nil || core.KindOf(err) != c.kind || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("got %v (kind %v), want kind %v with %q", err, core.KindOf(err), c.kind, c.msg)
			}
		})
	}
	if busy := func() []string {
		rel, _ := e.Begin([]string{"a"})
		defer rel()
		_, b := e.Begin([]string{"b", "a"})
		return b
	}(); len(busy) != 1 || busy[0] != "a" {
		t.Errorf("Begin conflict: %v", busy)
	}
}
