package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/arrowval"
	"github.com/feastgo/feastgo/offlinestore"
)

var _ offlinestore.HistoricalEngine = (*Engine)(nil)

// entityTable is the temporary table holding the entity frame; it lives in
// the join's transaction only (ON COMMIT DROP), so one name serves every
// connection. rowColumn numbers its rows in frame order.
const (
	entityTable = "feastgo_entity_df"
	rowColumn   = "feastgo_entity_row"
)

// Historical implements offlinestore.HistoricalEngine with one SQL query in
// the offline store's database (see joinSQL): the entity frame goes into a
// temporary table by COPY (an EntitySQL frame is created from its query
// there), and the joined rows stream back in frame order, decoded into
// Arrow batches of q.Size() rows as they arrive. Cancelling ctx cancels the
// query in PostgreSQL.
func (e *Engine) Historical(ctx context.Context, q *offlinestore.HistoricalQuery, fn func(arrow.RecordBatch) error) error {
	if q.Range != nil {
		return e.historicalRange(ctx, q, fn)
	}
	froms := make([]historicalFrom, len(q.Views))
	for i, v := range q.Views {
		table, query, err := parseOptions(v.Source)
		if err != nil {
			return core.Invalidf("feature view %s: data source %s: PostgreSQL options: %v", v.Name, v.Source.GetName(), err)
		}
		src, err := New(nil, table, query)
		if err != nil {
			return core.Invalidf("feature view %s: data source %s: %v", v.Name, v.Source.GetName(), err)
		}
		froms[i] = historicalFrom{from: src.from, table: table}
	}
	pool, err := e.db(ctx)
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return core.Unavailable(err, "offline store postgres is unreachable")
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return historicalErr(err)
	}
	// A rollback after a cancelled query fails too; the connection is then
	// closed by pgx, which drops the temporary table with it.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Naive timestamps are UTC, as everywhere in Feast.
	if _, err := tx.Exec(ctx, "SET LOCAL TIME ZONE 'UTC'"); err != nil {
		return historicalErr(err)
	}
	var frameCols []string
	if q.Entities != nil {
		err = copyFrame(ctx, tx, q)
	} else {
		frameCols, err = createFrame(ctx, tx, q)
	}
	if err != nil {
		return err
	}
	for i := range froms {
		if froms[i].ctid, err = hasCtid(ctx, tx, froms[i].table); err != nil {
			return err
		}
	}
	// The planner needs the frame's size and key distribution.
	if _, err := tx.Exec(ctx, "ANALYZE "+entityTable); err != nil {
		return historicalErr(err)
	}
	// Not from pgx's statement cache: the entity table's column types
	// differ between joins of the same text.
	rows, err := tx.Query(ctx, joinSQL(q, froms, frameCols), pgx.QueryExecModeDescribeExec)
	if err != nil {
		return historicalErr(err)
	}
	defer rows.Close()
	return streamBatches(q, rows, fn)
}

// historicalFrom is one view's source as the join reads it: the FROM item,
// the table (empty for a query) and whether its rows have a ctid, which
// breaks full ties.
type historicalFrom struct {
	from, table string
	ctid        bool
}

// hasCtid reports whether table is a relation with physical rows (a table,
// partitioned table or materialized view), whose ctid orders the rows as a
// scan reads them; a view or a query has none.
func hasCtid(ctx context.Context, tx pgx.Tx, table string) (bool, error) {
	if table == "" {
		return false, nil
	}
	var kind *string
	err := tx.QueryRow(ctx, "SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)", table).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, historicalErr(err)
	}
	return kind != nil && (*kind == "r" || *kind == "p" || *kind == "m"), nil
}

// historicalErr classifies an error of the join: PostgreSQL's own
// complaints about the statement (class 42: an unknown column or table, a
// type mismatch, a syntax error in an EntitySQL) and about data (class
// 22) are the caller's; a lost connection is unavailable; a cancellation
// is returned as is.
func historicalErr(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &pgErr):
		if strings.HasPrefix(pgErr.Code, "42") || strings.HasPrefix(pgErr.Code, "22") {
			return core.Invalidf("offline store postgres: %s", pgErr.Message)
		}
		return fmt.Errorf("offline store postgres: %w", err)
	}
	var ce *core.Error
	if errors.As(err, &ce) {
		return err
	}
	return core.Unavailable(err, "offline store postgres is unreachable")
}

// ident quotes a column name for SQL.
func ident(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// streamBatches decodes the join's rows into Arrow batches of q.Size()
// rows; at least one batch is sent, so a 0-row frame still has a schema.
func streamBatches(q *offlinestore.HistoricalQuery, rows pgx.Rows, fn func(arrow.RecordBatch) error) error {
	// The columns are known once the first row (or the end) has arrived.
	more := rows.Next()
	if err := rows.Err(); err != nil {
		return historicalErr(err)
	}
	names, err := outputNames(q, rows.FieldDescriptions())
	if err != nil {
		return err
	}
	cols, err := newColumns(rows, names, nil)
	if err != nil {
		return err
	}
	return streamColumns(rows, more, cols, q.Size(), fn)
}

// streamColumns decodes rows into cols and sends Arrow batches of size
// rows; more is the result of the first rows.Next, which the caller made
// to learn the columns. At least one batch is sent. It releases the
// builders of cols.
func streamColumns(rows pgx.Rows, more bool, cols []*column, size int, fn func(arrow.RecordBatch) error) error {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.b.Type(), Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	defer func() {
		for _, c := range cols {
			c.b.Release()
		}
	}()
	n, sent := 0, false
	flush := func() error {
		arrs := make([]arrow.Array, len(cols))
		for i, c := range cols {
			arrs[i] = c.b.NewArray()
		}
		rec := array.NewRecordBatch(schema, arrs, int64(n))
		for _, a := range arrs {
			a.Release()
		}
		err := fn(rec)
		rec.Release()
		n, sent = 0, true
		return err
	}
	for ; more; more = rows.Next() {
		raw := rows.RawValues()
		for i, c := range cols {
			if err := c.add(raw[i]); err != nil {
				return fmt.Errorf("offline store postgres: column %q: %w", c.name, err)
			}
		}
		n++
		if n == size {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return historicalErr(err)
	}
	if n > 0 || !sent {
		return flush()
	}
	return nil
}

// outputNames are the result's column names: an EntitySQL frame's own
// columns, as PostgreSQL names them, then the features' output names.
func outputNames(q *offlinestore.HistoricalQuery, fds []pgconn.FieldDescription) ([]string, error) {
	var feats []string
	for _, v := range q.Views {
		for _, f := range v.Features {
			feats = append(feats, f.Output)
		}
	}
	if len(fds) < len(feats) {
		return nil, fmt.Errorf("offline store postgres: the join returned %d columns for %d features", len(fds), len(feats))
	}
	names := make([]string, 0, len(fds))
	for _, fd := range fds[:len(fds)-len(feats)] {
		names = append(names, fd.Name)
	}
	return append(names, feats...), nil
}

// column builds one output column from raw values: through the package's
// PostgreSQL to Feast value decoders (newDecoder) and arrowval's Feast to
// Arrow types, except that a timestamp keeps its microseconds.
type column struct {
	name string
	b    array.Builder
	add  func(raw []byte) error
}

// newColumns plans the output columns; tsType, when not nil, is the Arrow
// type of timestamp columns instead of arrowval's.
func newColumns(rows pgx.Rows, names []string, tsType arrow.DataType) ([]*column, error) {
	m := rows.Conn().TypeMap()
	var cols []*column
	for i, fd := range rows.FieldDescriptions() {
		c, err := newColumn(m, fd, names[i], tsType)
		if err != nil {
			for _, c := range cols {
				c.b.Release()
			}
			return nil, core.Invalidf("offline store postgres: column %q: %v", names[i], err)
		}
		cols = append(cols, c)
	}
	return cols, nil
}

func newColumn(m *pgtype.Map, fd pgconn.FieldDescription, name string, tsType arrow.DataType) (*column, error) {
	var slab []core.Value
	dec, typ, err := newDecoder(m, fd, &slab)
	if err != nil {
		return nil, err
	}
	dt, ok := arrowval.TypeOf(typ)
	if !ok {
		return nil, fmt.Errorf("value type %s has no Arrow column", typ)
	}
	if typ == core.UnixTimestamp && tsType != nil {
		dt = tsType
	}
	c := &column{name: name, b: array.NewBuilder(memory.DefaultAllocator, dt)}
	if typ == core.UnixTimestamp {
		tdec, err := newTimeDecoder(m, fd)
		if err != nil {
			c.b.Release()
			return nil, err
		}
		tb := c.b.(*array.TimestampBuilder)
		c.add = func(raw []byte) error {
			t, ok, err := tdec(raw)
			switch {
			case err != nil:
				return err
			case !ok:
				tb.AppendNull()
			default:
				tb.Append(arrow.Timestamp(t.Seconds*1_000_000 + int64(t.Nanos)/1000))
			}
			return nil
		}
		return c, nil
	}
	c.add = func(raw []byte) error {
		slab = slab[:0]
		v, err := dec(raw)
		if err != nil {
			return err
		}
		return arrowval.Append(c.b, v)
	}
	return c, nil
}
