package offlinestore

import (
	"context"
	"math"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/feastgo/feastgo/core"
)

// OpenStart and OpenEnd are the bounds of a window open on that side.
var (
	OpenStart = core.Timestamp{Seconds: math.MinInt64}
	OpenEnd   = core.Timestamp{Seconds: math.MaxInt64, Nanos: 999_999_999}
)

// TableReader is an optional ability of a Source: its rows as Arrow
// record batches in the table's own column types, as Feast's
// pull_latest_from_table_or_query and pull_all_from_table_or_query return
// them (Feast's remote offline server sends those tables as they are).
//
// Each batch has the columns q.Columns, then q.TimestampColumn, then
// q.CreatedColumn when set (a name already among q.Columns is not
// repeated), with the time columns as timestamps in UTC (a naive column is
// read as UTC, as Feast's stores do). Batches are released once fn
// returns; fn must Retain what it keeps. A source with no matching rows
// calls fn once with a 0-row batch, so the schema is always known. A
// missing column is an error naming it.
type TableReader interface {
	// ReadLatest returns the rows PullLatest returns, in the same order.
	ReadLatest(ctx context.Context, q Query, fn func(arrow.RecordBatch) error) error
	// ReadAll returns every row whose event time lies in [q.Start, q.End]
	// (both inclusive; OpenStart and OpenEnd leave a side open), in table
	// order. Rows with a null event time are not returned. Memory
	// stays bounded by one batch.
	ReadAll(ctx context.Context, q Query, fn func(arrow.RecordBatch) error) error
}

// ColumnLister is an optional ability of a Source: the names and types of
// its columns, for Feast's get_table_column_names_and_types.
type ColumnLister interface {
	// ColumnTypes returns every column of the table in table order, each
	// type named as the source's own Feast data source names it (a
	// pyarrow type string for parquet, a PostgreSQL type name for
	// PostgreSQL).
	ColumnTypes(ctx context.Context) ([]ColumnType, error)
}

// ColumnType is one column of a table and its type's name.
type ColumnType struct {
	Name, Type string
}
