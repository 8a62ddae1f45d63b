package offlinetest

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// rangeQuery is a range-mode query over the views.
func rangeQuery(start, end time.Time, views ...offlinestore.HistoricalView) *offlinestore.HistoricalQuery {
	return &offlinestore.HistoricalQuery{EventTimeColumn: "event_timestamp", Views: views,
		Range: &offlinestore.TimeRange{Start: start, End: end}}
}

// rangeRows runs q and returns its column names in order and its rows,
// each "c1=v1 c2=v2 ...", sorted (row order is the engine's).
func rangeRows(t *testing.T, he offlinestore.HistoricalEngine, q *offlinestore.HistoricalQuery) ([]string, []string) {
	t.Helper()
	var names []string
	var rows []string
	calls := 0
	err := he.Historical(t.Context(), q, func(rec arrow.RecordBatch) error {
		calls++
		if int(rec.NumRows()) > q.Size() {
			t.Errorf("batch of %d rows, limit %d", rec.NumRows(), q.Size())
		}
		if names == nil {
			names = []string{}
			for _, f := range rec.Schema().Fields() {
				names = append(names, f.Name)
			}
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for c, f := range rec.Schema().Fields() {
				cells = append(cells, fmt.Sprintf("%s=%v", f.Name, cell(rec.Column(c), i)))
			}
			rows = append(rows, strings.Join(cells, " "))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("fn was never called: a range-mode answer must carry its schema")
	}
	sort.Strings(rows)
	return names, rows
}

func wantRange(t *testing.T, names, rows, wantNames, wantRows []string) {
	t.Helper()
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("columns %v, want %v", names, wantNames)
	}
	sort.Strings(wantRows)
	if !reflect.DeepEqual(rows, wantRows) && !(len(rows) == 0 && len(wantRows) == 0) {
		t.Errorf("rows\n  %s\nwant\n  %s", strings.Join(rows, "\n  "), strings.Join(wantRows, "\n  "))
	}
}

// ts is how cell prints a timestamp column of either engine.
func ts(b Backend, tm time.Time) string {
	if b.Range == RangeSQL { // naive, microseconds, as Feast's postgres store
		return tm.UTC().Format("2006-01-02T15:04:05")
	}
	return tm.UTC().Format("2006-01-02T15:04:05Z")
}

func testRangeSingle(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	v := view(b, t, Table{Columns: features, Rows: [][]any{
		{int64(1), h(10), h(10), 1.0, "a"},
		{int64(1), h(12), h(12), 2.0, "b"},
		{int64(1), h(12), h(11), 4.0, "created earlier"},
		{int64(2), h(5), h(5), 3.0, "c"},
		{int64(3), h(20), h(20), 5.0, "future"},
	}}, 3*time.Hour)
	names, rows := rangeRows(t, he, rangeQuery(h(0), h(13), v))
	switch b.Range {
	case RangeFile:
		// As of h13 within 3h: id 1's latest (created later wins); id 2 is
		// too old, id 3 in the future; the start bounds nothing.
		wantRange(t, names, rows, []string{"event_timestamp", "id", "v_out", "s"},
			[]string{"event_timestamp=" + ts(b, h(13)) + " id=1 v_out=2 s=b"})
	case RangeSQL:
		wantRange(t, names, rows, []string{"event_timestamp", "created_timestamp", "id", "v_out", "s"}, []string{
			"event_timestamp=" + ts(b, h(10)) + " created_timestamp=" + ts(b, h(10)) + " id=1 v_out=1 s=a",
			"event_timestamp=" + ts(b, h(12)) + " created_timestamp=" + ts(b, h(12)) + " id=1 v_out=2 s=b",
			"event_timestamp=" + ts(b, h(12)) + " created_timestamp=" + ts(b, h(11)) + " id=1 v_out=4 s=created earlier",
			"event_timestamp=" + ts(b, h(5)) + " created_timestamp=" + ts(b, h(5)) + " id=2 v_out=3 s=c",
		})
	}
}

func testRangeEntityless(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	cols := []Column{{"ts", core.UnixTimestamp}, {"v", core.Double}}
	ds := b.Create(t, Table{Columns: cols, Rows: [][]any{{h(1), 1.0}, {h(5), 5.0}, {h(3), 3.0}, {h(9), 9.0}}})
	v := offlinestore.HistoricalView{Name: "global", Source: ds, TimestampColumn: "ts",
		Features: []offlinestore.FeatureColumn{{Source: "v", Output: "total"}}}
	names, rows := rangeRows(t, he, rangeQuery(h(2), h(6), v))
	switch b.Range {
	case RangeFile: // the latest row at or before the end (no ttl)
		wantRange(t, names, rows, []string{"event_timestamp", "total"}, []string{"event_timestamp=" + ts(b, h(6)) + " total=5"})
	case RangeSQL:
		wantRange(t, names, rows, []string{"event_timestamp", "total"},
			[]string{"event_timestamp=" + ts(b, h(3)) + " total=3", "event_timestamp=" + ts(b, h(5)) + " total=5"})
	}
}

func testRangeEmpty(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	v := view(b, t, Table{Columns: features, Rows: [][]any{{int64(1), h(10), h(10), 1.0, "a"}}}, time.Hour)
	names, rows := rangeRows(t, he, rangeQuery(h(0), h(2), v))
	if len(rows) != 0 {
		t.Errorf("rows %v, want none", rows)
	}
	if len(names) == 0 || names[0] != "event_timestamp" {
		t.Errorf("columns %v: want event_timestamp first", names)
	}
}

func testRangeBatches(t *testing.T, b Backend, he offlinestore.HistoricalEngine) {
	var rows [][]any
	var want []string
	for i := range 23 {
		rows = append(rows, []any{int64(i), h(i), h(i), float64(i), "r"})
		if b.Range == RangeFile {
			want = append(want, fmt.Sprintf("event_timestamp=%s id=%d v_out=%d s=r", ts(b, h(30)), i, i))
		} else {
			want = append(want, fmt.Sprintf("event_timestamp=%s created_timestamp=%s id=%d v_out=%d s=r", ts(b, h(i)), ts(b, h(i)), i, i))
		}
	}
	v := view(b, t, Table{Columns: features, Rows: rows}, 0)
	q := rangeQuery(h(0), h(30), v)
	q.BatchSize = 5
	_, got := rangeRows(t, he, q)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
