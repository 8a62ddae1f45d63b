package offlinetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// RunHistorical runs the point-in-time join suite against an engine that
// joins (offlinestore.HistoricalEngine): the same tables and entity frames
// give the same rows on every engine.
func RunHistorical(t *testing.T, b Backend) {
	he, ok := b.Engine.(offlinestore.HistoricalEngine)
	if !ok {
		t.Fatalf("%T does not implement offlinestore.HistoricalEngine", b.Engine)
	}
	cases := []struct {
		name string
		fn   func(t *testing.T, b Backend, he offlinestore.HistoricalEngine)
	}{
		{"TTLBoundInclusive", testHistTTL},
		{"NoTTL", testHistNoTTL},
		{"CreatedTies", testHistTies},
		{"CompositeKey", testHistComposite},
		{"Entityless", testHistEntityless},
		{"Nulls", testHistNulls},
		{"ZeroMatches", testHistZero},
		{"Batches", testHistBatches},
		{"MissingKeyColumn", testHistMissingKey},
		{"RangeSingleView", testRangeSingle},
		{"RangeEntityless", testRangeEntityless},
		{"RangeEmpty", testRangeEmpty},
		{"RangeBatches", testRangeBatches},
	}
	if b.Range == 0 {
		t.Fatal("Backend.Range is not set: which Feast store's range mode does the engine give?")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, b, he) })
	}
}

// EntityRow is one row of a test entity frame: its keys (int64 or string
// or nil, by frame column) and event time; every frame also carries a
// "label" column the engines must ignore.
type EntityRow struct {
	Keys map[string]any
	TS   time.Time
}

// Frame builds an entity frame with the key columns named (int64 unless
// a row holds a string), "event_timestamp" and "label".
func Frame(t *testing.T, keys []string, rows []EntityRow) arrow.RecordBatch {
	t.Helper()
	var fields []arrow.Field
	for _, k := range keys {
		typ := arrow.DataType(arrow.PrimitiveTypes.Int64)
		for _, r := range rows {
			if _, ok := r.Keys[k].(string); ok {
				typ = arrow.BinaryTypes.String
			}
		}
		fields = append(fields, arrow.Field{Name: k, Type: typ, Nullable: true})
	}
	fields = append(fields,
		arrow.Field{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		arrow.Field{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true})
	rb := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer rb.Release()
	for i, r := range rows {
		for j, k := range keys {
			switch v := r.Keys[k].(type) {
			case nil:
				rb.Field(j).AppendNull()
			case int64:
				rb.Field(j).(*array.Int64Builder).Append(v)
			case string:
				rb.Field(j).(*array.StringBuilder).Append(v)
			default:
				t.Fatalf("key %s: %T", k, v)
			}
		}
		tb := rb.Field(len(keys)).(*array.TimestampBuilder)
		if r.TS.IsZero() {
			tb.AppendNull()
		} else {
			tb.Append(arrow.Timestamp(r.TS.UnixMicro()))
		}
		rb.Field(len(keys) + 1).(*array.StringBuilder).Append(fmt.Sprint("label", i))
	}
	return rb.NewRecordBatch()
}

// view is the usual view over the features table: key id, ts, created,
// features v (as "v_out") and s.
func view(b Backend, t *testing.T, tbl Table, ttl time.Duration) offlinestore.HistoricalView {
	return offlinestore.HistoricalView{Name: "fv", Source: b.Create(t, tbl),
		Keys:            []offlinestore.KeyColumn{{Frame: "id", Source: "id"}},
		TimestampColumn: "ts", CreatedColumn: "created", TTL: ttl,
		Features: []offlinestore.FeatureColumn{{Source: "v", Output: "v_out"}, {Source: "s", Output: "s"}}}
}

// join runs q and returns each output column as Go values in frame order
// (float64, string, int64 or nil), checking the batch contract.
func join(t *testing.T, he offlinestore.HistoricalEngine, q *offlinestore.HistoricalQuery) (map[string][]any, error) {
	t.Helper()
	out := map[string][]any{}
	calls := 0
	err := he.Historical(context.Background(), q, func(rec arrow.RecordBatch) error {
		calls++
		if int(rec.NumRows()) > q.Size() {
			t.Errorf("batch of %d rows, limit %d", rec.NumRows(), q.Size())
		}
		for c, f := range rec.Schema().Fields() {
			col := rec.Column(c)
			for i := 0; i < col.Len(); i++ {
				out[f.Name] = append(out[f.Name], cell(col, i))
			}
		}
		return nil
	})
	if err == nil && calls == 0 {
		t.Error("fn was never called")
	}
	return out, err
}

func cell(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch a := col.(type) {
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	}
	return col.ValueStr(i)
}

func mustJoin(t *testing.T, he offlinestore.HistoricalEngine, q *offlinestore.HistoricalQuery) map[string][]any {
	t.Helper()
	if q.EventTimeColumn == "" {
		q.EventTimeColumn = "event_timestamp"
	}
	if q.Entities != nil {
		defer q.Entities.Release()
	}
	got, err := join(t, he, q)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func want(t *testing.T, got map[string][]any, col string, vals ...any) {
	t.Helper()
	if g := got[col]; !reflect.DeepEqual(g, vals) && !(len(g) == 0 && len(vals) == 0) {
		t.Errorf("column %s = %v, want %v", col, g, vals)
	}
}

func ids(ts time.Time, keys ...any) []EntityRow {
	var rows []EntityRow
	for _, k := range keys {
		rows = append(rows, EntityRow{Keys: map[string]any{"id": k}, TS: ts})
	}
	return rows
}

func testHistTTL(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	v := view(b, t, Table{Columns: features, Rows: [][]any{
		{int64(1), h(10), h(10), 1.0, "a"},
		{int64(1), h(12), h(12), 2.0, "b"},
		{int64(2), h(5), h(5), 3.0, "c"},
	}}, 3*time.Hour)
	frame := []EntityRow{
		{Keys: map[string]any{"id": int64(1)}, TS: h(11)},                       // 1 h old: 1
		{Keys: map[string]any{"id": int64(1)}, TS: h(15)},                       // exactly ttl old: 2
		{Keys: map[string]any{"id": int64(1)}, TS: h(15).Add(time.Microsecond)}, // too old
		{Keys: map[string]any{"id": int64(1)}, TS: h(9)},                        // before every row
		{Keys: map[string]any{"id": int64(2)}, TS: h(8)},                        // exactly ttl: 3
		{Keys: map[string]any{"id": int64(2)}, TS: h(9)},                        // too old
		{Keys: map[string]any{"id": int64(1)}, TS: h(12)},                       // at the row's time: 2
	}
	got := mustJoin(t, he, &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"id"}, frame), Views: []offlinestore.HistoricalView{v}})
	want(t, got, "v_out", 1.0, 2.0, nil, nil, 3.0, nil, 2.0)
	want(t, got, "s", "a", "b", nil, nil, "c", nil, "b")
}

func testHistNoTTL(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	v := view(b, t, Table{Columns: features, Rows: [][]any{
		{int64(1), h(10), h(10), 1.0, "a"},
		{int64(2), h(-1000), h(0), 2.0, "old"},
	}}, 0)
	frame := append(ids(h(10000), int64(1), int64(2), int64(3)), EntityRow{Keys: map[string]any{"id": int64(1)}, TS: h(9)})
	got := mustJoin(t, he, &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"id"}, frame), Views: []offlinestore.HistoricalView{v}})
	want(t, got, "v_out", 1.0, 2.0, nil, nil)
}

func testHistTies(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	v := view(b, t, Table{Columns: features, Rows: [][]any{
		{int64(1), h(10), h(12), 1.0, "later created"},
		{int64(1), h(10), h(11), 2.0, "x"},
		{int64(1), h(10), nil, 3.0, "null created"},
		{int64(2), h(10), nil, 4.0, "null created"},
		{int64(2), h(10), h(1), 5.0, "created"},
		{int64(3), h(9), h(20), 6.0, "older, created later"},
		{int64(3), h(10), h(10), 7.0, "newer"},
	}}, 0)
	got := mustJoin(t, he, &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"id"}, ids(h(10), int64(1), int64(2), int64(3))), Views: []offlinestore.HistoricalView{v}})
	want(t, got, "v_out", 1.0, 5.0, 7.0)
}

func testHistComposite(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	cols := []Column{{"a", core.Int64}, {"b", core.String}, {"ts", core.UnixTimestamp}, {"v", core.Double}}
	ds := b.Create(t, Table{Columns: cols, Rows: [][]any{
		{int64(1), "x", h(1), 1.0},
		{int64(1), "y", h(1), 2.0},
		{int64(2), "x", h(1), 3.0},
	}})
	v := offlinestore.HistoricalView{Name: "fv", Source: ds, TimestampColumn: "ts",
		// The frame names the keys differently (a join_key_map).
		Keys:     []offlinestore.KeyColumn{{Frame: "fa", Source: "a"}, {Frame: "fb", Source: "b"}},
		Features: []offlinestore.FeatureColumn{{Source: "v", Output: "v"}}}
	var frame []EntityRow
	for _, k := range [][2]any{{int64(1), "y"}, {int64(2), "x"}, {int64(2), "y"}, {int64(1), "x"}, {nil, "x"}} {
		frame = append(frame, EntityRow{Keys: map[string]any{"fa": k[0], "fb": k[1]}, TS: h(2)})
	}
	got := mustJoin(t, he, &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"fa", "fb"}, frame), Views: []offlinestore.HistoricalView{v}})
	want(t, got, "v", 2.0, 3.0, nil, 1.0, nil)
}

func testHistEntityless(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	cols := []Column{{"ts", core.UnixTimestamp}, {"v", core.Double}}
	ds := b.Create(t, Table{Columns: cols, Rows: [][]any{{h(1), 1.0}, {h(5), 5.0}, {h(3), 3.0}}})
	v := offlinestore.HistoricalView{Name: "global", Source: ds, TimestampColumn: "ts", TTL: 2 * time.Hour,
		Features: []offlinestore.FeatureColumn{{Source: "v", Output: "total"}}}
	// A keyed view beside it: the frame has its key, the entityless one
	// matches every row by time alone.
	kv := view(b, t, Table{Columns: features, Rows: [][]any{{int64(1), h(0), h(0), 10.0, "k"}}}, 0)
	frame := append(ids(h(4), int64(1), int64(2)), ids(h(0), int64(1))...)
	frame = append(frame, ids(h(8), int64(1))...)
	got := mustJoin(t, he, &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"id"}, frame), Views: []offlinestore.HistoricalView{v, kv}})
	want(t, got, "total", 3.0, 3.0, nil, nil)
	want(t, got, "v_out", 10.0, nil, 10.0, 10.0)
}

func testHistNulls(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	v := view(b, t, Table{Columns: features, Rows: [][]any{
		{int64(1), h(1), h(1), 1.0, "old"},
		{int64(1), h(2), h(2), nil, nil}, // the latest row's nulls win
		{nil, h(2), h(2), 9.0, "null key"},
		{int64(2), nil, h(2), 9.0, "null time"},
	}}, 0)
	frame := append(ids(h(3), int64(1), nil, int64(2)), EntityRow{Keys: map[string]any{"id": int64(1)}}, EntityRow{Keys: map[string]any{"id": int64(1)}, TS: h(1)})
	got := mustJoin(t, he, &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"id"}, frame), Views: []offlinestore.HistoricalView{v}})
	want(t, got, "v_out", nil, nil, nil, nil, 1.0)
	want(t, got, "s", nil, nil, nil, nil, "old")
	if _, ok := got["label"]; ok {
		t.Error("the frame's label came back from the engine; the caller puts the frame beside the features")
	}
}

func testHistZero(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	v := view(b, t, Table{Columns: features, Rows: [][]any{{int64(1), h(10), h(10), 1.0, "a"}}}, time.Hour)
	got := mustJoin(t, he, &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"id"}, ids(h(5), int64(1), int64(7))), Views: []offlinestore.HistoricalView{v}})
	want(t, got, "v_out", nil, nil)
	// A 0-row frame: one 0-row batch with the schema.
	q := &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"id"}, nil), Views: []offlinestore.HistoricalView{v}, EventTimeColumn: "event_timestamp"}
	defer q.Entities.Release()
	var fields []string
	if err := he.Historical(context.Background(), q, func(rec arrow.RecordBatch) error {
		for _, f := range rec.Schema().Fields() {
			fields = append(fields, f.Name)
		}
		if rec.NumRows() != 0 {
			t.Errorf("%d rows for a 0-row frame", rec.NumRows())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fields, []string{"v_out", "s"}) {
		t.Errorf("0-row frame: fields %v, want [v_out s]", fields)
	}
}

func testHistBatches(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	var rows [][]any
	var frame []EntityRow
	var wantV []any
	for i := range 23 {
		rows = append(rows, []any{int64(i), h(i), h(i), float64(i), "r"})
		// Frame rows in reverse key order, every third without a match.
		k := int64(22 - i)
		ts := h(int(k))
		if i%3 == 0 {
			ts = h(int(k) - 1)
			wantV = append(wantV, nil)
		} else {
			wantV = append(wantV, float64(k))
		}
		frame = append(frame, EntityRow{Keys: map[string]any{"id": k}, TS: ts})
	}
	v := view(b, t, Table{Columns: features, Rows: rows}, 0)
	got := mustJoin(t, he, &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"id"}, frame), Views: []offlinestore.HistoricalView{v}, BatchSize: 5})
	want(t, got, "v_out", wantV...)
}

func testHistMissingKey(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	v := view(b, t, Table{Columns: features, Rows: [][]any{{int64(1), h(10), h(10), 1.0, "a"}}}, 0)
	q := &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"other"}, ids(h(5), int64(1))), Views: []offlinestore.HistoricalView{v}, EventTimeColumn: "event_timestamp"}
	defer q.Entities.Release()
	_, err := join(t, he, q)
	if core.KindOf(err) != core.KindInvalidArgument {
		t.Errorf("frame without the join key: %v (kind %v), want an invalid argument naming \"id\"", err, core.KindOf(err))
	}
	// An unknown source column.
	v.Features = append(v.Features, offlinestore.FeatureColumn{Source: "nope", Output: "nope"})
	q = &offlinestore.HistoricalQuery{Entities: Frame(t, []string{"id"}, ids(h(5), int64(1))), Views: []offlinestore.HistoricalView{v}, EventTimeColumn: "event_timestamp"}
	defer q.Entities.Release()
	if _, err := join(t, he, q); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown source column: %v, want an error naming the column nope", err)
	}
}
