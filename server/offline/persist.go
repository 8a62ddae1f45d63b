package offline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// persist answers persist, RetrievalJob.persist of Feast's remote client
// (FeatureStore.create_saved_dataset): the command is the training set
// retrieval's own (retrieve_func get_historical_features, the entity frame
// in the DoPut's table) plus data_source_name, the registered data source
// that stands for the saved dataset's storage (Feast's client sends
// storage.to_data_source().name, a FileSource's path unless it was named),
// and allow_overwrite (an existing destination is
// SavedDatasetLocationAlreadyExists without it). As Feast's file store, the result goes to
// that source's path as one parquet file when the path ends in .parquet,
// else as a new file in that directory. Only FileSources are written.
func (s *Server) persist(ctx context.Context, cmd *command, frame arrow.RecordBatch) error {
	var fn, name string
	var overwrite bool
	if err := cmd.get("retrieve_func", &fn); err != nil {
		return err
	}
	if err := cmd.get("data_source_name", &name); err != nil {
		return err
	}
	if err := cmd.get("allow_overwrite", &overwrite); err != nil {
		return err
	}
	switch fn {
	case apiHistorical:
	case apiPullLatest, apiPullAll:
		// Feast's client copies the pull's parameters over its own, so
		// data_source_name is the pulled source, not the destination;
		// Feast's server then writes over the source's own file.
		return unimplemented(apiPersist, fmt.Sprintf("of a %s job: the command names the pulled source in data_source_name, not the destination (Feast's server would overwrite the source's file with the result)", fn))
	default:
		return core.Errorf(core.KindInvalidArgument, "NotImplementedError", "parameter retrieve_func: %q is not a retrieval API (%s, %s, %s)", fn, apiHistorical, apiPullLatest, apiPullAll)
	}
	snap := s.Snapshot()
	ds, ok := snap.DataSource(name)
	if !ok {
		return core.Errorf(core.KindNotFound, "DataSourceObjectNotFoundException",
			"Data source %s does not exist in project %s", name, snap.Project)
	}
	// Feast builds the retrieval job first (asserting READ_OFFLINE on its
	// views), then asserts WRITE_OFFLINE on the destination.
	if views, err := cmd.strings("feature_view_names"); err == nil {
		if err := s.authorizeViews(ctx, views, permissions.ReadOffline); err != nil {
			return err
		}
	}
	if err := s.authorizeSource(ctx, ds, permissions.WriteOffline); err != nil {
		return err
	}
	uri, err := fileURI(ds, apiPersist)
	if err != nil {
		return err
	}
	path := s.repoPath(uri)
	if _, err := os.Stat(path); err == nil && !overwrite {
		return core.Errorf(core.KindConflict, "SavedDatasetLocationAlreadyExists", "Saved dataset location %s already exists.", uri)
	}
	out := &parquetOut{path: path, dir: !strings.HasSuffix(path, ".parquet")}
	defer out.abort()
	sub := &command{raw: cmd.raw, api: fn, fields: cmd.fields}
	if err := s.read(ctx, sub, frame, out.write); err != nil {
		return err
	}
	return out.commit()
}

// fileURI is the path of a FileSource in parquet, the one saved dataset
// storage this server writes.
func fileURI(ds *corepb.DataSource, api string) (string, error) {
	if ds.GetType() != corepb.DataSource_BATCH_FILE && !strings.HasSuffix(ds.GetDataSourceClassType(), ".FileSource") {
		return "", unimplemented(api, fmt.Sprintf("data source %s is a %s; only a FileSource (parquet) can be written", ds.GetName(), ds.GetDataSourceClassType()))
	}
	fo := ds.GetFileOptions()
	if f := fo.GetFileFormat(); f != nil && f.GetParquetFormat() == nil {
		return "", unimplemented(api, fmt.Sprintf("data source %s: only the parquet file format is written", ds.GetName()))
	}
	uri := fo.GetUri()
	if uri == "" {
		return "", core.Invalidf("data source %s has no path", ds.GetName())
	}
	if strings.Contains(uri, "://") && !strings.HasPrefix(uri, "file://") {
		return "", unimplemented(api, fmt.Sprintf("data source %s: %s is not a local path", ds.GetName(), uri))
	}
	return strings.TrimPrefix(uri, "file://"), nil
}

// repoPath resolves a relative path against the repository, as Feast
// resolves a FileSource's path against repo_path.
func (s *Server) repoPath(p string) string {
	if filepath.IsAbs(p) || s.Repo == "" {
		return p
	}
	return filepath.Join(s.Repo, p)
}

// parquetOut writes record batches to one parquet file: path itself, or a
// new "<hex>-0.parquet" in directory path (pyarrow's write_to_dataset
// name). The file is written aside and renamed into place by commit, so a
// failed call leaves the destination as it was.
type parquetOut struct {
	path string
	dir  bool
	// base names the file in directory path ("<base>-0.parquet"); empty
	// for a new random name.
	base string

	tmp *os.File
	w   *pqarrow.FileWriter
}

func (o *parquetOut) write(rec arrow.RecordBatch) error {
	if o.w == nil {
		dir := filepath.Dir(o.path)
		if o.dir {
			dir = o.path
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return core.Invalidf("destination %s: %v", o.path, err)
		}
		tmp, err := os.CreateTemp(dir, ".feastgo-*.parquet.tmp")
		if err != nil {
			return core.Invalidf("destination %s: %v", o.path, err)
		}
		_ = tmp.Chmod(0o644)
		o.tmp = tmp
		props := parquet.NewWriterProperties(parquet.WithVersion(parquet.V2_6), parquet.WithCompression(compress.Codecs.Snappy))
		w, err := pqarrow.NewFileWriter(rec.Schema(), tmp, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return fmt.Errorf("parquet %s: %w", o.path, err)
		}
		o.w = w
	}
	if err := o.w.WriteBuffered(rec); err != nil {
		return fmt.Errorf("parquet %s: %w", o.path, err)
	}
	return nil
}

// commit closes the file and moves it into place.
func (o *parquetOut) commit() error {
	if o.w == nil {
		return fmt.Errorf("parquet %s: the result had no schema", o.path)
	}
	err := o.w.Close() // closes the file too
	o.w = nil
	if err != nil {
		return fmt.Errorf("parquet %s: %w", o.path, err)
	}
	dst := o.path
	if o.dir {
		base := o.base
		if base == "" {
			base = newFileBase()
		}
		dst = filepath.Join(o.path, base+"-0.parquet")
	} else if st, err := os.Stat(dst); err == nil && st.IsDir() {
		return core.Invalidf("destination %s is a directory; a path ending in .parquet is written as one file", o.path)
	}
	if err := os.Rename(o.tmp.Name(), dst); err != nil {
		return fmt.Errorf("parquet %s: %w", o.path, err)
	}
	o.tmp = nil
	return nil
}

// newFileBase is a new uuid4-hex-like file name, as Feast's
// uuid.uuid4().hex.
func newFileBase() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// abort removes the file of a write that did not commit.
func (o *parquetOut) abort() {
	if o.w != nil {
		_ = o.w.Close()
	}
	if o.tmp != nil {
		_ = o.tmp.Close()
		_ = os.Remove(o.tmp.Name())
	}
}

// writeLogged answers write_logged_features: the logged rows of a feature
// service go, as Feast's file store writes them, to a new
// "<hex>-0.parquet" file in the directory of the service's
// FileLoggingDestination (relative to the repository). Other
// destinations are not written. With partition_by the rows are split
// into directories by those columns' values, as pyarrow's write_dataset
// does for Feast (partition).
func (s *Server) writeLogged(ctx context.Context, cmd *command, frame arrow.RecordBatch) error {
	var name string
	if err := cmd.get("feature_service_name", &name); err != nil {
		return err
	}
	snap := s.Snapshot()
	var spec *corepb.FeatureServiceSpec
	for _, fs := range snap.Proto.GetFeatureServices() {
		if fs.GetSpec().GetProject() == snap.Project && fs.GetSpec().GetName() == name {
			spec = fs.GetSpec()
		}
	}
	if spec == nil {
		return core.Errorf(core.KindNotFound, "FeatureServiceNotFoundException",
			"Feature service %s does not exist in project %s", name, snap.Project)
	}
	lc := spec.GetLoggingConfig()
	if lc == nil {
		return core.Errorf(core.KindInvalidArgument, "AssertionError", "feature service must have logging_config set")
	}
	if err := s.authorizeService(ctx, name, permissions.WriteOffline); err != nil {
		return err
	}
	dst := lc.GetFileDestination()
	if dst == nil {
		return unimplemented(apiWriteLogged, fmt.Sprintf("feature service %s logs to a destination other than a file", name))
	}
	if dst.GetPath() == "" || (strings.Contains(dst.GetPath(), "://") && !strings.HasPrefix(dst.GetPath(), "file://")) {
		return unimplemented(apiWriteLogged, fmt.Sprintf("feature service %s: destination %q is not a local path", name, dst.GetPath()))
	}
	if frame == nil {
		return core.Invalidf("table: the call carries no logged rows")
	}
	path := s.repoPath(strings.TrimPrefix(dst.GetPath(), "file://"))
	if len(dst.GetPartitionBy()) == 0 {
		out := &parquetOut{path: path, dir: true}
		defer out.abort()
		if err := out.write(frame); err != nil {
			return err
		}
		return out.commit()
	}
	groups, err := partition(ctx, frame, path, dst.GetPartitionBy())
	if err != nil {
		return err
	}
	defer releaseGroups(groups)
	// One name for every directory's file, as pyarrow's basename_template
	// of one call; the files are renamed into place only once all are
	// written.
	base := newFileBase()
	outs := make([]*parquetOut, len(groups))
	for i, g := range groups {
		outs[i] = &parquetOut{path: g.dir, dir: true, base: base}
		defer outs[i].abort()
		if err := outs[i].write(g.rec); err != nil {
			return err
		}
	}
	for _, o := range outs {
		if err := o.commit(); err != nil {
			return err
		}
	}
	return nil
}
