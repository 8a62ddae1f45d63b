package offlinestore

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// HistoricalQuery is one point-in-time join, resolved against the registry:
// for every row of an entity frame and every view, the view's latest source
// row with the same join key(s) whose event time lies in
// [entity time - TTL, entity time] (no lower bound when TTL is 0), ties
// broken by the later created time, a full tie by the row read last.
//
// The historical package builds it (feature refs, feature services, field
// mappings and join_key_maps resolved; the frame checked and its timestamp
// column made UTC); an engine only joins.
type HistoricalQuery struct {
	// Entities is the entity frame, in memory: the join-key columns the
	// views name, EventTimeColumn, and any other columns (labels), which
	// engines ignore. A nil Entities with a non-empty EntitySQL is a frame
	// given as a query of the engine's database.
	Entities arrow.RecordBatch
	// EntitySQL is an entity frame given as a SQL query (Feast accepts
	// entity_df as a string for SQL stores). Only engines over a database
	// accept it; they return the frame's own columns first in each batch.
	EntitySQL string
	// EventTimeColumn names the frame's event time column, of Arrow type
	// timestamp with time zone UTC (any unit).
	EventTimeColumn string
	// Views are joined in this order; each contributes its Features'
	// columns, in order, to the output.
	Views []HistoricalView
	// BatchSize is the largest number of rows per output batch (default
	// DefaultBatchSize).
	BatchSize int
	// Range, when not nil, is Feast's retrieval without an entity frame
	// (get_historical_features(entity_df=None, start_date, end_date)):
	// Entities is nil, EntitySQL empty, EventTimeColumn "event_timestamp",
	// and the engine derives the rows from the sources as the Feast
	// offline store it stands in for does (they differ: see each engine's
	// HistoricalRange). Batches then hold every output column.
	Range *TimeRange
}

// TimeRange is a range-mode retrieval's [Start, End], both UTC, Start
// already defaulted (Feast's compute_non_entity_date_range).
type TimeRange struct {
	Start, End time.Time
}

// Size returns the batch size to use.
func (q *HistoricalQuery) Size() int {
	if q.BatchSize > 0 {
		return q.BatchSize
	}
	return DefaultBatchSize
}

// HistoricalView is one feature view (or projection of one) in a join.
type HistoricalView struct {
	// Name is the view's name to use (alias, "@vN"), for errors and logs.
	Name string
	// Source is the view's batch source.
	Source *corepb.DataSource
	// Keys pair each entity-frame column with the source column it
	// matches. An entityless view has none: every frame row matches the
	// source's rows by time alone.
	Keys []KeyColumn
	// TimestampColumn and CreatedColumn are source columns (after the
	// field mapping run backwards); CreatedColumn may be empty.
	TimestampColumn, CreatedColumn string
	// TTL bounds how old a row may be; 0 means no bound.
	TTL time.Duration
	// Features are the source columns to return and their output names.
	Features []FeatureColumn
}

// KeyColumn pairs an entity-frame column with a source column.
type KeyColumn struct {
	Frame, Source string
}

// FeatureColumn is one output column: Source is read, Output names it.
type FeatureColumn struct {
	Source, Output string
}

// HistoricalEngine is an Engine that runs point-in-time joins itself (one
// SQL query in a database, an as-of join over parquet).
type HistoricalEngine interface {
	// Historical runs q, whose views all have sources this engine claims.
	// It calls fn with batches of at most q.Size() rows that cover the
	// entity frame in its order, each entity row exactly once: for an
	// in-memory frame a batch holds only the feature columns (views in
	// order, features in order) and the caller puts the frame's own
	// columns beside them; for an EntitySQL frame a batch holds the
	// frame's columns first. A row with no match has nulls. Column types
	// are the source columns' types (nullable).
	//
	// The batch is released once fn returns; fn must Retain what it
	// keeps. An error from fn stops the join and is returned as is.
	// Memory stays bounded by the sources' matching rows and one batch,
	// not by the frame's size.
	//
	// With q.Range set there is no frame: each batch holds all output
	// columns, event_timestamp first, and the rows are the engine's
	// Feast store's answer.
	Historical(ctx context.Context, q *HistoricalQuery, fn func(arrow.RecordBatch) error) error
}
