package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/offlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// tableSource is a PostgreSQLSource of table, as the registry records it.
func tableSource(table string) *corepb.DataSource {
	return &corepb.DataSource{Name: "src", DataSourceClassType: SourceClass,
		Options: &corepb.DataSource_CustomOptions{CustomOptions: &corepb.DataSource_CustomSourceOptions{
			Configuration: []byte(`{"name": "src", "table": ` + jsonQuote(table) + `, "query": ""}`)}}}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// emptyTable creates a table from a column list and drops it afterwards.
func emptyTable(t *testing.T, columns string) (*pgxpool.Pool, *Engine, string) {
	t.Helper()
	dsn := testenv.Service(t, "FEASTGO_TEST_POSTGRES")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	table := fmt.Sprintf("push_src_%d", time.Now().UnixNano())
	if _, err := pool.Exec(ctx, "CREATE TABLE "+table+" ("+columns+")"); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(dsn)
	t.Cleanup(func() {
		_ = e.Close()
		if _, err := pool.Exec(context.Background(), "DROP TABLE "+table); err != nil {
			t.Errorf("drop: %v", err)
		}
		pool.Close()
	})
	return pool, e, table
}

func appendRows(t *testing.T, e *Engine, table string, rows offlinestore.Rows) error {
	t.Helper()
	ctx := context.Background()
	app, err := e.Appender(ctx, tableSource(table))
	if err != nil {
		t.Fatal(err)
	}
	commit, err := app.PrepareAppend(ctx, rows)
	if err != nil {
		return err
	}
	return commit(ctx)
}

func TestOfflinePushAppendsToPostgresTable(t *testing.T) {
	pool, e, table := emptyTable(t, "pipeline_id BIGINT, event_timestamp TIMESTAMPTZ, score DOUBLE PRECISION, tags TEXT[], ok BOOLEAN")
	ctx := context.Background()
	rows := offlinestore.Rows{Columns: []offlinestore.Column{
		{Name: "event_timestamp", Values: []core.Value{core.StringValue("2025-01-02 03:04:05"), core.StringValue("2025-01-02T05:04:05+02:00")}},
		{Name: "pipeline_id", Values: []core.Value{core.Int64Value(1), core.Int64Value(2)}},
		{Name: "score", Values: []core.Value{core.DoubleValue(0.5), {}}},
		{Name: "tags", Values: []core.Value{{Type: core.StringList, List: []core.Value{core.StringValue("a"), core.StringValue(`b"c`)}}, {}}},
		{Name: "ok", Values: []core.Value{core.BoolValue(true), core.BoolValue(false)}},
	}}
	if err := appendRows(t, e, table, rows); err != nil {
		t.Fatal(err)
	}
	var got []string
	res, err := pool.Query(ctx, "SELECT pipeline_id, extract(epoch from event_timestamp)::bigint, coalesce(score, -1), coalesce(array_to_string(tags, '|'), '-'), ok FROM "+table+" ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for res.Next() {
		var id, ts int64
		var score float64
		var tags string
		var ok bool
		if err := res.Scan(&id, &ts, &score, &tags, &ok); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %d %v %s %v", id, ts, score, tags, ok))
	}
	if strings.Join(got, ";") != `1 1735787045 0.5 a|b"c true;2 1735787045 -1 - false` {
		t.Fatalf("rows %q", got)
	}

	rows.Columns = rows.Columns[:3]
	if err := appendRows(t, e, table, rows); err == nil || !strings.Contains(err.Error(), "missing_expected_columns: ['ok', 'tags'], extra_unexpected_columns: []") {
		t.Fatalf("column mismatch: %v", err)
	}
}

func TestAppenderRefusesQueriesAndAMissingConfig(t *testing.T) {
	query := &corepb.DataSource{Name: "q", DataSourceClassType: SourceClass,
		Options: &corepb.DataSource_CustomOptions{CustomOptions: &corepb.DataSource_CustomSourceOptions{
			Configuration: []byte(`{"name": "q", "table": null, "query": "SELECT 1"}`)}}}
	if _, err := NewEngine("postgres://127.0.0.1:1/x").Appender(context.Background(), query); core.KindOf(err) != core.KindInvalidArgument || !strings.Contains(err.Error(), "is a query") {
		t.Errorf("query source: %v", err)
	}
	if _, err := NewEngine("").Appender(context.Background(), tableSource("t")); core.KindOf(err) != core.KindInvalidArgument || !strings.Contains(err.Error(), "offline_store type postgres") {
		t.Errorf("no offline_store: %v", err)
	}
	if _, err := NewEngine("").Source(context.Background(), tableSource("t")); core.KindOf(err) != core.KindInvalidArgument {
		t.Errorf("no offline_store, read: %v", err)
	}
}

// querySource is a PostgreSQLSource of a query.
func querySource(query string) *corepb.DataSource {
	return &corepb.DataSource{Name: "src", DataSourceClassType: SourceClass,
		Options: &corepb.DataSource_CustomOptions{CustomOptions: &corepb.DataSource_CustomSourceOptions{
			Configuration: []byte(`{"name": "src", "query": ` + jsonQuote(query) + `}`)}}}
}
