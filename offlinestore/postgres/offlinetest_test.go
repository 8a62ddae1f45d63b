package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/offlinestore/offlinetest"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// The shared offline suite over PostgreSQL tables, typed as Feast's
// PostgreSQL offline store writes them (bigint, double precision, text,
// timestamptz).
func TestOfflineSuite(t *testing.T) {
	dsn := testenv.Service(t, "FEASTGO_TEST_POSTGRES")
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	e := NewEngine(dsn)
	defer e.Close()
	var n atomic.Int64
	prefix := fmt.Sprintf("offline_suite_%d_", time.Now().UnixNano())
	b := offlinetest.Backend{
		Engine: e,
		Range:  offlinetest.RangeSQL,
		Create: func(t *testing.T, tbl offlinetest.Table) *corepb.DataSource {
			name := fmt.Sprintf("%s%d", prefix, n.Add(1))
			createTable(t, pool, name, tbl)
			return tableSource(name)
		},
	}
	offlinetest.Run(t, b)
	t.Run("Historical", func(t *testing.T) { offlinetest.RunHistorical(t, b) })
	// The same joins over query sources (no ctid).
	t.Run("HistoricalQuerySources", func(t *testing.T) {
		offlinetest.RunHistorical(t, offlinetest.Backend{Engine: e, Range: offlinetest.RangeSQL, Create: func(t *testing.T, tbl offlinetest.Table) *corepb.DataSource {
			name := fmt.Sprintf("%s%d", prefix, n.Add(1))
			createTable(t, pool, name, tbl)
			return querySource("SELECT * FROM " + name)
		}})
	})
}

func createTable(t *testing.T, pool *pgxpool.Pool, name string, tbl offlinetest.Table) {
	t.Helper()
	ctx := context.Background()
	defs := make([]string, len(tbl.Columns))
	params := make([]string, len(tbl.Columns))
	for i, c := range tbl.Columns {
		typ := map[core.ValueType]string{core.Int64: "bigint", core.Double: "double precision", core.String: "text", core.UnixTimestamp: "timestamptz"}[c.Type]
		if typ == "" {
			t.Fatalf("column %s: type %v", c.Name, c.Type)
		}
		defs[i] = `"` + c.Name + `" ` + typ
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE "+name+" ("+strings.Join(defs, ", ")+")"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP TABLE "+name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	insert := "INSERT INTO " + name + " VALUES (" + strings.Join(params, ", ") + ")"
	for _, r := range tbl.Rows {
		if _, err := pool.Exec(ctx, insert, r...); err != nil {
			t.Fatal(err)
		}
	}
}
