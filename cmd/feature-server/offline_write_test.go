package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/onlinestore/storetest"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

func TestOfflinePushAppendsToPostgresTable(t *testing.T) {
	dsn := storetest.Env(t, "FEASTGO_TEST_POSTGRES")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	table := fmt.Sprintf("push_src_%d", time.Now().UnixNano())
	if _, err := pool.Exec(ctx, "CREATE TABLE "+table+" (pipeline_id BIGINT, event_timestamp TIMESTAMPTZ, score DOUBLE PRECISION, tags TEXT[], ok BOOLEAN)"); err != nil {
		t.Fatal(err)
	}
	defer pool.Exec(ctx, "DROP TABLE "+table) //nolint:errcheck // best-effort cleanup

	w := &offlineWriter{pool: pool}
	view := &registry.View{Name: "v", BatchSource: &corepb.DataSource{Name: "src",
		DataSourceClassType: "feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source.PostgreSQLSource",
		Options: &corepb.DataSource_CustomOptions{CustomOptions: &corepb.DataSource_CustomSourceOptions{
			Configuration: []byte(`{"name": "src", "table": "` + table + `", "query": ""}`)}}}}
	frame := &ingest.Frame{Columns: []ingest.Column{
		{Name: "event_timestamp", Values: []core.Value{core.StringValue("2025-01-02 03:04:05"), core.StringValue("2025-01-02T05:04:05+02:00")}},
		{Name: "pipeline_id", Values: []core.Value{core.Int64Value(1), core.Int64Value(2)}},
		{Name: "score", Values: []core.Value{core.DoubleValue(0.5), {}}},
		{Name: "tags", Values: []core.Value{{Type: core.StringList, List: []core.Value{core.StringValue("a"), core.StringValue(`b"c`)}}, {}}},
		{Name: "ok", Values: []core.Value{core.BoolValue(true), core.BoolValue(false)}},
	}}
	run, err := w.PrepareAppend(ctx, view, frame)
	if err != nil {
		t.Fatal(err)
	}
	if err := run(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	rows, err := pool.Query(ctx, "SELECT pipeline_id, extract(epoch from event_timestamp)::bigint, coalesce(score, -1), coalesce(array_to_string(tags, '|'), '-'), ok FROM "+table+" ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, ts int64
		var score float64
		var tags string
		var ok bool
		if err := rows.Scan(&id, &ts, &score, &tags, &ok); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %d %v %s %v", id, ts, score, tags, ok))
	}
	if strings.Join(got, ";") != `1 1735787045 0.5 a|b"c true;2 1735787045 -1 - false` {
		t.Fatalf("rows %q", got)
	}

	frame.Columns = frame.Columns[:3]
	if _, err := w.PrepareAppend(ctx, view, frame); err == nil || !strings.Contains(err.Error(), "missing_expected_columns: ['ok', 'tags'], extra_unexpected_columns: []") {
		t.Fatalf("column mismatch: %v", err)
	}
	file := &registry.View{Name: "f", BatchSource: &corepb.DataSource{Options: &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{Uri: "s3://bucket/x.parquet"}}}}
	if _, err := w.PrepareAppend(ctx, file, frame); core.KindOf(err) != core.KindUnimplemented {
		t.Fatalf("parquet on s3: %v", err)
	}
}
