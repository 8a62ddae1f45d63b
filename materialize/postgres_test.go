package materialize

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/testenv"
	pgoffline "github.com/feastgo/feastgo/offlinestore/postgres"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// PostgreSQL going away while rows stream in: a clear unavailable error
// naming the view, and no interval recorded.
func TestPostgresGoesAway(t *testing.T) {
	dsn, err := url.Parse(testenv.Service(t, "FEASTGO_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, dsn.Host)
	host, port, _ := net.SplitHostPort(px.addr())
	pass, _ := dsn.User.Password()
	project := fmt.Sprintf("mat_pg_%d", time.Now().UnixNano())
	// Three million rows made up by the server: no table to load.
	query := `SELECT g AS id, g::float8 AS score, 'x' AS label, g AS count, timestamptz '2025-01-01 00:00:00+00' + g * interval '1 ms' AS event_timestamp FROM generate_series(1, 3000000) g`
	ds := &corepb.DataSource{Name: "stats_source", Type: corepb.DataSource_CUSTOM_SOURCE, TimestampField: "event_timestamp",
		DataSourceClassType: pgoffline.SourceClass,
		Options: &corepb.DataSource_CustomOptions{CustomOptions: &corepb.DataSource_CustomSourceOptions{
			Configuration: []byte(fmt.Sprintf(`{"name": "stats_source", "query": %q, "table": null}`, query))}}}
	offline := fmt.Sprintf("offline_store:\n  type: postgres\n  host: %s\n  port: %s\n  database: %s\n  user: %s\n  password: %s\n  sslmode: disable\n",
		host, port, strings.TrimPrefix(dsn.Path, "/"), dsn.User.Username(), pass)
	repo := t.TempDir()
	writeRepo(t, repo, project, ds, offline)
	store := &memStore{}
	e := newTestEngine(t, repo, store)
	e.BatchSize = 1000
	e.Progress = killAfter{rows: 5000, px: px}
	_, err = e.Materialize(context.Background(), Request{Start: winStart, End: winEnd})
	if err == nil || core.KindOf(err) != core.KindUnavailable || !strings.Contains(err.Error(), "feature view stats") {
		t.Fatalf("want an unavailable error naming the view, got %v (kind %v)", err, core.KindOf(err))
	}
	if iv := viewOf(t, e, "stats").MaterializationIntervals; len(iv) != 0 {
		t.Fatalf("recorded %v after a failed run", iv)
	}
	if n := len(store.rows); n < 5000 || n >= 3_000_000 {
		t.Errorf("%d rows written before the failure", n)
	}
}
