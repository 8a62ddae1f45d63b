package parquet

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Engine is the offline engine of FileSources: local parquet files and
// directories, read with Source and rewritten with one shared Appender (so
// that concurrent appends to one file are serialized).
type Engine struct {
	repoDir string
	files   *Appender
}

var _ offlinestore.Engine = (*Engine)(nil)

// NewEngine returns the engine for a repository: relative FileSource paths
// are taken from repoDir, as Feast's get_uri_for_file_path does, and the
// timestamp strings of appended rows are read as pandas reads them
// (core.ParseTime: an offset-less time is UTC).
func NewEngine(repoDir string) *Engine {
	return &Engine{repoDir: repoDir, files: &Appender{ParseTime: core.ParseTime}}
}

// Claims reports whether ds is a FileSource.
func (e *Engine) Claims(ds *corepb.DataSource) bool { return ds.GetFileOptions() != nil }

// Source returns the parquet file or directory of a FileSource.
func (e *Engine) Source(_ context.Context, ds *corepb.DataSource) (offlinestore.Source, error) {
	path, err := e.path(ds)
	if err != nil {
		return nil, err
	}
	return New(path), nil
}

// Appender returns the parquet file or directory of a FileSource for
// appending, as Feast's DaskOfflineStore.offline_write_batch does.
func (e *Engine) Appender(_ context.Context, ds *corepb.DataSource) (offlinestore.Appender, error) {
	path, err := e.path(ds)
	if err != nil {
		return nil, err
	}
	return &table{files: e.files, path: path}, nil
}

// Close does nothing: files are opened per read and per rewrite.
func (e *Engine) Close() error { return nil }

// path resolves a FileSource URI: file:// or a plain path, relative paths
// from the repository directory. Delta tables and remote URIs are not
// supported.
func (e *Engine) path(ds *corepb.DataSource) (string, error) {
	opts := ds.GetFileOptions()
	if opts.GetFileFormat().GetDeltaFormat() != nil {
		return "", core.Errorf(core.KindUnimplemented, "NotImplementedError", "data source %s: delta files are not supported, only parquet", ds.GetName())
	}
	uri := opts.GetUri()
	if u, err := url.Parse(uri); err == nil && len(u.Scheme) > 1 {
		if u.Scheme != "file" || u.Host != "" {
			return "", core.Errorf(core.KindUnimplemented, "NotImplementedError", "data source %s: %s: only local parquet files are supported, not %s://", ds.GetName(), uri, u.Scheme)
		}
		uri = u.Path
	}
	if !filepath.IsAbs(uri) {
		uri = filepath.Join(e.repoDir, uri)
	}
	return uri, nil
}

// table is one FileSource opened for appending.
type table struct {
	files *Appender
	path  string
}

// PrepareAppend implements offlinestore.Appender.
func (t *table) PrepareAppend(_ context.Context, rows offlinestore.Rows) (offlinestore.Commit, error) {
	p, err := t.files.Prepare(t.path, rows.Columns, rows.Strings)
	if err != nil {
		return nil, err
	}
	return p.Commit, nil
}

// Describe is the path.
func (t *table) Describe() string { return fmt.Sprintf("parquet %s", t.path) }
