package offline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/offlinestore/catalog"
	"github.com/feastgo/feastgo/offlinestore/postgres"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// pgRepo is the golden repo over PostgreSQLSource tables (the registry
// Feast's apply wrote, data.sql the rows).
var pgRepo, _ = filepath.Abs("../../offlinestore/testdata/historical/repo_postgres")

// startPostgres is our offline server over pgRepo's registry, its tables
// loaded into a schema of their own on FEASTGO_TEST_POSTGRES.
func startPostgres(t *testing.T) *fixture {
	t.Helper()
	dsn := testenv.Service(t, "FEASTGO_TEST_POSTGRES")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	sql, err := os.ReadFile(filepath.Join(pgRepo, "data.sql"))
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("flight_pull_%d", time.Now().UnixNano())
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"CREATE SCHEMA " + schema, "SET search_path = " + schema, string(sql), "RESET search_path"} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("loading %s: %v", pgRepo, err)
		}
	}
	conn.Release()
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	cat := catalog.New(postgres.NewEngine(dsn + sep + "search_path=" + schema))
	t.Cleanup(func() { _ = cat.Close() })

	b, err := os.ReadFile(filepath.Join(pgRepo, "data", "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	var reg corepb.Registry
	if err := proto.Unmarshal(b, &reg); err != nil {
		t.Fatal(err)
	}
	snap, err := registry.Compile(&reg, project, false)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{client: serve(t, func() *registry.Snapshot { return snap }, cat, "")}
}

func names(tbl arrow.Table) []string {
	var out []string
	for _, f := range tbl.Schema().Fields() {
		out = append(out, f.Name+":"+f.Type.String())
	}
	return out
}

// TestPostgresPullLatest: Feast's PostgreSQL pull_latest, computed in
// PostgreSQL: the latest row per driver in the window (a tie on event time
// goes to the later created time), naive microsecond timestamps as
// Feast's PostgreSQLRetrievalJob.to_arrow makes them.
func TestPostgresPullLatest(t *testing.T) {
	f := startPostgres(t)
	got, err := f.exchange(t, "pull_latest_from_table_or_query", pullParams("2025-01-01T00:00:00+00:00", "2025-03-02T12:00:00"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	want := []string{"driver_id:int64", "conv_rate:float64", "trips:int64", "event_timestamp:timestamp[us]", "created:timestamp[us]"}
	if !slices.Equal(names(got), want) {
		t.Errorf("columns %v, want %v", names(got), want)
	}
	ids, conv, ts := column(t, got, "driver_id"), column(t, got, "conv_rate"), column(t, got, "event_timestamp")
	latest := map[int64]float64{}
	when := map[int64]time.Time{}
	for i, id := range ids {
		latest[id.(int64)] = conv[i].(float64)
		when[id.(int64)] = ts[i].(time.Time)
	}
	// 1001: two rows at 2025-03-02T00:00, the later created wins; 1002: two
	// full ties at 12:00 (either); 1004 is after the window.
	if latest[1001] != 0.21 || (latest[1002] != 0.7 && latest[1002] != 0.6) || latest[1003] != 0.9 || len(ids) != 3 || len(latest) != 3 {
		t.Errorf("latest per driver %v (%d rows)", latest, len(ids))
	}
	if !when[1002].Equal(time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("1002's event time %v (a naive end_date is UTC, both ends inclusive)", when[1002])
	}

	// Entityless: the one latest row, with Feast's __dummy_id column.
	p := pullParams("2025-01-01T00:00:00+00:00", "2025-03-10T00:00:00+00:00")
	p["data_source_name"], p["join_key_columns"], p["feature_name_columns"], p["created_timestamp_column"] = "global_stats_source", []string{}, []string{"total_active"}, nil
	g, err := f.exchange(t, "pull_latest_from_table_or_query", p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	if w := []string{"total_active:int64", "event_timestamp:timestamp[us]", "__dummy_id:utf8"}; !slices.Equal(names(g), w) {
		t.Errorf("entityless columns %v, want %v", names(g), w)
	}
	if v := column(t, g, "total_active"); len(v) != 1 || v[0] != int64(3000) {
		t.Errorf("entityless latest %v, want [3000] (2025-03-03)", v)
	}
}

// TestPostgresPullAll: every row in the window, both ends inclusive; open
// dates read the whole table.
func TestPostgresPullAll(t *testing.T) {
	f := startPostgres(t)
	got, err := f.exchange(t, "pull_all_from_table_or_query", pullParams("2025-03-01T00:00:00+00:00", "2025-03-02T00:00:00+00:00"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	ids, conv := column(t, got, "driver_id"), column(t, got, "conv_rate")
	var rows []string
	for i := range ids {
		rows = append(rows, fmt.Sprint(ids[i], "=", conv[i]))
	}
	slices.Sort(rows)
	if w := []string{"1001=0.1", "1001=0.2", "1001=0.21", "1002=0.5", "1003=0.9"}; !slices.Equal(rows, w) {
		t.Errorf("rows %v, want %v", rows, w)
	}
	all, err := f.exchange(t, "pull_all_from_table_or_query", pullParams(nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Release()
	if all.NumRows() != 9 {
		t.Errorf("open window: %d rows, want the table's 9", all.NumRows())
	}
	// A column the table does not have is refused before reading.
	p := pullParams(nil, nil)
	p["feature_name_columns"] = []string{"nope"}
	if _, err := f.exchange(t, "pull_all_from_table_or_query", p, nil); err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Errorf("missing column: %v", err)
	}
}

// TestPostgresColumnNamesAndTypes: the names Feast's
// pg_type_code_to_pg_type gives the columns' types.
func TestPostgresColumnNamesAndTypes(t *testing.T) {
	f := startPostgres(t)
	ds := `{"type": "BATCH_SQL", "timestampField": "event_timestamp", "createdTimestampColumn": "created",
	  "customOptions": {"configuration": "eyJ0YWJsZSI6ICJkcml2ZXJfc3RhdHMiLCAicXVlcnkiOiAiIn0="},
	  "dataSourceClassType": "` + postgres.SourceClass + `", "name": "driver_stats_source"}`
	got, err := f.exchange(t, "get_table_column_names_and_types_from_data_source", map[string]any{"data_source_proto": ds}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	n, ty := column(t, got, "name"), column(t, got, "type")
	var pairs []string
	for i := range n {
		pairs = append(pairs, fmt.Sprint(n[i], " ", ty[i]))
	}
	want := []string{"driver_id bigint", "event_timestamp timestamp with time zone", "created timestamp with time zone",
		"conv_rate double precision", "acc_rate real", "trips bigint", "label text"}
	if !slices.Equal(pairs, want) {
		t.Errorf("columns %v, want %v", pairs, want)
	}
}
