package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// SourceClass is the data_source_class_type Feast records for a
// PostgreSQLSource (contract 1.4).
const SourceClass = "feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source.PostgreSQLSource"

// Engine is the offline engine of PostgreSQLSources: one connection pool
// to the offline_store database, opened on first use and shared by every
// read and append.
type Engine struct {
	dsn string

	mu   sync.Mutex
	pool *pgxpool.Pool
}

var _ offlinestore.Engine = (*Engine)(nil)

// NewEngine returns the engine for the offline store at dsn; an empty dsn
// means the offline store is not postgres, and every PostgreSQLSource is
// refused with an error saying so.
func NewEngine(dsn string) *Engine { return &Engine{dsn: dsn} }

// Claims reports whether ds is a PostgreSQLSource: its class is
// SourceClass, or a class of that name elsewhere (a subclass or a moved
// module).
func (e *Engine) Claims(ds *corepb.DataSource) bool {
	return strings.HasSuffix(ds.GetDataSourceClassType(), ".PostgreSQLSource")
}

// options are a PostgreSQLSource's custom options.
type options struct {
	Table *string `json:"table"`
	Query *string `json:"query"`
}

func parseOptions(ds *corepb.DataSource) (table, query string, err error) {
	var o options
	if err := json.Unmarshal(ds.GetCustomOptions().GetConfiguration(), &o); err != nil {
		return "", "", err
	}
	if o.Table != nil {
		table = *o.Table
	}
	if o.Query != nil {
		query = *o.Query
	}
	return table, query, nil
}

// Source returns the table or query of a PostgreSQLSource.
func (e *Engine) Source(ctx context.Context, ds *corepb.DataSource) (offlinestore.Source, error) {
	table, query, err := parseOptions(ds)
	if err != nil {
		return nil, fmt.Errorf("data source %s: PostgreSQL options: %w", ds.GetName(), err)
	}
	pool, err := e.db(ctx)
	if err != nil {
		return nil, fmt.Errorf("data source %s: %w", ds.GetName(), err)
	}
	src, err := New(pool, table, query)
	if err != nil {
		return nil, fmt.Errorf("data source %s: %w", ds.GetName(), err)
	}
	return src, nil
}

// Appender returns the table of a PostgreSQLSource for appending; a query
// source cannot take rows.
func (e *Engine) Appender(ctx context.Context, ds *corepb.DataSource) (offlinestore.Appender, error) {
	table, _, err := parseOptions(ds)
	if err != nil {
		return nil, core.Invalidf("data source %s: PostgreSQL options: %v", ds.GetName(), err)
	}
	if table == "" {
		return nil, core.Invalidf("data source %s is a query; rows can only be appended to a table", ds.GetName())
	}
	pool, err := e.db(ctx)
	if err != nil {
		return nil, err
	}
	return &appendTable{db: pool, table: table}, nil
}

// Close closes the pool, if one was opened; the next use opens another.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pool != nil {
		e.pool.Close()
		e.pool = nil
	}
	return nil
}

func (e *Engine) db(ctx context.Context) (*pgxpool.Pool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pool != nil {
		return e.pool, nil
	}
	if e.dsn == "" {
		return nil, core.Invalidf("a PostgreSQLSource needs offline_store type postgres in feature_store.yaml")
	}
	cfg, err := pgxpool.ParseConfig(e.dsn)
	if err != nil {
		return nil, fmt.Errorf("offline_store: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, core.Unavailable(err, "offline store postgres is unreachable")
	}
	e.pool = pool
	return pool, nil
}

// appendTable is a PostgreSQL table opened for appending.
type appendTable struct {
	db    *pgxpool.Pool
	table string
}

// PrepareAppend implements offlinestore.Appender: the table's columns are
// read and checked now, the rows are inserted by the Commit.
func (t *appendTable) PrepareAppend(ctx context.Context, rows offlinestore.Rows) (offlinestore.Commit, error) {
	cols, err := Columns(ctx, t.db, t.table)
	if err != nil {
		return nil, err
	}
	if err := offlinestore.CheckColumns(cols, rows); err != nil {
		return nil, err
	}
	body := RowsJSON(rows)
	return func(ctx context.Context) error { return AppendJSON(ctx, t.db, t.table, cols, body) }, nil
}

// Describe names the table.
func (t *appendTable) Describe() string { return "postgres table " + t.table }
