package main

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/offlinestore/parquet"
	pgoffline "github.com/feastgo/feastgo/offlinestore/postgres"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// offlineWriter appends pushes with to=offline to a view's batch source: a
// parquet FileSource (rewritten as Feast's file offline store does, crash
// safe) or a PostgreSQL table.
type offlineWriter struct {
	pg      *config.PostgresConfig
	repoDir string
	files   *parquet.Appender

	mu   sync.Mutex
	pool *pgxpool.Pool
}

// newOfflineWriter returns the appender for pushes with to=offline.
func newOfflineWriter(cfg *config.RepoConfig) ingest.OfflineWriter {
	return &offlineWriter{pg: cfg.OfflineStore.Postgres, repoDir: cfg.RepoDir, files: newParquetAppender()}
}

func (w *offlineWriter) db(ctx context.Context) (*pgxpool.Pool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pool != nil {
		return w.pool, nil
	}
	if w.pg == nil {
		return nil, core.Invalidf("a PostgreSQLSource needs offline_store type postgres in feature_store.yaml")
	}
	pool, err := pgxpool.New(ctx, w.pg.DSN())
	if err != nil {
		return nil, core.Unavailable(err, "offline store postgres is unreachable")
	}
	w.pool = pool
	return pool, nil
}

// PrepareAppend checks the frame's columns against the source's, as Feast's
// write_to_offline_store does, and returns the insert.
func (w *offlineWriter) PrepareAppend(ctx context.Context, v *registry.View, f *ingest.Frame) (func(context.Context) error, error) {
	ds := v.BatchSource
	if ds == nil {
		return nil, core.Invalidf("Feature view '%s' has no batch_source.", v.Name)
	}
	if ds.GetFileOptions() != nil {
		return w.prepareFile(v, ds, f)
	}
	if !strings.HasSuffix(ds.GetDataSourceClassType(), ".PostgreSQLSource") {
		return nil, core.Errorf(core.KindUnimplemented, "NotImplementedError", "view %s: offline writes to %s sources are not supported", v.Name, ds.GetType())
	}
	table, err := postgresTable(ds)
	if err != nil {
		return nil, err
	}
	db, err := w.db(ctx)
	if err != nil {
		return nil, err
	}
	cols, err := pgoffline.Columns(ctx, db, table)
	if err != nil {
		return nil, err
	}
	if err := sameColumns(cols, f); err != nil {
		return nil, err
	}
	rows, err := frameJSON(f)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return pgoffline.AppendJSON(ctx, db, table, cols, rows) }, nil
}

func newParquetAppender() *parquet.Appender {
	return &parquet.Appender{ParseTime: core.ParseTime}
}

// prepareFile checks the frame against a FileSource's parquet schema and
// returns the rewrite (DaskOfflineStore.offline_write_batch).
func (w *offlineWriter) prepareFile(v *registry.View, ds *corepb.DataSource, f *ingest.Frame) (func(context.Context) error, error) {
	opts := ds.GetFileOptions()
	if opts.GetFileFormat().GetDeltaFormat() != nil {
		return nil, core.Errorf(core.KindUnimplemented, "NotImplementedError", "view %s: data source %s: delta files are not supported, only parquet", v.Name, ds.GetName())
	}
	uri := opts.GetUri()
	if u, err := url.Parse(uri); err == nil && len(u.Scheme) > 1 {
		if u.Scheme != "file" || u.Host != "" {
			return nil, core.Errorf(core.KindUnimplemented, "NotImplementedError", "view %s: %s: only local parquet files can be appended to, not %s://", v.Name, uri, u.Scheme)
		}
		uri = u.Path
	}
	if !filepath.IsAbs(uri) {
		uri = filepath.Join(w.repoDir, uri)
	}
	if w.files == nil {
		w.files = newParquetAppender()
	}
	cols := make([]parquet.Column, len(f.Columns))
	for i, c := range f.Columns {
		cols[i] = parquet.Column{Name: c.Name, Values: c.Values}
	}
	p, err := w.files.Prepare(uri, cols, f.Strings)
	if err != nil {
		return nil, err
	}
	return p.Commit, nil
}

func postgresTable(ds *corepb.DataSource) (string, error) {
	var opts struct {
		Table *string `json:"table"`
	}
	if err := json.Unmarshal(ds.GetCustomOptions().GetConfiguration(), &opts); err != nil {
		return "", core.Invalidf("data source %s: PostgreSQL options: %v", ds.GetName(), err)
	}
	if opts.Table == nil || *opts.Table == "" {
		return "", core.Invalidf("data source %s is a query; rows can only be appended to a table", ds.GetName())
	}
	return *opts.Table, nil
}

// sameColumns is Feast's check: the frame must have exactly the source's
// columns, in any order.
func sameColumns(source []string, f *ingest.Frame) error {
	want := map[string]bool{}
	for _, c := range source {
		want[c] = true
	}
	have := map[string]bool{}
	for _, c := range f.Columns {
		have[c.Name] = true
	}
	var missing, extra []string
	for c := range want {
		if !have[c] {
			missing = append(missing, "'"+c+"'")
		}
	}
	for c := range have {
		if !want[c] {
			extra = append(extra, "'"+c+"'")
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

// frameJSON renders the frame as a JSON array of row objects.
func frameJSON(f *ingest.Frame) ([]byte, error) {
	b := []byte{'['}
	for r := 0; r < f.Rows(); r++ {
		if r > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		for i, c := range f.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, c.Name)
			b = append(b, ':')
			b = appendJSONValue(b, c.Values[r])
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

func appendJSONValue(b []byte, v core.Value) []byte {
	switch {
	case v.IsNull():
		return append(b, "null"...)
	case v.Type == core.String || v.Type == core.Bytes:
		s, _ := json.Marshal(v.S)
		return append(b, s...)
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
