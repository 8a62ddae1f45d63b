package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/feastgo/feastgo/offlinestore"
)

var (
	_ offlinestore.TableReader  = (*Source)(nil)
	_ offlinestore.ColumnLister = (*Source)(nil)
)

// tableTime is the Arrow type of a timestamp column in a pull: a naive
// microsecond timestamp holding UTC, the pa.timestamp("us") that Feast's
// PostgreSQLRetrievalJob.to_arrow gives every PostgreSQL time column.
var tableTime = &arrow.TimestampType{Unit: arrow.Microsecond}

// dummyEntity is the column Feast's PostgreSQL pull_latest adds to the
// rows of an entityless pull (DUMMY_ENTITY_ID, holding DUMMY_ENTITY_VAL).
const dummyEntity = `'' AS "__dummy_id"`

// ReadLatest implements offlinestore.TableReader with the statement of
// Feast's PostgreSQL pull_latest_from_table_or_query, run in PostgreSQL
// and streamed: per entity key the row with the latest event time, then
// created time, where, as in Feast's "ORDER BY ... DESC", a null created
// time sorts first and so wins a tie (PullLatest, for materialization,
// lets it lose). An entityless pull gets Feast's "__dummy_id" column. No
// feature columns means every column of the source (a.*), as in Feast.
func (s *Source) ReadLatest(ctx context.Context, q offlinestore.Query, fn func(arrow.RecordBatch) error) error {
	col := func(c string) string { return "a." + ident(c) }
	keys := make([]string, q.KeyColumns)
	for i, k := range q.Columns[:q.KeyColumns] {
		keys[i] = col(k)
	}
	order := append(append([]string(nil), keys...), col(q.TimestampColumn)+" DESC")
	if q.CreatedColumn != "" {
		order = append(order, col(q.CreatedColumn)+" DESC")
	}
	where, args := window(q, col(q.TimestampColumn))
	var b strings.Builder
	if len(q.Columns) == q.KeyColumns {
		on := keys
		if len(on) == 0 {
			on = []string{col(q.TimestampColumn)}
		}
		b.WriteString("SELECT DISTINCT ON (" + strings.Join(on, ", ") + ") a.*")
		if len(keys) == 0 {
			b.WriteString(", " + dummyEntity)
		}
		b.WriteString(" FROM " + s.from + " AS a WHERE " + where + " ORDER BY " + strings.Join(order, ", "))
		return s.readTable(ctx, q, b.String(), args, fn)
	}
	sel := selectList(q, func(c string) string { return "b." + ident(c) })
	if len(keys) == 0 {
		sel += ", " + dummyEntity
	}
	b.WriteString("SELECT " + sel + " FROM (SELECT " + selectList(q, col) + ", ROW_NUMBER() OVER (")
	if len(keys) > 0 {
		b.WriteString("PARTITION BY " + strings.Join(keys, ", ") + " ")
	}
	b.WriteString("ORDER BY " + strings.Join(order[len(keys):], ", ") + ") AS feastgo_row")
	b.WriteString(" FROM " + s.from + " AS a WHERE " + where + ") AS b WHERE feastgo_row = 1")
	return s.readTable(ctx, q, b.String(), args, fn)
}

// ReadAll implements offlinestore.TableReader with the statement of
// Feast's PostgreSQL pull_all_from_table_or_query: the rows in the window,
// in the order PostgreSQL returns them. No feature columns means every
// column of the source.
func (s *Source) ReadAll(ctx context.Context, q offlinestore.Query, fn func(arrow.RecordBatch) error) error {
	col := func(c string) string { return "a." + ident(c) }
	sel := "a.*"
	if len(q.Columns) > q.KeyColumns {
		sel = selectList(q, col)
	}
	where, args := window(q, col(q.TimestampColumn))
	return s.readTable(ctx, q, "SELECT "+sel+" FROM "+s.from+" AS a WHERE "+where, args, fn)
}

// selectList is q's columns, then its timestamp columns not among them.
func selectList(q offlinestore.Query, col func(string) string) string {
	names := append([]string(nil), q.Columns...)
	for _, t := range []string{q.TimestampColumn, q.CreatedColumn} {
		if t != "" && !contains(names, t) {
			names = append(names, t)
		}
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = col(n)
	}
	return strings.Join(out, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// window is the event time condition of q (both ends inclusive; an open
// end is no bound, and a null event time never matches) and its
// arguments.
func window(q offlinestore.Query, ts string) (string, []any) {
	conds := []string{ts + " IS NOT NULL"}
	var args []any
	bound := func(op string, t time.Time) {
		args = append(args, t)
		conds = append(conds, ts+" "+op+" $"+strconv.Itoa(len(args))+"::timestamptz")
	}
	if q.Start != offlinestore.OpenStart {
		bound(">=", time.Unix(q.Start.Seconds, int64(q.Start.Nanos)).UTC())
	}
	if q.End != offlinestore.OpenEnd {
		bound("<=", time.Unix(q.End.Seconds, int64(q.End.Nanos)).UTC())
	}
	return strings.Join(conds, " AND "), args
}

// readTable runs a pull's statement in a read-only transaction with the
// session in UTC (so a naive timestamp column compares as UTC, as in
// Feast) and streams its rows as Arrow batches of q.Size() rows.
func (s *Source) readTable(ctx context.Context, q offlinestore.Query, sql string, args []any, fn func(arrow.RecordBatch) error) error {
	b, ok := s.db.(interface {
		BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
	})
	if !ok {
		return s.streamTable(ctx, s.db, q, sql, args, fn)
	}
	tx, err := b.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return historicalErr(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL TIME ZONE 'UTC'"); err != nil {
		return historicalErr(err)
	}
	return s.streamTable(ctx, tx, q, sql, args, fn)
}

func (s *Source) streamTable(ctx context.Context, db Querier, q offlinestore.Query, sql string, args []any, fn func(arrow.RecordBatch) error) error {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return historicalErr(err)
	}
	defer rows.Close()
	more := rows.Next()
	if err := rows.Err(); err != nil {
		return historicalErr(err)
	}
	fds := rows.FieldDescriptions()
	names := make([]string, len(fds))
	for i, fd := range fds {
		names[i] = fd.Name
	}
	cols, err := newColumns(rows, names, tableTime)
	if err != nil {
		return err
	}
	return streamColumns(rows, more, cols, q.Size(), fn)
}

// ColumnTypes implements offlinestore.ColumnLister as Feast's
// PostgreSQLSource.get_table_column_names_and_types does: the columns of
// "SELECT * FROM <table or query> AS sub LIMIT 0", each type named by
// Feast's pg_type_code_to_pg_type ("unknown" for a type it has no name
// for).
func (s *Source) ColumnTypes(ctx context.Context) ([]offlinestore.ColumnType, error) {
	rows, err := s.db.Query(ctx, "SELECT * FROM "+s.from+" AS sub LIMIT 0")
	if err != nil {
		return nil, historicalErr(err)
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	out := make([]offlinestore.ColumnType, len(fds))
	for i, fd := range fds {
		name, ok := pgTypeNames[fd.DataTypeOID]
		if !ok {
			name = "unknown"
		}
		out[i] = offlinestore.ColumnType{Name: fd.Name, Type: name}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, historicalErr(err)
	}
	return out, nil
}

// pgTypeNames are the type names Feast's pg_type_code_to_pg_type gives
// PostgreSQL type OIDs.
var pgTypeNames = map[uint32]string{
	16: "boolean", 17: "bytea", 20: "bigint", 21: "smallint", 23: "integer", 25: "text",
	114: "json", 199: "json[]", 700: "real", 701: "double precision",
	1000: "boolean[]", 1001: "bytea[]", 1005: "smallint[]", 1007: "integer[]", 1009: "text[]",
	1014: "character[]", 1016: "bigint[]", 1021: "real[]", 1022: "double precision[]",
	1042: "character", 1043: "character varying", 1082: "date", 1083: "time without time zone",
	1114: "timestamp without time zone", 1115: "timestamp without time zone[]", 1182: "date[]",
	1183: "time without time zone[]", 1184: "timestamp with time zone", 1185: "timestamp with time zone[]",
	1231: "numeric[]", 1700: "numeric", 2950: "uuid", 2951: "uuid[]", 3802: "jsonb", 3807: "jsonb[]",
}
