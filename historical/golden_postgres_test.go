package historical_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/offlinestore/catalog"
	"github.com/feastgo/feastgo/offlinestore/postgres"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/transformations"
)

// The same golden cases over PostgreSQLSource tables (repo_postgres: the
// registry Feast's apply wrote, data.sql the rows of the parquet files),
// judged by Feast's postgres offline store. Where that store fails on an
// input duckdb answers (timestamps given as strings), ours answers like
// duckdb; a full tie it returns twice is matched by either of its rows.
const pgGoldenDir = goldenDir + "/repo_postgres"

// TestGoldensPostgres runs every golden case through our PostgreSQL
// push-down on a real PostgreSQL (FEASTGO_TEST_POSTGRES), the tables in a
// schema of their own, and compares with Feast's postgres answer.
func TestGoldensPostgres(t *testing.T) {
	dsn := testenv.Service(t, "FEASTGO_TEST_POSTGRES")
	schema := loadPostgresGoldenData(t, dsn)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	engine := postgres.NewEngine(dsn + sep + "search_path=" + schema)
	t.Cleanup(func() {
		if err := engine.Close(); err != nil {
			t.Error(err)
		}
	})
	snap := pgGoldenSnapshot(t)
	for _, c := range loadCases(t) {
		judge := "postgres"
		if p, d := c.Answers["postgres"], c.Answers["duckdb"]; p.Error != nil && d.Result != nil {
			judge = "duckdb"
		}
		for _, batch := range []int{0, 4} {
			t.Run(fmt.Sprintf("%s/batch%d", c.Name, batch), func(t *testing.T) {
				r := &historical.Retriever{
					Catalog:     catalog.New(engine),
					Transformer: transformations.New(transformations.Options{Execution: transformations.Native}),
					BatchSize:   batch,
				}
				if c.isRange() {
					runRangeGolden(t, snap, r, c, "postgres")
					return
				}
				runGoldenJudge(t, snap, r, c, judge)
			})
		}
	}
}

// loadPostgresGoldenData runs data.sql in a fresh schema, dropped when
// the test ends, and returns the schema's name.
func loadPostgresGoldenData(t *testing.T, dsn string) string {
	t.Helper()
	sql, err := os.ReadFile(filepath.Join(pgGoldenDir, "data.sql"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	schema := fmt.Sprintf("hist_golden_%d", time.Now().UnixNano())
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, stmt := range []string{"CREATE SCHEMA " + schema, "SET search_path = " + schema, string(sql), "RESET search_path"} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("loading %s: %v", pgGoldenDir, err)
		}
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

func pgGoldenSnapshot(t *testing.T) *registry.Snapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pgGoldenDir, "data", "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	var reg corepb.Registry
	if err := proto.Unmarshal(b, &reg); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ds := range reg.GetDataSources() {
		switch {
		case ds.GetDataSourceClassType() == postgres.SourceClass:
			n++
		case ds.GetType() != corepb.DataSource_REQUEST_SOURCE:
			t.Fatalf("data source %s is a %s, not a PostgreSQLSource", ds.GetName(), ds.GetDataSourceClassType())
		}
	}
	if n < 5 {
		t.Fatalf("%d PostgreSQLSources in the registry, want one per feature view (5)", n)
	}
	snap, err := registry.Compile(&reg, "historical_conformance", false)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}
