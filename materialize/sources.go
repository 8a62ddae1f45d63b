package materialize

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/offlinestore/parquet"
	"github.com/feastgo/feastgo/offlinestore/postgres"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// postgresSourceClass is the data_source_class_type Feast records for a
// PostgreSQLSource (contract 1.4).
const postgresSourceClass = "feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source.PostgreSQLSource"

// Sources opens the offline source behind a registry DataSource: parquet
// files for FileSources (paths relative to the repo), the configured
// PostgreSQL offline store for PostgreSQLSources.
type Sources struct {
	RepoDir string
	// Postgres is offline_store's connection settings; nil when the offline
	// store is not postgres.
	Postgres *config.PostgresConfig

	mu   sync.Mutex
	pool *pgxpool.Pool
}

// NewSources returns the resolver for a repository configuration.
func NewSources(cfg *config.RepoConfig) *Sources {
	return &Sources{RepoDir: cfg.RepoDir, Postgres: cfg.OfflineStore.Postgres}
}

// Close releases the PostgreSQL connections, if any were opened.
func (s *Sources) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
}

// Open returns the source of a view's batch source (a push source's batch
// source for views fed by one).
func (s *Sources) Open(ctx context.Context, ds *corepb.DataSource) (offlinestore.Source, error) {
	if ds == nil {
		return nil, core.Invalidf("the feature view has no batch source to materialize from")
	}
	if ds.GetType() == corepb.DataSource_PUSH_SOURCE || ds.GetType() == corepb.DataSource_STREAM_KAFKA || ds.GetType() == corepb.DataSource_STREAM_KINESIS {
		return s.Open(ctx, ds.GetBatchSource())
	}
	switch {
	case ds.GetFileOptions() != nil:
		if ds.GetFileOptions().GetFileFormat().GetDeltaFormat() != nil {
			return nil, core.Errorf(core.KindUnimplemented, "NotImplementedError", "data source %s: delta files are not supported, only parquet", ds.GetName())
		}
		path, err := s.filePath(ds.GetFileOptions().GetUri())
		if err != nil {
			return nil, fmt.Errorf("data source %s: %w", ds.GetName(), err)
		}
		return parquet.New(path), nil
	case ds.GetDataSourceClassType() == postgresSourceClass || strings.HasSuffix(ds.GetDataSourceClassType(), ".PostgreSQLSource"):
		var opts struct {
			Table *string `json:"table"`
			Query *string `json:"query"`
		}
		if err := json.Unmarshal(ds.GetCustomOptions().GetConfiguration(), &opts); err != nil {
			return nil, fmt.Errorf("data source %s: PostgreSQL options: %w", ds.GetName(), err)
		}
		pool, err := s.postgresPool(ctx)
		if err != nil {
			return nil, fmt.Errorf("data source %s: %w", ds.GetName(), err)
		}
		var table, query string
		if opts.Table != nil {
			table = *opts.Table
		}
		if opts.Query != nil {
			query = *opts.Query
		}
		src, err := postgres.New(pool, table, query)
		if err != nil {
			return nil, fmt.Errorf("data source %s: %w", ds.GetName(), err)
		}
		return src, nil
	}
	class := ds.GetDataSourceClassType()
	if class == "" {
		class = ds.GetType().String()
	}
	return nil, core.Errorf(core.KindUnimplemented, "NotImplementedError",
		"data source %s (%s): only parquet FileSources and PostgreSQLSources can be materialized by this server", ds.GetName(), class)
}

// filePath resolves a FileSource URI as Feast's get_uri_for_file_path does:
// relative paths are taken from the repository directory.
func (s *Sources) filePath(uri string) (string, error) {
	if u, err := url.Parse(uri); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		if u.Scheme != "file" || u.Host != "" {
			return "", core.Errorf(core.KindUnimplemented, "NotImplementedError", "%s: only local parquet files are supported, not %s://", uri, u.Scheme)
		}
		uri = u.Path
	}
	if !filepath.IsAbs(uri) {
		uri = filepath.Join(s.RepoDir, uri)
	}
	return uri, nil
}

func (s *Sources) postgresPool(ctx context.Context) (*pgxpool.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool != nil {
		return s.pool, nil
	}
	if s.Postgres == nil {
		return nil, core.Invalidf("a PostgreSQLSource needs offline_store type postgres in feature_store.yaml")
	}
	pcfg, err := pgxpool.ParseConfig(s.Postgres.DSN())
	if err != nil {
		return nil, fmt.Errorf("offline_store: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, core.Unavailable(err, "offline store postgres is unreachable")
	}
	s.pool = pool
	return pool, nil
}
