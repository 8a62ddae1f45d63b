package offlinestore

import (
	"context"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/feastgo/feastgo/core"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Catalog is the offline store of a repository: it resolves the data
// sources the registry records (a view's batch source, or a push or stream
// source, which stands for its batch source) to the tables behind them, and
// owns whatever those tables need (connection pools). Materialization
// pulls through it, offline pushes append through it, and the
// point-in-time join of historical retrieval will read through it.
//
// A Catalog is safe for concurrent use. Close releases its connections;
// once closed, every method fails.
type Catalog interface {
	// Source returns the table behind ds for reading.
	Source(ctx context.Context, ds *corepb.DataSource) (Source, error)
	// Appender returns the table behind ds for appending (Feast's
	// offline_write_batch). Only tables accept rows: a query source, or a
	// file this server cannot rewrite, is an error.
	Appender(ctx context.Context, ds *corepb.DataSource) (Appender, error)

	// Historical runs a point-in-time join in the engine that owns every
	// view's source (see HistoricalEngine); views of different engines,
	// or an engine that cannot join, are an error.
	Historical(ctx context.Context, q *HistoricalQuery, fn func(arrow.RecordBatch) error) error

	// Close releases the connections of every engine.
	Close() error
}

// Engine is one offline back end: parquet files, PostgreSQL, and whatever
// comes next (ClickHouse). Each lives in its own package under
// offlinestore/ and is listed once in offlinestore/catalog, which routes
// every data source to the first engine that claims it.
type Engine interface {
	// Claims reports whether ds, a batch source (never a push or stream
	// source), is a table of this engine. It looks at the source's kind
	// only; whether the engine is configured is for Source and Appender
	// to say.
	Claims(ds *corepb.DataSource) bool
	// Source and Appender are the Catalog methods for a claimed source.
	Source(ctx context.Context, ds *corepb.DataSource) (Source, error)
	Appender(ctx context.Context, ds *corepb.DataSource) (Appender, error)
	// Close releases what the engine opened (it may open it again later).
	Close() error
}

// Appender adds rows to one offline table.
type Appender interface {
	// PrepareAppend checks the rows against the table, which Feast's
	// write_to_offline_store requires to have exactly the table's columns
	// (in any order), and converts them to the table's types. Nothing is
	// written before the returned Commit runs; a mistake is an
	// invalid-argument error naming the column (and row, where there is
	// one).
	PrepareAppend(ctx context.Context, rows Rows) (Commit, error)
	// Describe names the table in errors and logs.
	Describe() string
}

// Commit writes prepared rows; it returns once they are durable, or failed
// with the table as it was.
type Commit func(context.Context) error

// Rows are named columns of equal length, the "df" of a push.
type Rows struct {
	Columns []Column
	// Strings marks rows whose values all arrived as strings (gRPC's
	// feature map): numbers and booleans are parsed as the table's column
	// types ask, as an Arrow cast of a string column would.
	Strings bool
}

// Len returns the number of rows.
func (r Rows) Len() int {
	if len(r.Columns) == 0 {
		return 0
	}
	return len(r.Columns[0].Values)
}

// Column is one named column of rows.
type Column struct {
	Name   string
	Values []core.Value
}

// CheckColumns is Feast's check before an offline write: the rows must
// have exactly the table's columns, in any order. The error lists what is
// missing and what is extra, in Feast's words.
func CheckColumns(table []string, rows Rows) error {
	want := make(map[string]bool, len(table))
	for _, c := range table {
		want[c] = true
	}
	have := make(map[string]bool, len(rows.Columns))
	for _, c := range rows.Columns {
		have[c.Name] = true
	}
	var missing, extra []string
	for _, c := range table {
		if !have[c] {
			missing = append(missing, "'"+c+"'")
		}
	}
	for _, c := range rows.Columns {
		if !want[c.Name] {
			extra = append(extra, "'"+c.Name+"'")
		}
	}
	if len(missing)+len(extra) == 0 {
		return nil
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return core.Invalidf("The input dataframe columns do not match the batch source columns. missing_expected_columns: [%s], extra_unexpected_columns: [%s].",
		strings.Join(missing, ", "), strings.Join(extra, ", "))
}
