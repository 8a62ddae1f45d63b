package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyfmt"
	"github.com/feastgo/feastgo/offlinestore"
)

// Beginner opens transactions; *pgxpool.Pool implements it.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Columns returns the columns of a table source, in table order.
func Columns(ctx context.Context, db Querier, table string) ([]string, error) {
	rows, err := db.Query(ctx, "SELECT * FROM "+table+" LIMIT 0")
	if err != nil {
		return nil, core.Unavailable(err, "offline store postgres: reading the columns of %s", table)
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	return cols, rows.Err()
}

// AppendJSON appends rows to a table source in one statement and one
// transaction: rows is a JSON array of objects keyed by column name, and
// PostgreSQL converts each value to its column's type
// (json_populate_recordset), so ISO timestamps, numbers, strings and arrays
// land as the table declares them. Times without an offset are UTC, as in
// Feast.
func AppendJSON(ctx context.Context, db Beginner, table string, cols []string, rows []byte) error {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
	}
	list := strings.Join(quoted, ", ")
	tx, err := db.Begin(ctx)
	if err != nil {
		return core.Unavailable(err, "offline store postgres is unreachable")
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SET LOCAL TIME ZONE 'UTC'"); err != nil {
		return core.Unavailable(err, "offline store postgres write failed")
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM json_populate_recordset(NULL::%s, $1::json)", table, list, list, table)
	if _, err := tx.Exec(ctx, q, string(rows)); err != nil {
		// PostgreSQL refusing the rows (a value its column cannot take) is
		// the request's fault; a connection cut under the INSERT is not.
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) && ctx.Err() == nil {
			return core.Unavailable(err, "offline store postgres write to %s failed", table)
		}
		return core.Invalidf("appending to %s: %v", table, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return core.Unavailable(err, "offline store postgres write failed")
	}
	return nil
}

// RowsJSON renders rows as the JSON array of row objects AppendJSON takes.
// NaN and infinities, which JSON cannot carry, become null.
func RowsJSON(rows offlinestore.Rows) []byte {
	b := []byte{'['}
	for r := 0; r < rows.Len(); r++ {
		if r > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		for i, c := range rows.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = pyfmt.AppendJSONStringUTF8(b, c.Name)
			b = append(b, ':')
			b = appendJSONValue(b, c.Values[r])
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendJSONValue(b []byte, v core.Value) []byte {
	switch {
	case v.IsNull():
		return append(b, "null"...)
	case v.Type == core.String || v.Type == core.Bytes:
		return pyfmt.AppendJSONStringUTF8(b, v.S)
	case v.Type == core.Bool:
		return strconv.AppendBool(b, v.I != 0)
	case v.Type == core.Double || v.Type == core.Float:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, v.F, 'g', -1, 64)
	case v.Type == core.Int64 || v.Type == core.Int32 || v.Type == core.UnixTimestamp:
		return strconv.AppendInt(b, v.I, 10)
	}
	b = append(b, '[')
	for i, e := range v.List {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONValue(b, e)
	}
	return append(b, ']')
}
