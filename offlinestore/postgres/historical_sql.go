package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/arrowval"
	"github.com/feastgo/feastgo/offlinestore"
)

// frameColumns are the frame columns the join reads: every view's join
// keys, then the event time column, each once.
func frameColumns(q *offlinestore.HistoricalQuery) []string {
	seen := map[string]bool{}
	var cols []string
	for _, v := range q.Views {
		for _, k := range v.Keys {
			if !seen[k.Frame] {
				seen[k.Frame] = true
				cols = append(cols, k.Frame)
			}
		}
	}
	if !seen[q.EventTimeColumn] {
		cols = append(cols, q.EventTimeColumn)
	}
	return cols
}

// pgTypes are the column types of the entity table for the frame's Feast
// value types (the Arrow to Feast direction is arrowval's).
var pgTypes = map[core.ValueType]string{
	core.Int32: "integer", core.Int64: "bigint", core.Float: "real", core.Double: "double precision",
	core.Bool: "boolean", core.String: "text", core.Bytes: "bytea", core.UnixTimestamp: "timestamptz",
}

// copyFrame creates the entity table from an in-memory frame: the row
// number, the join keys and the event time, sent with COPY.
func copyFrame(ctx context.Context, tx pgx.Tx, q *offlinestore.HistoricalQuery) error {
	frame := q.Entities
	names := frameColumns(q)
	defs := []string{rowColumn + " bigint"}
	cells := make([]func(i int) any, len(names))
	for c, name := range names {
		idx := frame.Schema().FieldIndices(name)
		if len(idx) == 0 {
			if name == q.EventTimeColumn {
				return core.Invalidf("entity_df: no event timestamp column %q", name)
			}
			return core.Invalidf("entity_df: no join key column %q", name)
		}
		arr := frame.Column(idx[0])
		cell, typ, err := frameCell(arr, name == q.EventTimeColumn)
		if err != nil {
			return core.Invalidf("entity_df: column %q: %v", name, err)
		}
		cells[c] = cell
		defs = append(defs, ident(name)+" "+pgTypes[typ])
	}
	create := "CREATE TEMP TABLE " + entityTable + " (" + strings.Join(defs, ", ") + ") ON COMMIT DROP"
	if _, err := tx.Exec(ctx, create); err != nil {
		return historicalErr(err)
	}
	cols := append([]string{rowColumn}, names...)
	src := &frameRows{n: int(frame.NumRows()), cells: cells, row: make([]any, len(cols)), i: -1}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{entityTable}, cols, src); err != nil {
		return historicalErr(err)
	}
	return nil
}

// frameCell reads one frame column as values COPY can send; the event
// time column must be a timestamp.
func frameCell(arr arrow.Array, isTime bool) (func(i int) any, core.ValueType, error) {
	if isTime {
		get, err := arrowval.TimeReader(arr)
		if err != nil {
			return nil, 0, err
		}
		return func(i int) any {
			t, ok := get(i)
			if !ok {
				return nil
			}
			return time.Unix(t.Seconds, int64(t.Nanos)).UTC()
		}, core.UnixTimestamp, nil
	}
	var slab []core.Value
	get, typ, err := arrowval.Cells(arr, &slab)
	if err != nil {
		return nil, 0, err
	}
	if pgTypes[typ] == "" {
		return nil, 0, fmt.Errorf("a join key of type %s cannot be joined in PostgreSQL", typ)
	}
	return func(i int) any {
		v := get(i)
		switch {
		case v.IsNull():
			return nil
		case v.Type == core.String:
			return v.S
		case v.Type == core.Bytes:
			return []byte(v.S)
		case v.Type == core.Double || v.Type == core.Float:
			return v.F
		case v.Type == core.Bool:
			return v.I != 0
		case v.Type == core.UnixTimestamp:
			return time.Unix(v.I, 0).UTC()
		}
		return v.I
	}, typ, nil
}

// frameRows is the frame as a pgx.CopyFromSource.
type frameRows struct {
	n, i  int
	cells []func(i int) any
	row   []any
}

func (r *frameRows) Next() bool { r.i++; return r.i < r.n }

func (r *frameRows) Values() ([]any, error) {
	r.row[0] = int64(r.i)
	for c, cell := range r.cells {
		r.row[c+1] = cell(r.i)
	}
	return r.row, nil
}

func (r *frameRows) Err() error { return nil }

// createFrame creates the entity table from an EntitySQL query, numbering
// its rows in the order the query returns them, and returns the query's
// columns.
func createFrame(ctx context.Context, tx pgx.Tx, q *offlinestore.HistoricalQuery) ([]string, error) {
	create := "CREATE TEMP TABLE " + entityTable + " ON COMMIT DROP AS SELECT row_number() OVER () AS " +
		rowColumn + ", f.* FROM (" + q.EntitySQL + ") AS f"
	if _, err := tx.Exec(ctx, create); err != nil {
		return nil, historicalErr(err)
	}
	rows, err := tx.Query(ctx, "SELECT * FROM "+entityTable+" LIMIT 0", pgx.QueryExecModeDescribeExec)
	if err != nil {
		return nil, historicalErr(err)
	}
	fds := rows.FieldDescriptions()
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, historicalErr(err)
	}
	var cols []string
	for _, fd := range fds[min(1, len(fds)):] {
		cols = append(cols, fd.Name)
	}
	have := map[string]bool{}
	for _, c := range cols {
		have[c] = true
	}
	for _, c := range frameColumns(q) {
		if !have[c] {
			if c == q.EventTimeColumn {
				return nil, core.Invalidf("entity_df: the query returns no event timestamp column %q (it returns %s)", c, strings.Join(cols, ", "))
			}
			return nil, core.Invalidf("entity_df: the query returns no join key column %q (it returns %s)", c, strings.Join(cols, ", "))
		}
	}
	return cols, nil
}

// joinSQL is the one statement of a point-in-time join. Per view, a sort
// of the view's source rows in the frame's time window together with the
// frame's rows, per join key by time, finds each frame row's winner in one
// pass (an as-of join, see viewSQL); the frame is then joined with every
// view's winners by row number and returned in frame order.
//
// It was chosen over a LATERAL subquery (ORDER BY ts DESC LIMIT 1 per
// frame row), which is fast only when the source has an index on (key,
// ts) and a sequential scan per frame row otherwise, and over Feast's
// plan (join every frame row with all its key's rows in the window, then
// rank), whose intermediate result is frame rows x rows per key: the
// as-of sort reads each source row once and costs one sort of the window.
func joinSQL(q *offlinestore.HistoricalQuery, froms []historicalFrom, frameCols []string) string {
	var b strings.Builder
	b.WriteString("WITH ")
	for i := range q.Views {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "v%d AS (%s)", i, viewSQL(q, &q.Views[i], froms[i]))
	}
	b.WriteString(" SELECT ")
	var sel []string
	for _, c := range frameCols {
		sel = append(sel, "e."+ident(c))
	}
	for i, v := range q.Views {
		for f := range v.Features {
			sel = append(sel, fmt.Sprintf("v%d.f%d", i, f))
		}
	}
	if len(sel) == 0 {
		sel = append(sel, "e."+rowColumn)
	}
	b.WriteString(strings.Join(sel, ", "))
	b.WriteString(" FROM " + entityTable + " AS e")
	for i := range q.Views {
		fmt.Fprintf(&b, " LEFT JOIN v%d ON v%d.r = e.%s", i, i, rowColumn)
	}
	b.WriteString(" ORDER BY e." + rowColumn)
	return b.String()
}

// viewSQL is one view's winners: (r, f0, f1, ...) for every frame row r
// with a match. The source rows (kind 0) and the frame rows (kind 1) are
// sorted per key by (time, kind, created time, ctid), so a source row at
// a frame row's very time precedes it and, of source rows tied on time,
// the later created (then the later stored) comes last; g, the running
// count of source rows, gives each frame row the number of its key's last
// row at or before its time, and a second window hands that row's
// columns to the frame rows of the same (key, g). A frame row whose winner
// is older than the ttl, or that has a null key or time, has none.
func viewSQL(q *offlinestore.HistoricalQuery, v *offlinestore.HistoricalView, from historicalFrom) string {
	ets := "e." + ident(q.EventTimeColumn)
	ttl := ""
	if v.TTL > 0 {
		ttl = fmt.Sprintf(" - %d * interval '1 microsecond'", v.TTL.Microseconds())
	}
	// The source branch.
	src := []string{}
	ent := []string{}
	var keys, notNullS, notNullE []string
	for k, kc := range v.Keys {
		src = append(src, fmt.Sprintf("s.%s AS k%d", ident(kc.Source), k))
		ent = append(ent, "e."+ident(kc.Frame))
		keys = append(keys, fmt.Sprintf("k%d", k))
		notNullS = append(notNullS, "s."+ident(kc.Source)+" IS NOT NULL")
		notNullE = append(notNullE, "e."+ident(kc.Frame)+" IS NOT NULL")
	}
	sts := "s." + ident(v.TimestampColumn)
	src = append(src, sts+"::timestamptz AS ts", "0 AS kind", "NULL::bigint AS r", sts+"::timestamptz AS sts")
	ent = append(ent, ets+"::timestamptz", "1", "e."+rowColumn, "NULL")
	order := []string{"ts", "kind"}
	if v.CreatedColumn != "" {
		src = append(src, "s."+ident(v.CreatedColumn)+"::timestamptz AS cr")
		ent = append(ent, "NULL")
		order = append(order, "cr NULLS FIRST")
	}
	if from.ctid {
		src = append(src, "s.ctid AS tid")
		ent = append(ent, "NULL")
		order = append(order, "tid")
	}
	var feats []string
	for f, fc := range v.Features {
		src = append(src, fmt.Sprintf("s.%s AS f%d", ident(fc.Source), f))
		ent = append(ent, "NULL")
		feats = append(feats, fmt.Sprintf("f%d", f))
	}
	window := fmt.Sprintf("(SELECT max(%s) FROM %s AS e)", ets, entityTable)
	where := append(notNullS, sts+" <= "+window)
	if ttl != "" {
		where = append(where, fmt.Sprintf("%s >= (SELECT min(%s) FROM %s AS e)%s", sts, ets, entityTable, ttl))
	}
	whereE := append(notNullE, ets+" IS NOT NULL")
	union := "SELECT " + strings.Join(src, ", ") + " FROM " + from.from + " AS s WHERE " + strings.Join(where, " AND ") +
		" UNION ALL SELECT " + strings.Join(ent, ", ") + " FROM " + entityTable + " AS e WHERE " + strings.Join(whereE, " AND ")

	part := ""
	if len(keys) > 0 {
		part = "PARTITION BY " + strings.Join(keys, ", ") + " "
	}
	counted := "SELECT *, count(sts) OVER (" + part + "ORDER BY " + strings.Join(order, ", ") +
		" ROWS UNBOUNDED PRECEDING) AS g FROM (" + union + ") AS u"
	handed := []string{"r", "kind", "ts", "first_value(sts) OVER w AS wts"}
	for _, f := range feats {
		handed = append(handed, fmt.Sprintf("first_value(%s) OVER w AS %s", f, f))
	}
	winPart := "PARTITION BY " + strings.Join(append(keys, "g"), ", ")
	joined := "SELECT " + strings.Join(handed, ", ") + " FROM (" + counted + ") AS c WINDOW w AS (" + winPart +
		" ORDER BY kind ROWS UNBOUNDED PRECEDING)"
	cond := "kind = 1 AND wts IS NOT NULL"
	if ttl != "" {
		cond += " AND wts >= ts" + ttl
	}
	return "SELECT " + strings.Join(append([]string{"r"}, feats...), ", ") + " FROM (" + joined + ") AS j WHERE " + cond
}
