// Package postgres is the offline engine for Feast PostgreSQLSources: a
// table or a query, read with pgx, and appended to in one transaction
// (postgres_write.go). Engine (engine.go) owns the one connection pool of
// the offline_store database; offlinestore/catalog closes it at shutdown.
// The "latest row per entity key in the window" is computed by PostgreSQL
// (DISTINCT ON), and the rows stream to the client as they are produced, so
// neither side holds the whole result.
//
// It imports offlinestore, core, the registry protos and pgx; it must not
// import config, registry, other engines, or the packages that use the
// offline store (materialize, ingest, server).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// Querier runs a query; *pgx.Conn and *pgxpool.Pool implement it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Source is a PostgreSQL table or query.
type Source struct {
	db   Querier
	from string // the FROM item, as Feast's get_table_query_string builds it
	name string
}

var _ offlinestore.Source = (*Source)(nil)

// New returns the source for a PostgreSQLSource's table or query; the table
// wins when both are set, as in Feast. Both are used verbatim in SQL, as
// Feast does, so a table may be schema-qualified.
func New(db Querier, table, query string) (*Source, error) {
	switch {
	case table != "":
		return &Source{db: db, from: table, name: "table " + table}, nil
	case query != "":
		return &Source{db: db, from: "(" + query + ")", name: "query " + query}, nil
	}
	return nil, fmt.Errorf("postgres source: neither table nor query is set")
}

// Describe names the table or query.
func (s *Source) Describe() string { return "postgres " + s.name }

// SQL returns the statement PullLatest runs; $1 and $2 are the window.
func (s *Source) SQL(q offlinestore.Query) string {
	col := func(c string) string { return `a."` + strings.ReplaceAll(c, `"`, `""`) + `"` }
	keys := make([]string, q.KeyColumns)
	for i, k := range q.Columns[:q.KeyColumns] {
		keys[i] = col(k)
	}
	sel := make([]string, 0, len(q.Columns)+2)
	for _, c := range q.Columns {
		sel = append(sel, col(c))
	}
	sel = append(sel, col(q.TimestampColumn))
	order := append(append([]string(nil), keys...), col(q.TimestampColumn)+" DESC")
	if q.CreatedColumn != "" {
		sel = append(sel, col(q.CreatedColumn))
		order = append(order, col(q.CreatedColumn)+" DESC NULLS LAST")
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	if len(keys) > 0 {
		b.WriteString("DISTINCT ON (" + strings.Join(keys, ", ") + ") ")
	}
	b.WriteString(strings.Join(sel, ", "))
	b.WriteString(" FROM " + s.from + " AS a WHERE " + col(q.TimestampColumn) + " BETWEEN $1::timestamptz AND $2::timestamptz")
	b.WriteString(" ORDER BY " + strings.Join(order, ", "))
	if len(keys) == 0 {
		b.WriteString(" LIMIT 1")
	}
	return b.String()
}

// PullLatest implements offlinestore.Source. Ties on both timestamps are
// broken by PostgreSQL's sort order.
func (s *Source) PullLatest(ctx context.Context, q offlinestore.Query, fn func(*offlinestore.Batch) error) error {
	start := time.Unix(q.Start.Seconds, int64(q.Start.Nanos)).UTC()
	end := time.Unix(q.End.Seconds, int64(q.End.Nanos)).UTC()
	rows, err := s.db.Query(ctx, s.SQL(q), start, end)
	if err != nil {
		return s.readErr(err)
	}
	defer rows.Close()

	width := len(q.Columns)
	fds := rows.FieldDescriptions()
	if len(fds) < width+1 {
		return fmt.Errorf("%s: query returned %d columns, want %d", s.Describe(), len(fds), width+1)
	}
	m := rows.Conn().TypeMap()
	var slab []core.Value
	cells := make([]decoder, width)
	for i := range cells {
		if cells[i], _, err = newDecoder(m, fds[i], &slab); err != nil {
			return fmt.Errorf("%s: column %q: %w", s.Describe(), q.Columns[i], err)
		}
	}
	tsOf, err := newTimeDecoder(m, fds[width])
	if err != nil {
		return fmt.Errorf("%s: timestamp column %q: %w", s.Describe(), q.TimestampColumn, err)
	}
	var createdOf timeDecoder
	if q.CreatedColumn != "" {
		if createdOf, err = newTimeDecoder(m, fds[width+1]); err != nil {
			return fmt.Errorf("%s: created timestamp column %q: %w", s.Describe(), q.CreatedColumn, err)
		}
	}

	size := q.Size()
	out := &offlinestore.Batch{Total: -1, Width: width}
	if createdOf != nil {
		out.Created = make([]core.Timestamp, 0, size)
	}
	flush := func() error {
		if err := fn(out); err != nil {
			return err
		}
		out.Reset(width)
		slab = slab[:0]
		return nil
	}
	sent := false
	for rows.Next() {
		raw := rows.RawValues()
		for j, dec := range cells {
			v, err := dec(raw[j])
			if err != nil {
				return fmt.Errorf("%s: column %q: %w", s.Describe(), q.Columns[j], err)
			}
			if j < q.KeyColumns && v.IsNull() {
				return fmt.Errorf("%s: a row has a null join key %q", s.Describe(), q.Columns[j])
			}
			out.Values = append(out.Values, v)
		}
		ts, ok, err := tsOf(raw[width])
		if err != nil || !ok {
			return fmt.Errorf("%s: timestamp column %q: bad value: %v", s.Describe(), q.TimestampColumn, err)
		}
		out.TS = append(out.TS, ts)
		if createdOf != nil {
			c, _, err := createdOf(raw[width+1])
			if err != nil {
				return fmt.Errorf("%s: created timestamp column %q: %w", s.Describe(), q.CreatedColumn, err)
			}
			out.Created = append(out.Created, c)
		}
		out.Rows++
		if out.Rows >= size {
			if err := flush(); err != nil {
				return err
			}
			sent = true
		}
	}
	if err := rows.Err(); err != nil {
		return s.readErr(err)
	}
	if out.Rows > 0 || !sent {
		return flush()
	}
	return nil
}

// readErr names the source; an error PostgreSQL did not report itself (a
// refused or dropped connection, a timeout) is core.KindUnavailable.
func (s *Source) readErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", s.Describe(), err)
	}
	return core.Unavailable(err, "%s: offline store postgres is unreachable", s.Describe())
}

// decoder turns one raw column value into a core.Value.
type decoder func(raw []byte) (core.Value, error)

// timeDecoder turns one raw timestamp value into an instant; ok is false
// for a null.
type timeDecoder func(raw []byte) (t core.Timestamp, ok bool, err error)

// newDecoder plans the decoding of one result column and says which Feast
// value type its non-null cells have: the one PostgreSQL to Feast type map
// of this package (historical retrieval builds Arrow columns from it).
func newDecoder(m *pgtype.Map, fd pgconn.FieldDescription, slab *[]core.Value) (decoder, core.ValueType, error) {
	switch fd.DataTypeOID {
	case pgtype.Int2OID, pgtype.Int4OID:
		return scalar(m, fd, intValue(core.Int32)), core.Int32, nil
	case pgtype.Int8OID:
		return scalar(m, fd, intValue(core.Int64)), core.Int64, nil
	case pgtype.Float4OID:
		return scalar(m, fd, float4Value), core.Float, nil
	case pgtype.Float8OID, pgtype.NumericOID:
		return scalar(m, fd, float8Value), core.Double, nil
	case pgtype.BoolOID:
		return scalar(m, fd, boolValue), core.Bool, nil
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UUIDOID, pgtype.JSONOID, pgtype.JSONBOID:
		return scalar(m, fd, textValue), core.String, nil
	case pgtype.ByteaOID:
		return scalar(m, fd, byteaValue), core.Bytes, nil
	case pgtype.TimestamptzOID, pgtype.TimestampOID, pgtype.DateOID:
		dec, err := newTimeDecoder(m, fd)
		if err != nil {
			return nil, 0, err
		}
		return func(raw []byte) (core.Value, error) {
			t, ok, err := dec(raw)
			if err != nil || !ok {
				return core.Value{}, err
			}
			return core.Value{Type: core.UnixTimestamp, I: t.Seconds}, nil
		}, core.UnixTimestamp, nil
	case pgtype.Int2ArrayOID, pgtype.Int4ArrayOID:
		return list(m, fd, core.Int32List, slab, intValue(core.Int32)), core.Int32List, nil
	case pgtype.Int8ArrayOID:
		return list(m, fd, core.Int64List, slab, intValue(core.Int64)), core.Int64List, nil
	case pgtype.Float4ArrayOID:
		return list(m, fd, core.FloatList, slab, float4Value), core.FloatList, nil
	case pgtype.Float8ArrayOID, pgtype.NumericArrayOID:
		return list(m, fd, core.DoubleList, slab, float8Value), core.DoubleList, nil
	case pgtype.BoolArrayOID:
		return list(m, fd, core.BoolList, slab, boolValue), core.BoolList, nil
	case pgtype.TextArrayOID, pgtype.VarcharArrayOID, pgtype.BPCharArrayOID:
		return list(m, fd, core.StringList, slab, textValue), core.StringList, nil
	case pgtype.ByteaArrayOID:
		return list(m, fd, core.BytesList, slab, byteaValue), core.BytesList, nil
	case pgtype.TimestamptzArrayOID:
		return list(m, fd, core.UnixTimestampList, slab, func(t *pgtype.Timestamptz) core.Value {
			if !t.Valid {
				return core.Value{}
			}
			return core.Value{Type: core.UnixTimestamp, I: floorSeconds(t.Time)}
		}), core.UnixTimestampList, nil
	case pgtype.TimestampArrayOID:
		return list(m, fd, core.UnixTimestampList, slab, func(t *pgtype.Timestamp) core.Value {
			if !t.Valid {
				return core.Value{}
			}
			return core.Value{Type: core.UnixTimestamp, I: floorSeconds(t.Time)}
		}), core.UnixTimestampList, nil
	}
	return nil, 0, fmt.Errorf("PostgreSQL type OID %d is not supported", fd.DataTypeOID)
}

// scalar decodes through pgx's scan plan for T, planned once per column.
func scalar[T any](m *pgtype.Map, fd pgconn.FieldDescription, conv func(*T) core.Value) decoder {
	var target T
	plan := m.PlanScan(fd.DataTypeOID, fd.Format, &target)
	return func(raw []byte) (core.Value, error) {
		if raw == nil {
			return core.Value{}, nil
		}
		if err := plan.Scan(raw, &target); err != nil {
			return core.Value{}, err
		}
		return conv(&target), nil
	}
}

// list decodes a one-dimensional array; elements land in *slab.
func list[T any](m *pgtype.Map, fd pgconn.FieldDescription, typ core.ValueType, slab *[]core.Value, conv func(*T) core.Value) decoder {
	var target pgtype.FlatArray[T]
	plan := m.PlanScan(fd.DataTypeOID, fd.Format, &target)
	return func(raw []byte) (core.Value, error) {
		if raw == nil {
			return core.Value{}, nil
		}
		if err := plan.Scan(raw, &target); err != nil {
			return core.Value{}, err
		}
		from := len(*slab)
		for i := range target {
			*slab = append(*slab, conv(&target[i]))
		}
		return core.Value{Type: typ, List: (*slab)[from:len(*slab):len(*slab)]}, nil
	}
}

func intValue(t core.ValueType) func(*pgtype.Int8) core.Value {
	return func(v *pgtype.Int8) core.Value {
		if !v.Valid {
			return core.Value{}
		}
		return core.Value{Type: t, I: v.Int64}
	}
}

func float4Value(v *pgtype.Float4) core.Value {
	if !v.Valid {
		return core.Value{}
	}
	return core.Value{Type: core.Float, F: float64(v.Float32)}
}

func float8Value(v *pgtype.Float8) core.Value {
	if !v.Valid {
		return core.Value{}
	}
	return core.Value{Type: core.Double, F: v.Float64}
}

func boolValue(v *pgtype.Bool) core.Value {
	if !v.Valid {
		return core.Value{}
	}
	if v.Bool {
		return core.Value{Type: core.Bool, I: 1}
	}
	return core.Value{Type: core.Bool}
}

func textValue(v *pgtype.Text) core.Value {
	if !v.Valid {
		return core.Value{}
	}
	return core.Value{Type: core.String, S: v.String}
}

func byteaValue(v *[]byte) core.Value {
	if *v == nil {
		return core.Value{}
	}
	return core.Value{Type: core.Bytes, S: string(*v)}
}

func newTimeDecoder(m *pgtype.Map, fd pgconn.FieldDescription) (timeDecoder, error) {
	var get func(raw []byte) (time.Time, bool, error)
	switch fd.DataTypeOID {
	case pgtype.TimestamptzOID:
		var t pgtype.Timestamptz
		plan := m.PlanScan(fd.DataTypeOID, fd.Format, &t)
		get = func(raw []byte) (time.Time, bool, error) { err := plan.Scan(raw, &t); return t.Time, t.Valid, err }
	case pgtype.TimestampOID:
		// A naive timestamp is UTC, as everywhere in Feast.
		var t pgtype.Timestamp
		plan := m.PlanScan(fd.DataTypeOID, fd.Format, &t)
		get = func(raw []byte) (time.Time, bool, error) { err := plan.Scan(raw, &t); return t.Time, t.Valid, err }
	case pgtype.DateOID:
		var t pgtype.Date
		plan := m.PlanScan(fd.DataTypeOID, fd.Format, &t)
		get = func(raw []byte) (time.Time, bool, error) { err := plan.Scan(raw, &t); return t.Time, t.Valid, err }
	default:
		return nil, fmt.Errorf("PostgreSQL type OID %d is not a timestamp or date", fd.DataTypeOID)
	}
	return func(raw []byte) (core.Timestamp, bool, error) {
		if raw == nil {
			return core.Timestamp{}, false, nil
		}
		t, ok, err := get(raw)
		if err != nil || !ok {
			return core.Timestamp{}, false, err
		}
		return core.TimestampOf(t), true, nil
	}, nil
}

// floorSeconds is t in whole seconds since the epoch, rounded down.
func floorSeconds(t time.Time) int64 { return t.Unix() }
