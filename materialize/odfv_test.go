package materialize

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/core"
	sqlitestore "github.com/feastgo/feastgo/onlinestore/sqlite"
	"github.com/feastgo/feastgo/transformations"
)

// odfvGolden is a repo Feast 0.67.0 applied: feature_repo/ plus
// odfv_materialized.py (the write_to_online_store ODFVs of
// conformance/test_odfv_materialize.py). feast_online.db holds the ODFV
// tables Feast wrote with `feast materialize 2025-01-01T00:00:00
// 2025-01-08T00:00:00 --views mat_py --views mat_pandas --views
// mat_py_request --views mat_two_timestamps` (tables made first as that
// test does); the conformance test checks the same against live Feast.
var odfvGolden = filepath.Join("testdata", "odfv")

// odfvNamed are ODFVs of the golden store the native engine runs here
// (mat_py_module needs Python, mat_py reads Float32 values, which it
// leaves to Python).
var odfvNamed = []string{"mat_pandas", "mat_py_request", "mat_two_timestamps"}

// odfvRepo is a temp copy of the golden repo with the demo parquet files
// and no online store.
func odfvRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		filepath.Join(odfvGolden, "feature_store.yaml"):  "feature_store.yaml",
		filepath.Join(odfvGolden, "data", "registry.db"): filepath.Join("data", "registry.db"),
	}
	parquets, err := filepath.Glob(filepath.Join("..", "feature_repo", "data", "*.parquet"))
	if err != nil || len(parquets) == 0 {
		t.Fatalf("no demo parquet files (%v)", err)
	}
	for _, p := range parquets {
		files[p] = filepath.Join("data", filepath.Base(p))
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
	return dir
}

// odfvTables keeps the ODFV tables of a sqliteRows dump, with the event
// and created times (the write time) replaced by "<ts>"; times collects
// the distinct times seen.
func odfvTables(rows map[string][]string, times map[string]bool) map[string][]string {
	out := map[string][]string{}
	for table, rs := range rows {
		if !strings.HasPrefix(table, "pipeline_monitoring_mat_") || strings.HasSuffix(table, "_ek") {
			continue
		}
		for _, r := range rs {
			// The row ends with its event and created times, printed
			// as sql.NullInt64s: "{1767323045 true} {1767323045 true}".
			i := strings.LastIndex(r, "{")
			i = strings.LastIndex(r[:i], "{")
			times[r[i:]] = true
			out[table] = append(out[table], r[:i]+"<ts>")
		}
	}
	return out
}

// Materializing the ODFVs leaves Feast's rows, byte for byte but for the
// write time, which is our clock's; the registry is not written (Feast
// records nothing for on-demand views) and the two-timestamp view is
// skipped, as Feast skips it.
func TestODFVMatchesFeast(t *testing.T) {
	repo := odfvRepo(t)
	store, err := sqlitestore.Open(filepath.Join(repo, "data", "online.db"), "pipeline_monitoring")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e := newTestEngine(t, repo, store)
	e.Transformer = transformations.New(transformations.Options{Execution: transformations.Native})
	regPath := filepath.Join(repo, "data", "registry.db")
	before, err := os.ReadFile(regPath)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Materialize(context.Background(), Request{Start: winStart, End: winEnd, Views: odfvNamed})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, v := range res.Views {
		rows[v.Name] = v.Rows
	}
	if rows["mat_pandas"] != 10 || rows["mat_py_request"] != 10 || rows["mat_two_timestamps"] != 0 {
		t.Errorf("rows per view %v", rows)
	}
	feastTimes, ourTimes := map[string]bool{}, map[string]bool{}
	want := odfvTables(sqliteRows(t, filepath.Join(odfvGolden, "feast_online.db")), feastTimes)
	got := odfvTables(sqliteRows(t, filepath.Join(repo, "data", "online.db")), ourTimes)
	for table, rs := range want {
		named := false
		for _, n := range odfvNamed {
			named = named || table == "pipeline_monitoring_"+n
		}
		if len(rs) == 0 || !named {
			delete(want, table) // Feast's empty tables (made before its run), views not named here
		}
	}
	compareRows(t, want, got)
	if len(ourTimes) != 1 || len(feastTimes) == 0 {
		t.Errorf("write times: ours %v (want one, the clock's), Feast's %v", ourTimes, feastTimes)
	}
	if now := e.Now().Unix(); !ourTimes[fmt.Sprintf("{%d true} {%d true}", now, now)] {
		t.Errorf("our write times %v, want the clock's (%d)", ourTimes, now)
	}
	if after, err := os.ReadFile(regPath); err != nil || !bytes.Equal(before, after) {
		t.Errorf("materializing on-demand views only must not write the registry (%v)", err)
	}
}

// Planned with every view, the written ODFVs come first (Feast runs them
// inside its loop, the other views after it), disabled and read-time
// ODFVs are left out, and an incremental run starts each at end − the
// longest ttl of its source views, whatever was materialized before.
func TestODFVPlan(t *testing.T) {
	e := newTestEngine(t, odfvRepo(t), &memStore{})
	snap, err := e.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := e.Plan(snap, Request{Incremental: true, End: winEnd})
	if err != nil {
		t.Fatal(err)
	}
	var odfvs []string
	for i, task := range tasks {
		if task.ODFV == nil {
			if i < 5 {
				t.Errorf("task %d is feature view %s, before an on-demand view", i, task.View.Name)
			}
			continue
		}
		odfvs = append(odfvs, task.ODFV.Name)
		want := [2]time.Time{winEnd.Add(-30 * 24 * time.Hour), winEnd}
		if len(task.Windows) != 1 || task.Windows[0] != want {
			t.Errorf("%s windows %v, want %v", task.ODFV.Name, task.Windows, want)
		}
	}
	var want []string // registry order, as Feast lists them
	for _, o := range snap.Proto.GetOnDemandFeatureViews() {
		if o.GetSpec().GetWriteToOnlineStore() {
			want = append(want, o.GetSpec().GetName())
		}
	}
	if got := strings.Join(odfvs, ","); len(want) != 5 || got != strings.Join(want, ",") {
		t.Errorf("on-demand views planned: %s, want %v", got, want)
	}
	if err := e.Reserve(context.Background(), tasks); err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if (task.Before == nil) != (task.ODFV != nil) {
			t.Errorf("%s: Reserve set Before %v (on-demand views have no state)", task.View.Name, task.Before)
		}
	}
	e.restoreStates(context.Background(), tasks)
}

// An ODFV that cannot be evaluated fails the run before any feature view
// is written, as in Feast, with the error naming the view; an engine
// without a Transformer refuses ODFVs with 501.
func TestODFVFailureStopsTheRun(t *testing.T) {
	repo := odfvRepo(t)
	store := &memStore{}
	e := newTestEngine(t, repo, store)
	before := loadRegistry(t, repo)
	e.Transformer = transformations.New(transformations.Options{Execution: transformations.Native})
	_, err := e.Materialize(context.Background(), Request{Start: winStart, End: winEnd})
	if err == nil || !strings.Contains(err.Error(), "mat_py") {
		t.Fatalf("got %v, want mat_py's failure", err)
	}
	if store.writes != 0 {
		t.Errorf("%d writes before the failure:\n%s", store.writes, store.dump())
	}
	after := loadRegistry(t, repo)
	for i, fv := range after.GetFeatureViews() {
		was := before.GetFeatureViews()[i]
		if n := len(fv.GetMeta().GetMaterializationIntervals()); n != 0 || fv.GetMeta().GetState() != was.GetMeta().GetState() {
			t.Errorf("%s: %d intervals, state %v after the failed run, want none and %v",
				fv.GetSpec().GetName(), n, fv.GetMeta().GetState(), was.GetMeta().GetState())
		}
	}

	e.Transformer = nil
	_, err = e.Materialize(context.Background(), Request{Start: winStart, End: winEnd, Views: []string{"mat_pandas"}})
	if core.KindOf(err) != core.KindUnimplemented || !strings.Contains(err.Error(), "mat_pandas") {
		t.Errorf("without a Transformer: %v (kind %v), want 501 naming mat_pandas", err, core.KindOf(err))
	}
}
