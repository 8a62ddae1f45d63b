package offline_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// savedSource is a FileSource named by its path, as Feast's client names
// SavedDatasetFileStorage(path).to_data_source().
func savedSource(path string) *corepb.DataSource {
	return &corepb.DataSource{Name: path, Project: project, Type: corepb.DataSource_BATCH_FILE,
		DataSourceClassType: "feast.infra.offline_stores.file_source.FileSource", TimestampField: "event_timestamp",
		Options: &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{Uri: path}}}
}

// readParquet reads a parquet file whole.
func readParquet(t *testing.T, path string) arrow.Table {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// histParams are a training set retrieval's parameters plus persist's,
// as Feast's RemoteRetrievalJob.persist sends them.
func histParams(dest string, overwrite bool) map[string]any {
	return map[string]any{"feature_view_names": []string{"driver_stats"}, "feature_refs": []string{"driver_stats:conv_rate", "driver_stats:trips"},
		"project": project, "full_feature_names": false, "name_aliases": []any{nil},
		"retrieve_func": "get_historical_features", "data_source_name": dest, "allow_overwrite": overwrite, "timeout": nil}
}

// TestPersist: RetrievalJob.persist of a training set to a saved dataset
// file: the parquet file holds what the retrieval returns; an existing
// file is kept unless allow_overwrite; a directory destination gets a new
// file per persist.
func TestPersist(t *testing.T) {
	f := startEdited(t, func(r *corepb.Registry) {
		r.DataSources = append(r.DataSources, savedSource("saved/train.parquet"), savedSource("saved/dir"), savedSource("saved/fail.parquet"))
	})
	frame := func() arrow.RecordBatch {
		return record(map[string]arrow.Array{"driver_id": int64s(1001, 1002, 1003),
			"event_timestamp": times(t, "2025-03-02T00:00:00Z", "2025-03-02T13:00:00Z", "2025-03-05T00:00:00Z")},
			"driver_id", "event_timestamp")
	}
	p := histParams("saved/train.parquet", false)
	want, err := f.exchange(t, "get_historical_features", p, frame())
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	if err := f.put(t, "persist", p, frame()); err != nil {
		t.Fatal(err)
	}
	got := readParquet(t, filepath.Join(f.repo, "saved", "train.parquet"))
	defer got.Release()
	if !slices.Equal(names(got), names(want)) || got.NumRows() != 3 {
		t.Errorf("persisted %v (%d rows), the retrieval %v", names(got), got.NumRows(), names(want))
	}
	for _, c := range []string{"driver_id", "event_timestamp", "conv_rate", "trips"} {
		if g, w := column(t, got, c), column(t, want, c); !slices.Equal(g, w) {
			t.Errorf("column %s: persisted %v, retrieved %v", c, g, w)
		}
	}

	// Again: refused without allow_overwrite, done with it.
	if err := f.put(t, "persist", p, frame()); err == nil || !strings.Contains(err.Error(), "SavedDatasetLocationAlreadyExists") {
		t.Errorf("persist over an existing file: %v, want SavedDatasetLocationAlreadyExists", err)
	}
	one := record(map[string]arrow.Array{"driver_id": int64s(1001), "event_timestamp": times(t, "2025-03-02T00:00:00Z")}, "driver_id", "event_timestamp")
	if err := f.put(t, "persist", histParams("saved/train.parquet", true), one); err != nil {
		t.Fatal(err)
	}
	over := readParquet(t, filepath.Join(f.repo, "saved", "train.parquet"))
	defer over.Release()
	if over.NumRows() != 1 {
		t.Errorf("overwritten: %d rows, want 1", over.NumRows())
	}

	// A directory: a new file in it per persist.
	for range 2 {
		if err := f.put(t, "persist", histParams("saved/dir", true), frame()); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(f.repo, "saved", "dir", "*-0.parquet"))
	if len(files) != 2 {
		t.Fatalf("directory destination: files %v, want 2", files)
	}
	d := readParquet(t, files[0])
	defer d.Release()
	if d.NumRows() != 3 {
		t.Errorf("directory file: %d rows, want 3", d.NumRows())
	}
	if left, _ := filepath.Glob(filepath.Join(f.repo, "saved", "*", ".feastgo-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	left, _ := filepath.Glob(filepath.Join(f.repo, "saved", ".feastgo-*"))

	// A failed retrieval writes nothing.
	bad := histParams("saved/fail.parquet", false)
	bad["feature_refs"] = []string{"driver_stats:nope"}
	if err := f.put(t, "persist", bad, frame()); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("bad retrieval: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.repo, "saved", "fail.parquet")); err == nil {
		t.Error("a failed persist wrote its file")
	}
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestWriteLoggedFeatures: the logged rows land as a new parquet file in
// the feature service's file destination, relative to the repo.
func TestWriteLoggedFeatures(t *testing.T) {
	f := startEdited(t, func(r *corepb.Registry) {
		for _, fs := range r.FeatureServices {
			if fs.GetSpec().GetName() == "driver_service" {
				fs.Spec.LoggingConfig = &corepb.LoggingConfig{SampleRate: 1, Destination: &corepb.LoggingConfig_FileDestination_{
					FileDestination: &corepb.LoggingConfig_FileDestination{Path: "logs/driver_service"}}}
			}
		}
	})
	b := array.NewInt64Builder(memory.DefaultAllocator)
	b.AppendValues([]int64{1001, 1002, 1003}, nil)
	ids := b.NewArray()
	b.Release()
	logs := record(map[string]arrow.Array{"driver_id": ids, "driver_stats__conv_rate": strings1("a", "b", "c")}, "driver_id", "driver_stats__conv_rate")
	logs.Retain()
	defer logs.Release()
	if err := f.put(t, "write_logged_features", map[string]any{"feature_service_name": "driver_service"}, logs); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(f.repo, "logs", "driver_service", "*-0.parquet"))
	if len(files) != 1 {
		t.Fatalf("files %v, want one", files)
	}
	got := readParquet(t, files[0])
	defer got.Release()
	if !slices.Equal(column(t, got, "driver_id"), []any{int64(1001), int64(1002), int64(1003)}) ||
		!slices.Equal(column(t, got, "driver_stats__conv_rate"), []any{"a", "b", "c"}) {
		t.Errorf("logged rows %v", got.Schema())
	}

	logs.Retain()
	if err := f.put(t, "write_logged_features", map[string]any{"feature_service_name": "aliased_service"}, logs); err == nil || !strings.Contains(err.Error(), "logging_config") {
		t.Errorf("service without logging: %v", err)
	}
	logs.Retain()
	if err := f.put(t, "write_logged_features", map[string]any{"feature_service_name": "nope"}, logs); err == nil || !strings.Contains(err.Error(), "FeatureServiceNotFoundException") {
		t.Errorf("unknown service: %v", err)
	}
}

// TestWriteLoggedFeaturesPartitioned: with partition_by the rows go, as
// pyarrow's directory partitioning lays them out for Feast, to
// <destination>/<date>/<driver_id>/<one hex>-0.parquet, without the
// partition columns; a null key ends the path; a value that would leave
// the destination, a missing column and a null before a value are
// InvalidArgument naming the column.
func TestWriteLoggedFeaturesPartitioned(t *testing.T) {
	f := startEdited(t, func(r *corepb.Registry) {
		for _, fs := range r.FeatureServices {
			if fs.GetSpec().GetName() == "driver_service" {
				fs.Spec.LoggingConfig = &corepb.LoggingConfig{SampleRate: 1, Destination: &corepb.LoggingConfig_FileDestination_{
					FileDestination: &corepb.LoggingConfig_FileDestination{Path: "logs/p", PartitionBy: []string{"__log_date", "driver_id"}}}}
			}
		}
	})
	logs := func(drivers []string, valid []bool) arrow.RecordBatch {
		db := array.NewDate32Builder(memory.DefaultAllocator)
		defer db.Release()
		d := arrow.Date32FromTime(time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC))
		db.AppendValues([]arrow.Date32{d, d + 1, d, d}, nil)
		sb := array.NewStringBuilder(memory.DefaultAllocator)
		defer sb.Release()
		sb.AppendValues(drivers, valid)
		return record(map[string]arrow.Array{"__log_date": db.NewArray(), "driver_id": sb.NewArray(),
			"driver_stats__conv_rate": strings1("a", "b", "c", "d")}, "driver_id", "driver_stats__conv_rate", "__log_date")
	}
	if err := f.put(t, "write_logged_features", map[string]any{"feature_service_name": "driver_service"},
		logs([]string{"1001", "1001", "1001", ""}, []bool{true, true, true, false})); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(f.repo, "logs", "p")
	var got []string
	bases := map[string]bool{}
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			dir, name := filepath.Split(rel)
			got = append(got, dir)
			bases[name] = true
			tbl := readParquet(t, p)
			defer tbl.Release()
			if names := fieldNames(tbl.Schema()); !slices.Equal(names, []string{"driver_stats__conv_rate"}) {
				t.Errorf("%s: columns %v, want only the non-partition column", rel, names)
			}
			want := map[string][]any{"2025-03-02/1001/": {"a", "c"}, "2025-03-03/1001/": {"b"}, "2025-03-02/": {"d"}}[dir]
			if c := column(t, tbl, "driver_stats__conv_rate"); !slices.Equal(c, want) {
				t.Errorf("%s: rows %v, want %v", rel, c, want)
			}
		}
		return nil
	})
	slices.Sort(got)
	if !slices.Equal(got, []string{"2025-03-02/", "2025-03-02/1001/", "2025-03-03/1001/"}) || len(bases) != 1 {
		t.Errorf("files in %v named %v, want three directories and one file name", got, bases)
	}

	for _, tt := range []struct {
		drivers []string
		valid   []bool
		want    string
	}{
		{[]string{"../../x", "1", "1", "1"}, nil, `column "driver_id", row 0`},
		{[]string{"/etc", "1", "1", "1"}, nil, "absolute path"},
	} {
		if err := f.put(t, "write_logged_features", map[string]any{"feature_service_name": "driver_service"}, logs(tt.drivers, tt.valid)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("drivers %q: %v, want an error with %q", tt.drivers, err, tt.want)
		}
	}
	// A null date (the first key) before a driver id: pyarrow's error.
	db := array.NewDate32Builder(memory.DefaultAllocator)
	db.AppendNull()
	nullDate := record(map[string]arrow.Array{"__log_date": db.NewArray(), "driver_id": strings1("1"),
		"driver_stats__conv_rate": strings1("a")}, "__log_date", "driver_id", "driver_stats__conv_rate")
	db.Release()
	if err := f.put(t, "write_logged_features", map[string]any{"feature_service_name": "driver_service"}, nullDate); err == nil ||
		!strings.Contains(err.Error(), "No partition key for __log_date but a key was provided subsequently for driver_id") {
		t.Errorf("null before a key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.repo, "logs", "x")); err == nil {
		t.Error("a partition value wrote outside the destination")
	}
}

func fieldNames(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}
