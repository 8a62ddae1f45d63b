package parquet

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// row is one test row: id, feature, event time (µs since epoch), created
// time (µs, -1 for null).
type row struct {
	id      int64
	f       float64
	ts      int64
	created int64
}

func us(t time.Time) int64 { return t.UnixMicro() }

var day0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// writeFile writes rows with the given timestamp zone ("" = naive) and
// row-group size.
func writeFile(t *testing.T, path string, rows []row, tz string, rowGroup int64) {
	t.Helper()
	tsType := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: tz}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "event_ts", Type: tsType, Nullable: true},
		{Name: "created", Type: tsType, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.id)
		if math.IsNaN(r.f) {
			b.Field(1).(*array.Float64Builder).AppendNull()
		} else {
			b.Field(1).(*array.Float64Builder).Append(r.f)
		}
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(r.ts))
		if r.created < 0 {
			b.Field(3).(*array.TimestampBuilder).AppendNull()
		} else {
			b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(r.created))
		}
	}
	writeBuilt(t, path, schema, b, rowGroup)
}

// writeBuilt writes what b holds to a parquet file at path, in row groups
// of rowGroup rows.
func writeBuilt(t *testing.T, path string, schema *arrow.Schema, b *array.RecordBuilder, rowGroup int64) {
	t.Helper()
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	props := pq.NewWriterProperties(pq.WithMaxRowGroupLength(rowGroup))
	if err := pqarrow.WriteTable(tbl, f, rowGroup, props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
}

type got struct {
	id          int64
	f           core.Value
	ts, created core.Timestamp
}

func pull(t *testing.T, src offlinestore.Source, q offlinestore.Query) (map[int64]got, int) {
	t.Helper()
	out := map[int64]got{}
	batches := 0
	err := src.PullLatest(context.Background(), q, func(b *offlinestore.Batch) error {
		batches++
		if b.Rows > q.Size() {
			t.Errorf("batch of %d rows, limit %d", b.Rows, q.Size())
		}
		for i := 0; i < b.Rows; i++ {
			r := b.Row(i)
			g := got{id: r[0].I, f: r[1], ts: b.TS[i]}
			if b.Created != nil {
				g.created = b.Created[i]
			}
			if _, dup := out[g.id]; dup {
				t.Errorf("key %d returned twice", g.id)
			}
			out[g.id] = g
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, batches
}

func query(start, end time.Time) offlinestore.Query {
	return offlinestore.Query{Columns: []string{"id", "f"}, KeyColumns: 1, TimestampColumn: "event_ts",
		CreatedColumn: "created", Start: core.TimestampOf(start), End: core.TimestampOf(end)}
}

func TestLatestPerKey(t *testing.T) {
	h := func(n int) int64 { return us(day0.Add(time.Duration(n) * time.Hour)) }
	rows := []row{
		{1, 1.0, h(1), h(1)},
		{1, 2.0, h(3), h(3)}, // latest for 1
		{1, 3.0, h(2), h(9)},
		{2, 4.0, h(5), h(5)},
		{2, 5.0, h(5), h(6)}, // same event time, later created: wins
		{2, 6.0, h(5), -1},   // null created loses the tie
		{3, 7.0, h(10), h(10)},
		{3, 8.0, h(30), h(30)}, // outside the window
		{4, 9.0, h(24), h(24)}, // exactly at the end: inclusive
		{5, math.NaN(), h(0), h(0)},
		{6, 1.5, h(-1), h(-1)}, // before the window
	}
	for _, tz := range []string{"UTC", "", "America/New_York"} {
		t.Run("tz="+tz, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data.parquet")
			writeFile(t, path, rows, tz, 3) // several row groups
			res, _ := pull(t, New(path), query(day0, day0.Add(24*time.Hour)))
			want := map[int64]float64{1: 2.0, 2: 5.0, 3: 7.0, 4: 9.0}
			for id, f := range want {
				g, ok := res[id]
				if !ok || g.f.Type != core.Double || g.f.F != f {
					t.Errorf("key %d: got %+v, want f=%v", id, g, f)
				}
			}
			if g := res[5]; !g.f.IsNull() {
				t.Errorf("key 5: a null feature must stay null, got %+v", g.f)
			}
			if _, ok := res[6]; ok {
				t.Error("key 6 has no row in the window")
			}
			if g := res[2]; g.created != core.TimestampOf(day0.Add(6*time.Hour)) || g.ts != core.TimestampOf(day0.Add(5*time.Hour)) {
				t.Errorf("key 2 timestamps: %+v", g)
			}
			if len(res) != 5 {
				t.Errorf("got %d keys, want 5", len(res))
			}
		})
	}
}

func TestBatchesAndDirectory(t *testing.T) {
	dir := t.TempDir()
	var a, b []row
	for i := int64(0); i < 2500; i++ {
		a = append(a, row{i, float64(i), us(day0), -1})
		// The second file has newer rows for the even keys.
		if i%2 == 0 {
			b = append(b, row{i, float64(-i), us(day0.Add(time.Minute)), -1})
		}
	}
	writeFile(t, filepath.Join(dir, "part-0.parquet"), a, "UTC", 1000)
	writeFile(t, filepath.Join(dir, "part-1.parquet"), b, "UTC", 700)
	if err := os.WriteFile(filepath.Join(dir, "_SUCCESS"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	q := query(day0, day0.Add(time.Hour))
	q.BatchSize = 300
	res, batches := pull(t, New(dir), q)
	if len(res) != 2500 {
		t.Fatalf("got %d keys, want 2500", len(res))
	}
	if batches < 2500/300 {
		t.Errorf("only %d batches", batches)
	}
	for i := int64(0); i < 2500; i++ {
		want := float64(i)
		if i%2 == 0 {
			want = float64(-i)
		}
		if res[i].f.F != want {
			t.Fatalf("key %d: f=%v, want %v", i, res[i].f.F, want)
		}
	}
}

func TestEntityless(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.parquet")
	writeFile(t, path, []row{{1, 1, us(day0), -1}, {2, 2, us(day0.Add(time.Hour)), -1}, {3, 3, us(day0.Add(time.Minute)), -1}}, "UTC", 2)
	q := query(day0, day0.Add(2*time.Hour))
	q.KeyColumns = 0
	res, _ := pull(t, New(path), q)
	if len(res) != 1 || res[2].f.F != 2 {
		t.Fatalf("entityless pull: %+v, want only the latest row (id 2)", res)
	}
}

func TestErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.parquet")
	writeFile(t, path, []row{{1, 1, us(day0), -1}}, "UTC", 10)
	q := query(day0, day0.Add(time.Hour))
	q.Columns = []string{"id", "nope"}
	err := New(path).PullLatest(context.Background(), q, func(*offlinestore.Batch) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Errorf("missing column: %v", err)
	}
	err = New(filepath.Join(t.TempDir(), "absent.parquet")).PullLatest(context.Background(), query(day0, day0), func(*offlinestore.Batch) error { return nil })
	if err == nil {
		t.Error("a missing file must be an error")
	}
	stop := errors.New("stop")
	err = New(path).PullLatest(context.Background(), query(day0, day0.Add(time.Hour)), func(*offlinestore.Batch) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("fn's error must come back as is, got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := New(path).PullLatest(ctx, query(day0, day0.Add(time.Hour)), func(*offlinestore.Batch) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// Pass one's errors: a time column that holds no times, and a file of a
// directory that is not parquet.
func TestTimeColumnAndFileErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.parquet"), []row{{1, 1, us(day0), -1}}, "UTC", 10)
	pullErr := func(path string, q offlinestore.Query) error {
		return New(path).PullLatest(context.Background(), q, func(*offlinestore.Batch) error { return nil })
	}
	q := query(day0, day0.Add(time.Hour))
	q.TimestampColumn = "f"
	if err := pullErr(dir, q); err == nil || !strings.Contains(err.Error(), `timestamp column "f": arrow type float64 is not a timestamp or date`) {
		t.Errorf("float event time: %v", err)
	}
	q = query(day0, day0.Add(time.Hour))
	q.CreatedColumn = "f"
	if err := pullErr(dir, q); err == nil || !strings.Contains(err.Error(), `created timestamp column "f": arrow type float64 is not a timestamp or date`) {
		t.Errorf("float created time: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.parquet"), []byte("not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pullErr(dir, query(day0, day0.Add(time.Hour))); err == nil || !strings.Contains(err.Error(), "b.parquet") {
		t.Errorf("a file that is not parquet: %v", err)
	}
}

// The demo repo's pipeline_stats: pipeline 7 has two rows at the same event
// time and the later created one (last_status "cancelled") must win.
func TestDemoRepoTieBreak(t *testing.T) {
	path := filepath.Join("..", "..", "feature_repo", "data", "pipeline_stats.parquet")
	q := offlinestore.Query{Columns: []string{"pipeline_id", "last_status", "is_active", "success_rate"}, KeyColumns: 1,
		TimestampColumn: "event_timestamp", CreatedColumn: "created",
		Start: core.TimestampOf(day0), End: core.TimestampOf(day0.AddDate(0, 0, 7))}
	found := 0
	err := New(path).PullLatest(context.Background(), q, func(b *offlinestore.Batch) error {
		if b.Total != 10 {
			t.Errorf("Total = %d, want 10", b.Total)
		}
		for i := 0; i < b.Rows; i++ {
			r := b.Row(i)
			if r[0].I == 7 {
				found++
				if r[1].S != "cancelled" || r[2].Type != core.Bool || r[2].I != 0 {
					t.Errorf("pipeline 7: %+v, want the later created row", r)
				}
			}
			if r[3].Type != core.Float {
				t.Errorf("success_rate is float32 in the file: got type %s", r[3].Type)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != 1 {
		t.Fatalf("pipeline 7 returned %d times", found)
	}
}

func TestListsAndTypes(t *testing.T) {
	path := filepath.Join("..", "..", "feature_repo", "data", "pipeline_history.parquet")
	q := offlinestore.Query{Columns: []string{"pipeline_id", "recent_execution_times", "recent_error_counts", "recent_statuses", "last_run_at", "retry_count", "cpu_samples"},
		KeyColumns: 1, TimestampColumn: "event_timestamp", CreatedColumn: "created",
		Start: core.TimestampOf(day0), End: core.TimestampOf(day0.AddDate(0, 0, 7))}
	err := New(path).PullLatest(context.Background(), q, func(b *offlinestore.Batch) error {
		for i := 0; i < b.Rows; i++ {
			r := b.Row(i)
			want := []core.ValueType{core.Int64, core.DoubleList, core.Int64List, core.StringList, core.UnixTimestamp, core.Int32, core.FloatList}
			for j, w := range want {
				if r[j].Type != w && !(j == 5 && r[0].I == 9) {
					t.Errorf("pipeline %d column %s: type %s, want %s", r[0].I, q.Columns[j], r[j].Type, w)
				}
			}
			if r[0].I == 9 {
				if len(r[1].List) != 0 || r[1].Type != core.DoubleList || !r[5].IsNull() {
					t.Errorf("pipeline 9: empty lists and a null retry_count expected, got %+v", r)
				}
			} else if len(r[1].List) == 0 || len(r[1].List) != len(r[3].List) {
				t.Errorf("pipeline %d: list lengths %d/%d", r[0].I, len(r[1].List), len(r[3].List))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
