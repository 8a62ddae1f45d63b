// Package offlinestore is the contract of the offline store: Catalog
// (resolves the registry's data sources to tables and owns their
// connections), Engine (one back end: parquet, PostgreSQL, next ClickHouse),
// Source (a table read as "the latest row per entity key in a window", for
// materialization), Appender (a table taking pushed rows) and the row Batch
// a Source fills. Each engine is its own package under offlinestore/;
// offlinestore/catalog puts them together from feature_store.yaml, and
// offlinestore/offlinetest is the suite every engine passes.
//
// This package holds only interfaces and small value types. It imports core
// and the registry protos, nothing else of this module: not the engines, not
// config, and none of the serving, ingest or materialization packages, which
// all import it.
package offlinestore

import (
	"context"
	"math"

	"github.com/feastgo/feastgo/core"
)

// Source is one offline table: a parquet file or directory, a PostgreSQL
// table or query.
type Source interface {
	// PullLatest streams, for every entity key that has at least one row
	// whose event time lies in [q.Start, q.End] (both ends inclusive, as in
	// every Feast offline store), the row with the greatest event time; a
	// tie is broken by the greater created time (a null created time loses),
	// and a full tie by the row read last. Rows with a null event time are
	// never returned.
	//
	// Rows arrive in batches of at most q.BatchSize rows through fn. The
	// batch and everything it points to is reused once fn returns, so fn
	// must copy what it keeps. An error from fn stops the pull and is
	// returned as is. A source with no matching rows calls fn with a single
	// empty batch or not at all. A missing column is an error naming it.
	//
	// Memory stays bounded by the number of distinct keys and one batch, not
	// by the size of the table.
	PullLatest(ctx context.Context, q Query, fn func(*Batch) error) error

	// Describe names the source in errors and logs.
	Describe() string
}

// Query says which columns of a source to read and for which window.
type Query struct {
	// Columns are the source column names to return, in this order: the
	// KeyColumns join-key columns first, then the feature columns.
	Columns []string
	// KeyColumns is how many leading Columns form the entity key; 0 means
	// an entityless view, whose latest row overall is returned.
	KeyColumns int
	// TimestampColumn is the event time column.
	TimestampColumn string
	// CreatedColumn breaks ties between equal event times; empty if the
	// source has none.
	CreatedColumn string
	// Start and End bound the event time, both inclusive.
	Start, End core.Timestamp
	// BatchSize is the largest number of rows per batch (default 10,000).
	BatchSize int
}

// DefaultBatchSize is the batch size when Query.BatchSize is not positive.
const DefaultBatchSize = 10_000

// Size returns the batch size to use.
func (q Query) Size() int {
	if q.BatchSize > 0 {
		return q.BatchSize
	}
	return DefaultBatchSize
}

// InWindow reports whether t lies in [q.Start, q.End].
func (q Query) InWindow(t core.Timestamp) bool {
	return !Before(t, q.Start) && !Before(q.End, t)
}

// Cell types beyond scalars and scalar lists, numbered like the Feast type a
// column of that shape usually feeds.
const (
	// StructCell is a struct (record) cell; List holds field name (a
	// String) and field value, alternately.
	StructCell = core.Struct
	// StructListCell is a list of structs; List holds StructCells.
	StructListCell = core.StructList
	// NestedListCell is a list of lists; List holds the inner lists.
	NestedListCell = core.ValueList
)

// Batch is a set of rows pulled from a source, row-major.
type Batch struct {
	// Rows is the number of rows.
	Rows int
	// Width is len(Query.Columns).
	Width int
	// Values holds Rows×Width cells; row i, column j is Values[i*Width+j].
	// A null cell, and a null element of a list cell, has Type
	// core.Invalid. Timestamp cells are
	// core.UnixTimestamp values in whole seconds (rounded down, as numpy's
	// datetime64[s] cast does). Structs and nested lists use the cell
	// types above.
	Values []core.Value
	// TS holds each row's event time.
	TS []core.Timestamp
	// Created holds each row's created time (zero when null); nil when the
	// query has no CreatedColumn.
	Created []core.Timestamp
	// Total is the number of rows the whole pull returns, when the source
	// knows it before the first batch; -1 otherwise. It drives progress
	// reporting only.
	Total int64
}

// Row returns the cells of row i.
func (b *Batch) Row(i int) []core.Value { return b.Values[i*b.Width : (i+1)*b.Width] }

// Reset empties the batch for reuse, keeping its memory.
func (b *Batch) Reset(width int) {
	b.Rows, b.Width = 0, width
	b.Values, b.TS = b.Values[:0], b.TS[:0]
	if b.Created != nil {
		b.Created = b.Created[:0]
	}
}

// Before reports whether a is earlier than b.
func Before(a, b core.Timestamp) bool {
	return a.Seconds < b.Seconds || (a.Seconds == b.Seconds && a.Nanos < b.Nanos)
}

// NoTime stands for a null created time in comparisons: earlier than any
// real time, so a row without one loses a tie (pandas sorts nulls last).
var NoTime = core.Timestamp{Seconds: math.MinInt64}

// Newer reports whether a row with event time ts and created time created
// beats one with event time bestTS and created time bestCreated under
// Feast's ordering (event time, then created time; later wins). Null created
// times are passed as NoTime. A full tie counts as newer, so the row read
// last wins.
func Newer(ts, created, bestTS, bestCreated core.Timestamp) bool {
	if ts != bestTS {
		return Before(bestTS, ts)
	}
	return !Before(created, bestCreated)
}
