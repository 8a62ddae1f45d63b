// Package offlinetest is the suite every offline engine runs against its
// real back end, as onlinestore/storetest is for online stores: the same
// tables, the same pulls and appends, the same expectations, so that the
// "latest row per key" contract of offlinestore.Source (see source.go) and
// the append round trip cannot differ between parquet, PostgreSQL and the
// next engine without a test failing.
//
// It imports only offlinestore, core and the registry protos (plus the
// standard testing package); engines import it from their tests.
package offlinetest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Column is one column of a test table. Type is core.Int64, core.Double,
// core.String or core.UnixTimestamp (a time with microseconds, in UTC).
type Column struct {
	Name string
	Type core.ValueType
}

// Table is a test table: its columns and rows. A cell is an int64, a
// float64, a string, a time.Time or nil (null), matching its column.
type Table struct {
	Columns []Column
	Rows    [][]any
}

// Backend is what an engine's test gives the suite.
type Backend struct {
	// Engine is the engine under test.
	Engine offlinestore.Engine
	// Create makes a fresh table holding tbl's rows, in order, registers
	// its removal with t.Cleanup, and returns the data source the
	// registry would record for it (claimed by Engine).
	Create func(t *testing.T, tbl Table) *corepb.DataSource
	// Range names the Feast offline store whose range-mode answer
	// (get_historical_features without an entity frame) the engine
	// gives: RangeFile or RangeSQL. The two differ in Feast.
	Range RangeKind
}

// RangeKind is a family of range-mode answers.
type RangeKind int

const (
	// RangeFile is Feast's file (dask) store: one row per join key, its
	// latest row as of the end date (within the ttl), event_timestamp the
	// end date; the start date bounds nothing.
	RangeFile RangeKind = iota + 1
	// RangeSQL is Feast's postgres store: the source rows in [start, end]
	// as they are, with their own event (and created) timestamps.
	RangeSQL
)

// Run runs the whole suite; each case creates its own tables.
func Run(t *testing.T, b Backend) {
	cases := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"LatestPerKeyWindowInclusive", testWindow},
		{"TieBrokenByCreatedTime", testTies},
		{"NullEventTimeSkipped", testNullEventTime},
		{"Entityless", testEntityless},
		{"CompositeKey", testCompositeKey},
		{"MissingColumnNamed", testMissingColumn},
		{"Batches", testBatches},
		{"EmptyWindow", testEmptyWindow},
		{"AppendThenPull", testAppendThenPull},
		{"AppendRefusesOtherColumns", testAppendColumns},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, b) })
	}
}

// T0 is the suite's epoch; h(n) is n hours after it.
var T0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func h(n int) time.Time { return T0.Add(time.Duration(n) * time.Hour) }

// features is the usual table: a key, an event time, a created time, a
// double and a string.
var features = []Column{
	{"id", core.Int64}, {"ts", core.UnixTimestamp}, {"created", core.UnixTimestamp},
	{"v", core.Double}, {"s", core.String},
}

func query(start, end time.Time) offlinestore.Query {
	return offlinestore.Query{Columns: []string{"id", "v", "s"}, KeyColumns: 1,
		TimestampColumn: "ts", CreatedColumn: "created",
		Start: core.TimestampOf(start), End: core.TimestampOf(end)}
}

// result is one pulled row.
type result struct {
	cells       []core.Value
	ts, created core.Timestamp
}

func source(t *testing.T, b Backend, tbl Table) offlinestore.Source {
	t.Helper()
	ds := b.Create(t, tbl)
	if !b.Engine.Claims(ds) {
		t.Fatalf("the engine does not claim its own data source %v", ds)
	}
	src, err := b.Engine.Source(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	if src.Describe() == "" {
		t.Error("Describe is empty")
	}
	return src
}

// pull returns the rows of a pull keyed by the key cells, checking the
// batch invariants on the way.
func pull(t *testing.T, src offlinestore.Source, q offlinestore.Query) (map[string]result, error) {
	t.Helper()
	out := map[string]result{}
	err := src.PullLatest(context.Background(), q, func(bt *offlinestore.Batch) error {
		if bt.Rows > q.Size() {
			t.Errorf("batch of %d rows, limit %d", bt.Rows, q.Size())
		}
		if bt.Width != len(q.Columns) || len(bt.Values) != bt.Rows*bt.Width || len(bt.TS) != bt.Rows {
			t.Errorf("batch shape: %d rows, width %d, %d cells, %d times", bt.Rows, bt.Width, len(bt.Values), len(bt.TS))
		}
		if (q.CreatedColumn != "") != (bt.Created != nil) || bt.Created != nil && len(bt.Created) != bt.Rows {
			t.Errorf("created times: %d for %d rows (created column %q)", len(bt.Created), bt.Rows, q.CreatedColumn)
		}
		for i := 0; i < bt.Rows; i++ {
			r := result{cells: append([]core.Value(nil), bt.Row(i)...), ts: bt.TS[i]}
			if bt.Created != nil {
				r.created = bt.Created[i]
			}
			k := key(r.cells[:q.KeyColumns])
			if _, dup := out[k]; dup {
				t.Errorf("key %s returned twice", k)
			}
			out[k] = r
		}
		return nil
	})
	return out, err
}

func key(cells []core.Value) string {
	parts := make([]string, len(cells))
	for i, c := range cells {
		switch c.Type {
		case core.String:
			parts[i] = c.S
		default:
			parts[i] = fmt.Sprint(c.I)
		}
	}
	return strings.Join(parts, "|")
}

func mustPull(t *testing.T, src offlinestore.Source, q offlinestore.Query) map[string]result {
	t.Helper()
	got, err := pull(t, src, q)
	if err != nil {
		t.Fatalf("%s: %v", src.Describe(), err)
	}
	return got
}

// expect checks that exactly the keys of want came back, each with the
// double feature want says.
func expect(t *testing.T, got map[string]result, want map[string]float64) {
	t.Helper()
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(got) != len(want) {
		t.Errorf("keys %v, want %d keys", keys, len(want))
	}
	for k, v := range want {
		r, ok := got[k]
		if !ok {
			t.Errorf("key %s missing (got %v)", k, keys)
			continue
		}
		if f := r.cells[len(r.cells)-2]; f.Type != core.Double || f.F != v {
			t.Errorf("key %s: v = %+v, want %v", k, f, v)
		}
	}
}

func testWindow(t *testing.T, b Backend) {
	us := time.Microsecond
	src := source(t, b, Table{Columns: features, Rows: [][]any{
		{int64(1), h(10), h(10), 1.0, "start"},      // on the start: in
		{int64(2), h(20), h(20), 2.0, "end"},        // on the end: in
		{int64(2), h(20).Add(us), h(21), 99.0, "x"}, // a microsecond late
		{int64(3), h(10).Add(-us), h(9), 3.0, "x"},  // a microsecond early
		{int64(4), h(12), h(12), 4.1, "a"},
		{int64(4), h(15), h(15), 4.2, "latest"},
		{int64(4), h(11), h(16), 4.3, "b"}, // created later, but older
		{int64(5), h(21), h(21), 5.0, "x"},
	}})
	got := mustPull(t, src, query(h(10), h(20)))
	expect(t, got, map[string]float64{"1": 1, "2": 2, "4": 4.2})
	if r := got["4"]; r.ts != core.TimestampOf(h(15)) || r.created != core.TimestampOf(h(15)) || r.cells[2].Type != core.String || r.cells[2].S != "latest" {
		t.Errorf("key 4: %+v", r)
	}
	if r := got["1"]; r.cells[0].Type != core.Int64 || r.cells[0].I != 1 {
		t.Errorf("key cell: %+v", r.cells[0])
	}
}

func testTies(t *testing.T, b Backend) {
	src := source(t, b, Table{Columns: features, Rows: [][]any{
		{int64(1), h(5), h(2), 1.2, "later created"}, // the winner is read first
		{int64(1), h(5), h(1), 1.1, "x"},
		{int64(2), h(5), h(0), 2.0, "created"},
		{int64(2), h(5), nil, 2.1, "null created loses"}, // read last, still loses
		{int64(3), h(4), h(9), 3.1, "x"},
		{int64(3), h(5), h(0), 3.0, "later event wins"},
	}})
	got := mustPull(t, src, query(h(0), h(10)))
	expect(t, got, map[string]float64{"1": 1.2, "2": 2.0, "3": 3.0})
	if r := got["1"]; r.created != core.TimestampOf(h(2)) {
		t.Errorf("key 1 created %+v", r.created)
	}
}

func testNullEventTime(t *testing.T, b Backend) {
	src := source(t, b, Table{Columns: features, Rows: [][]any{
		{int64(1), nil, h(1), 1.0, "only a null time"},
		{int64(2), h(1), h(1), 2.0, "real"},
		{int64(2), nil, h(9), 2.9, "null time"},
		{int64(3), h(2), h(2), nil, nil}, // null features are values
	}})
	got := mustPull(t, src, query(h(0), h(10)))
	if len(got) != 2 {
		t.Errorf("got keys %v, want 2 and 3", got)
	}
	if r, ok := got["2"]; !ok || r.cells[1].F != 2.0 {
		t.Errorf("key 2: %+v", r)
	}
	if r, ok := got["3"]; !ok || !r.cells[1].IsNull() || !r.cells[2].IsNull() {
		t.Errorf("key 3: null features: %+v", r)
	}
}

func testEntityless(t *testing.T, b Backend) {
	src := source(t, b, Table{Columns: features, Rows: [][]any{
		{int64(1), h(3), h(3), 1.0, "a"},
		{int64(2), h(7), h(7), 2.0, "latest"},
		{int64(3), h(5), h(5), 3.0, "c"},
		{int64(4), h(12), h(12), 4.0, "outside"},
		{int64(5), nil, h(1), 5.0, "null time"},
	}})
	q := query(h(0), h(10))
	q.Columns, q.KeyColumns = []string{"v", "s"}, 0
	got := mustPull(t, src, q)
	if len(got) != 1 {
		t.Fatalf("entityless: %d rows, want 1", len(got))
	}
	if r := got[""]; r.cells[0].F != 2.0 || r.cells[1].S != "latest" || r.ts != core.TimestampOf(h(7)) {
		t.Errorf("entityless: %+v", r)
	}
}

func testCompositeKey(t *testing.T, b Backend) {
	cols := []Column{{"id", core.Int64}, {"team", core.String}, {"ts", core.UnixTimestamp}, {"created", core.UnixTimestamp}, {"v", core.Double}, {"s", core.String}}
	src := source(t, b, Table{Columns: cols, Rows: [][]any{
		{int64(1), "a", h(1), h(1), 1.0, ""},
		{int64(1), "a", h(2), h(2), 1.5, ""},
		{int64(1), "b", h(1), h(1), 2.0, ""},
		{int64(2), "a", h(3), h(3), 3.0, ""},
	}})
	q := query(h(0), h(10))
	q.Columns, q.KeyColumns = []string{"id", "team", "v", "s"}, 2
	expect(t, mustPull(t, src, q), map[string]float64{"1|a": 1.5, "1|b": 2.0, "2|a": 3.0})
}

func testMissingColumn(t *testing.T, b Backend) {
	src := source(t, b, Table{Columns: features, Rows: [][]any{{int64(1), h(1), h(1), 1.0, "a"}}})
	for _, c := range []struct {
		name string
		edit func(*offlinestore.Query)
	}{
		{"no_such_feature", func(q *offlinestore.Query) { q.Columns = []string{"id", "no_such_feature"} }},
		{"no_such_key", func(q *offlinestore.Query) { q.Columns = []string{"no_such_key", "v"} }},
		{"no_such_ts", func(q *offlinestore.Query) { q.TimestampColumn = "no_such_ts" }},
		{"no_such_created", func(q *offlinestore.Query) { q.CreatedColumn = "no_such_created" }},
	} {
		q := query(h(0), h(10))
		c.edit(&q)
		if _, err := pull(t, src, q); err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("missing column %s: %v", c.name, err)
		}
	}
}

func testBatches(t *testing.T, b Backend) {
	var rows [][]any
	want := map[string]float64{}
	for i := 0; i < 25; i++ {
		rows = append(rows, []any{int64(i), h(1), h(1), float64(i), "old"}, []any{int64(i), h(2), h(2), float64(i) + 0.5, "new"})
		want[fmt.Sprint(i)] = float64(i) + 0.5
	}
	src := source(t, b, Table{Columns: features, Rows: rows})
	q := query(h(0), h(10))
	q.BatchSize = 4
	calls := 0
	err := src.PullLatest(context.Background(), q, func(bt *offlinestore.Batch) error {
		calls++
		if bt.Total != -1 && bt.Total != 25 {
			t.Errorf("Total %d, want 25 or -1", bt.Total)
		}
		return nil
	})
	if err != nil || calls < 7 {
		t.Errorf("25 rows in batches of 4: %d calls, %v", calls, err)
	}
	expect(t, mustPull(t, src, q), want)

	// An error from fn stops the pull and comes back as is.
	stop := fmt.Errorf("stop here")
	calls = 0
	err = src.PullLatest(context.Background(), q, func(*offlinestore.Batch) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("fn error: %v after %d calls", err, calls)
	}
}

func testEmptyWindow(t *testing.T, b Backend) {
	src := source(t, b, Table{Columns: features, Rows: [][]any{{int64(1), h(1), h(1), 1.0, "a"}}})
	expect(t, mustPull(t, src, query(h(2), h(3))), map[string]float64{})
}

// appender returns the appender of a fresh table and a pull of it.
func appender(t *testing.T, b Backend, tbl Table) (offlinestore.Appender, func() map[string]result) {
	t.Helper()
	ds := b.Create(t, tbl)
	ctx := context.Background()
	app, err := b.Engine.Appender(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if app.Describe() == "" {
		t.Error("Describe is empty")
	}
	return app, func() map[string]result {
		t.Helper()
		src, err := b.Engine.Source(ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		return mustPull(t, src, query(h(0), h(100)))
	}
}

// awkward is a string JSON, SQL and parquet must all carry unchanged.
const awkward = "a\x01b\x7f \"q\" \\ é€😀 \u2028 'x'"

func testAppendThenPull(t *testing.T, b Backend) {
	app, latest := appender(t, b, Table{Columns: features, Rows: [][]any{
		{int64(1), h(1), h(1), 1.0, "stored"},
		{int64(2), h(1), h(1), 2.0, "stored"},
	}})
	// As a push frame arrives: columns in another order, timestamps as
	// ISO strings with and without offset, JSON numbers.
	ts := func(t time.Time) core.Value { return core.StringValue(t.Format(time.RFC3339)) }
	rows := offlinestore.Rows{Columns: []offlinestore.Column{
		{Name: "s", Values: []core.Value{core.StringValue(awkward), core.StringValue("new key"), {}}},
		{Name: "v", Values: []core.Value{core.DoubleValue(1.5), core.Int64Value(3), core.DoubleValue(0.25)}},
		{Name: "id", Values: []core.Value{core.Int64Value(1), core.Int64Value(3), core.Int64Value(2)}},
		{Name: "ts", Values: []core.Value{ts(h(5)), core.StringValue(h(6).In(time.FixedZone("", 2*3600)).Format(time.RFC3339)), ts(h(0))}},
		{Name: "created", Values: []core.Value{ts(h(5)), ts(h(6)), {}}},
	}}
	commit, err := app.PrepareAppend(context.Background(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if got := latest(); len(got) != 2 || got["1"].cells[1].F != 1.0 {
		t.Errorf("rows visible before the commit: %+v", got)
	}
	if err := commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := latest()
	// Key 2's pushed row is older than the stored one: the stored one wins.
	expect(t, got, map[string]float64{"1": 1.5, "2": 2.0, "3": 3.0})
	if r := got["1"]; r.cells[2].S != awkward || r.ts != core.TimestampOf(h(5)) || r.created != core.TimestampOf(h(5)) {
		t.Errorf("key 1 after the push: %+v", r)
	}
	if r := got["3"]; r.ts != core.TimestampOf(h(6)) || r.cells[2].S != "new key" {
		t.Errorf("key 3 (time with an offset): %+v", r)
	}

	// A second append sees the first; a time without offset is UTC.
	commit, err = app.PrepareAppend(context.Background(), offlinestore.Rows{Columns: []offlinestore.Column{
		{Name: "id", Values: []core.Value{core.Int64Value(2)}},
		{Name: "ts", Values: []core.Value{core.StringValue(h(7).Format("2006-01-02 15:04:05"))}},
		{Name: "created", Values: []core.Value{ts(h(7))}},
		{Name: "v", Values: []core.Value{core.DoubleValue(2.5)}},
		{Name: "s", Values: []core.Value{core.StringValue("again")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	got = latest()
	expect(t, got, map[string]float64{"1": 1.5, "2": 2.5, "3": 3.0})
	if r := got["2"]; r.ts != core.TimestampOf(h(7)) {
		t.Errorf("key 2: a naive time is UTC: %+v", r.ts)
	}
}

func testAppendColumns(t *testing.T, b Backend) {
	app, latest := appender(t, b, Table{Columns: features, Rows: [][]any{{int64(1), h(1), h(1), 1.0, "stored"}}})
	one := func(name string, v core.Value) offlinestore.Column {
		return offlinestore.Column{Name: name, Values: []core.Value{v}}
	}
	_, err := app.PrepareAppend(context.Background(), offlinestore.Rows{Columns: []offlinestore.Column{
		one("id", core.Int64Value(1)), one("ts", core.StringValue(h(5).Format(time.RFC3339))),
		one("v", core.DoubleValue(9)), one("extra", core.StringValue("x")),
	}})
	const want = "missing_expected_columns: ['created', 's'], extra_unexpected_columns: ['extra']"
	if core.KindOf(err) != core.KindInvalidArgument || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("column mismatch: %v, want an invalid argument with %q", err, want)
	}
	expect(t, latest(), map[string]float64{"1": 1.0})
}
