// Package catalog is the offline store a feature_store.yaml describes: the
// engines this server has (offlinestore/parquet for FileSources,
// offlinestore/postgres for PostgreSQLSources) configured from the
// repository, behind the one offlinestore.Catalog that materialization,
// offline pushes and historical retrieval use. Adding an engine is one
// package implementing offlinestore.Engine and one line in Open.
//
// It imports config and the engine packages; it must not import the
// serving, ingest or materialization packages, which import it.
package catalog

import (
	"context"
	"errors"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/offlinestore/parquet"
	"github.com/feastgo/feastgo/offlinestore/postgres"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Open returns the catalog of a repository. Nothing is connected yet: a
// PostgreSQL pool opens on the first PostgreSQLSource used.
func Open(cfg *config.RepoConfig) *Catalog {
	var dsn string
	if pg := cfg.OfflineStore.Postgres; pg != nil {
		dsn = pg.DSN()
	}
	return New(
		parquet.NewEngine(cfg.RepoDir),
		postgres.NewEngine(dsn),
	)
}

// Catalog routes each data source to the first engine that claims it.
type Catalog struct {
	engines []offlinestore.Engine

	mu     sync.RWMutex
	closed bool
}

var _ offlinestore.Catalog = (*Catalog)(nil)

// New returns a catalog over the given engines, tried in order.
func New(engines ...offlinestore.Engine) *Catalog {
	return &Catalog{engines: engines}
}

// ErrClosed is returned by a closed catalog.
var ErrClosed = errors.New("the offline store is closed")

// Source implements offlinestore.Catalog.
func (c *Catalog) Source(ctx context.Context, ds *corepb.DataSource) (offlinestore.Source, error) {
	if ds == nil {
		return nil, core.Invalidf("the feature view has no batch source to materialize from")
	}
	c.mu.RLock() // Close waits, so no engine opens a pool after it
	defer c.mu.RUnlock()
	e, ds, err := c.engine(ds, "materialized")
	if err != nil {
		return nil, err
	}
	return e.Source(ctx, ds)
}

// Appender implements offlinestore.Catalog.
func (c *Catalog) Appender(ctx context.Context, ds *corepb.DataSource) (offlinestore.Appender, error) {
	if ds == nil {
		return nil, core.Invalidf("the feature view has no batch source to append to")
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ds, err := c.engine(ds, "appended to")
	if err != nil {
		return nil, err
	}
	return e.Appender(ctx, ds)
}

// Historical implements offlinestore.Catalog: every view's source must
// belong to one engine that joins (Feast too runs a join in one offline
// store), which gets the whole query with the views' sources resolved to
// batch sources.
func (c *Catalog) Historical(ctx context.Context, q *offlinestore.HistoricalQuery, fn func(arrow.RecordBatch) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var first offlinestore.Engine
	resolved := *q
	resolved.Views = make([]offlinestore.HistoricalView, len(q.Views))
	for i, v := range q.Views {
		if v.Source == nil {
			return core.Invalidf("feature view %s has no batch source to retrieve historical features from", v.Name)
		}
		e, ds, err := c.engine(v.Source, "joined")
		if err != nil {
			return err
		}
		if first == nil {
			first = e
		} else if e != first {
			return core.Errorf(core.KindUnimplemented, "NotImplementedError",
				"feature views %s and %s have sources in different offline engines; one historical retrieval runs in one engine", q.Views[0].Name, v.Name)
		}
		v.Source = ds
		resolved.Views[i] = v
	}
	if first == nil {
		return core.Invalidf("no feature views to join")
	}
	he, ok := first.(offlinestore.HistoricalEngine)
	if !ok {
		return core.Errorf(core.KindUnimplemented, "NotImplementedError",
			"the offline engine of %s cannot run historical retrieval", q.Views[0].Source.GetName())
	}
	return he.Historical(ctx, &resolved, fn)
}

// engine returns the engine of ds, a push or stream source standing for its
// batch source. c.mu is held.
func (c *Catalog) engine(ds *corepb.DataSource, use string) (offlinestore.Engine, *corepb.DataSource, error) {
	if c.closed {
		return nil, nil, core.Unavailable(ErrClosed, "the offline store is closed")
	}
	for ds.GetType() == corepb.DataSource_PUSH_SOURCE || ds.GetType() == corepb.DataSource_STREAM_KAFKA || ds.GetType() == corepb.DataSource_STREAM_KINESIS {
		if ds.GetBatchSource() == nil {
			return nil, nil, core.Invalidf("data source %s has no batch source", ds.GetName())
		}
		ds = ds.GetBatchSource()
	}
	for _, e := range c.engines {
		if e.Claims(ds) {
			return e, ds, nil
		}
	}
	class := ds.GetDataSourceClassType()
	if class == "" {
		class = ds.GetType().String()
	}
	return nil, nil, core.Errorf(core.KindUnimplemented, "NotImplementedError",
		"data source %s (%s): only parquet FileSources and PostgreSQLSources can be %s by this server", ds.GetName(), class, use)
}

// Close closes every engine; afterwards every call fails with ErrClosed.
// It is safe to call more than once.
func (c *Catalog) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, e := range c.engines {
		errs = append(errs, e.Close())
	}
	return errors.Join(errs...)
}

// Ping asks every engine that can tell (a database's, not the parquet
// engine's, whose files are read when used) whether it answers.
func (c *Catalog) Ping(ctx context.Context) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	var errs []error
	for _, e := range c.engines {
		if p, ok := e.(interface{ Ping(context.Context) error }); ok {
			errs = append(errs, p.Ping(ctx))
		}
	}
	return errors.Join(errs...)
}
