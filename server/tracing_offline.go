package server

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/feastgo/feastgo/offlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Catalog returns c with its reads traced under the request's span: a
// client span per materialization pull (one a feature view and window, its
// rows counted) and per point-in-time join. Appends pass through. Give it
// to the materialization engine and the historical retriever only: the
// sources it returns keep none of their optional interfaces.
func (t *Tracing) Catalog(c offlinestore.Catalog) offlinestore.Catalog {
	return &tracedCatalog{t: t, Catalog: c}
}

type tracedCatalog struct {
	t *Tracing
	offlinestore.Catalog
}

func (c *tracedCatalog) Source(ctx context.Context, ds *corepb.DataSource) (offlinestore.Source, error) {
	s, err := c.Catalog.Source(ctx, ds)
	if err != nil {
		return nil, err
	}
	return &tracedSource{t: c.t, Source: s}, nil
}

func (c *tracedCatalog) Historical(ctx context.Context, q *offlinestore.HistoricalQuery, fn func(arrow.RecordBatch) error) error {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return c.Catalog.Historical(ctx, q, fn)
	}
	attrs := []attribute.KeyValue{attribute.String("db.operation.name", "historical"), attribute.Int("feast.feature_views", len(q.Views))}
	if q.Entities != nil {
		attrs = append(attrs, attribute.Int64("feast.entity_rows", q.Entities.NumRows()))
	}
	ctx, span := c.t.tracer.Start(ctx, "offline_store.historical", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	var rows int64
	err := c.Catalog.Historical(ctx, q, func(b arrow.RecordBatch) error {
		rows += b.NumRows()
		return fn(b)
	})
	span.SetAttributes(attribute.Int64("feast.rows", rows))
	endSpan(span, err)
	return err
}

type tracedSource struct {
	t *Tracing
	offlinestore.Source
}

func (s *tracedSource) PullLatest(ctx context.Context, q offlinestore.Query, fn func(*offlinestore.Batch) error) error {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return s.Source.PullLatest(ctx, q, fn)
	}
	ctx, span := s.t.tracer.Start(ctx, "offline_store.pull", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.operation.name", "pull_latest"), attribute.String("feast.source", s.Describe()),
			attribute.Int("feast.columns", len(q.Columns))))
	var rows int64
	err := s.Source.PullLatest(ctx, q, func(b *offlinestore.Batch) error {
		rows += int64(b.Rows)
		return fn(b)
	})
	span.SetAttributes(attribute.Int64("feast.rows", rows))
	endSpan(span, err)
	return err
}
