package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/offlinestore"
)

func histTable(t testing.TB, sql string) (*pgxpool.Pool, *Engine, string) {
	t.Helper()
	dsn := testenv.Service(t, "FEASTGO_TEST_POSTGRES")
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("hist_%d", time.Now().UnixNano())
	if _, err := pool.Exec(context.Background(), "CREATE TABLE "+name+" AS "+sql); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(dsn)
	t.Cleanup(func() {
		e.Close()
		if _, err := pool.Exec(context.Background(), "DROP TABLE "+name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
		pool.Close()
	})
	return pool, e, name
}

func histView(table string) offlinestore.HistoricalView {
	return offlinestore.HistoricalView{Name: "fv", Source: tableSource(table),
		Keys: []offlinestore.KeyColumn{{Frame: "id", Source: "id"}}, TimestampColumn: "ts", CreatedColumn: "created",
		Features: []offlinestore.FeatureColumn{{Source: "v", Output: "fv__v"}}}
}

// An entity frame given as SQL runs in the database: its own columns come
// first, in the query's order, then the features, rows in the query's order.
func TestHistoricalEntitySQL(t *testing.T) {
	_, e, name := histTable(t, `SELECT * FROM (VALUES
		(1::bigint, '2025-01-01 10:00+00'::timestamptz, '2025-01-01 10:00+00'::timestamptz, 1.5::float8),
		(2, '2025-01-01 10:00+00', '2025-01-01 10:00+00', 2.5)) AS f(id, ts, created, v)`)
	q := &offlinestore.HistoricalQuery{EventTimeColumn: "event_timestamp", Views: []offlinestore.HistoricalView{histView(name)},
		EntitySQL: `SELECT * FROM (VALUES ('b', 2::bigint, '2025-01-01 11:00'::timestamp), ('a', 1, '2025-01-01 09:00'), ('c', 1, '2025-01-01 12:30:00.5'))
			AS f(label, id, event_timestamp) ORDER BY label DESC`}
	var names []string
	var got [][]string
	err := e.Historical(context.Background(), q, func(rec arrow.RecordBatch) error {
		names = names[:0]
		for _, f := range rec.Schema().Fields() {
			names = append(names, f.Name)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			var row []string
			for c := range rec.Columns() {
				row = append(row, rec.Column(c).ValueStr(i))
			}
			got = append(got, row)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"label", "id", "event_timestamp", "fv__v"}; !reflect.DeepEqual(names, want) {
		t.Errorf("columns %v, want %v", names, want)
	}
	want := [][]string{
		{"c", "1", "2025-01-01T12:30:00.5Z", "1.5"},
		{"b", "2", "2025-01-01T11:00:00Z", "2.5"},
		{"a", "1", "2025-01-01T09:00:00Z", "(null)"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}

	// A frame query without the event timestamp or a join key, or one
	// PostgreSQL rejects, is the caller's mistake.
	for _, bad := range []string{"SELECT 1::bigint AS id", "SELECT now() AS event_timestamp", "SELEC 1"} {
		q.EntitySQL = bad
		err := e.Historical(context.Background(), q, func(arrow.RecordBatch) error { return nil })
		if core.KindOf(err) != core.KindInvalidArgument {
			t.Errorf("entity_df %q: %v, want an invalid argument", bad, err)
		}
	}
}

// Cancelling the context stops the query in PostgreSQL.
func TestHistoricalCancel(t *testing.T) {
	_, e, name := histTable(t, `SELECT 1::bigint AS id, now() AS ts, now() AS created, 1.0::float8 AS v`)
	v := histView(name)
	v.Source = querySource("SELECT s.* FROM " + name + " AS s, pg_sleep(30)")
	frame := intFrame(t, 10)
	defer frame.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.Historical(ctx, &offlinestore.HistoricalQuery{Entities: frame, EventTimeColumn: "event_timestamp", Views: []offlinestore.HistoricalView{v}},
		func(arrow.RecordBatch) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the cancelled join took %v", d)
	}
	// The pool is still usable afterwards.
	if err := e.Historical(context.Background(), &offlinestore.HistoricalQuery{Entities: frame, EventTimeColumn: "event_timestamp",
		Views: []offlinestore.HistoricalView{histView(name)}}, func(arrow.RecordBatch) error { return nil }); err != nil {
		t.Errorf("after a cancel: %v", err)
	}
}

// intFrame is n entity rows, ids 0..n-1 in a shuffled-looking order, times
// spread over a day.
func intFrame(t testing.TB, n int) arrow.RecordBatch {
	t.Helper()
	ids := array.NewInt64Builder(memory.DefaultAllocator)
	defer ids.Release()
	ts := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	defer ts.Release()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for i := range n {
		ids.Append(int64((i * 7919) % n))
		ts.Append(arrow.Timestamp(base + int64(i%86400)*1_000_000))
	}
	idArr, tsArr := ids.NewArray(), ts.NewArray()
	defer idArr.Release()
	defer tsArr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: idArr.DataType()}, {Name: "event_timestamp", Type: tsArr.DataType()}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{idArr, tsArr}, int64(n))
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkHistoricalPostgres joins FEASTGO_BENCH_ENTITIES frame rows
// (default 10k) against FEASTGO_BENCH_ROWS source rows (default 100k,
// ten per key over a day), two views of five features each, with a ttl.
func BenchmarkHistoricalPostgres(b *testing.B) {
	entities := envInt("FEASTGO_BENCH_ENTITIES", 10_000)
	rowsN := envInt("FEASTGO_BENCH_ROWS", 100_000)
	keys := max(1, rowsN/10)
	src := fmt.Sprintf(`SELECT (g %% %d)::bigint AS id, timestamptz '2025-01-01' + (g %% 86400) * interval '1 second' AS ts,
		timestamptz '2025-01-01' + (g %% 86400) * interval '1 second' AS created,
		g::float8 AS f0, (g*2)::float8 AS f1, (g*3)::float8 AS f2, (g %% 97)::bigint AS f3, md5(g::text) AS f4
		FROM generate_series(1, %d) AS g`, keys, rowsN)
	pool, e, name := histTable(b, src)
	if _, err := pool.Exec(context.Background(), "ANALYZE "+name); err != nil {
		b.Fatal(err)
	}
	frame := intFrame(b, entities)
	defer frame.Release()
	var views []offlinestore.HistoricalView
	for i, ttl := range []time.Duration{0, 6 * time.Hour} {
		v := offlinestore.HistoricalView{Name: fmt.Sprintf("fv%d", i), Source: tableSource(name), TTL: ttl,
			Keys: []offlinestore.KeyColumn{{Frame: "id", Source: "id"}}, TimestampColumn: "ts", CreatedColumn: "created"}
		for f := range 5 {
			v.Features = append(v.Features, offlinestore.FeatureColumn{Source: fmt.Sprintf("f%d", f), Output: fmt.Sprintf("fv%d__f%d", i, f)})
		}
		views = append(views, v)
	}
	q := &offlinestore.HistoricalQuery{Entities: frame, EventTimeColumn: "event_timestamp", Views: views}
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := e.Historical(context.Background(), q, func(rec arrow.RecordBatch) error { n += int(rec.NumRows()); return nil }); err != nil {
			b.Fatal(err)
		}
		if n != entities {
			b.Fatalf("%d rows, want %d", n, entities)
		}
	}
	b.ReportMetric(float64(entities)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
