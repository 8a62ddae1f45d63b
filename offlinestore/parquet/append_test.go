package parquet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/core"
)

var appendSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "count", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "status", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "times", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64), Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

// writeBase writes a two-row file with appendSchema.
func writeBase(t *testing.T, path string) {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, appendSchema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	b.Field(1).(*array.Float32Builder).AppendValues([]float32{0.5, 0.25}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{10, 20}, nil)
	b.Field(3).(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	b.Field(4).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	lb := b.Field(5).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Float64Builder).AppendValues([]float64{1, 2}, nil)
	lb.AppendNull()
	b.Field(6).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_735_689_600_000_000, 1_735_689_601_000_000}, nil)
	writeStored(t, path, appendSchema, b)
}

// writeStored writes what b holds to a parquet file at path with the
// Arrow schema stored in it (field metadata included), as pandas does.
func writeStored(t *testing.T, path string, schema *arrow.Schema, b *array.RecordBuilder) {
	t.Helper()
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, nil, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// readRows returns the schema and every row of a file (or directory) as text.
func readRows(t *testing.T, path string) (*arrow.Schema, []string) {
	t.Helper()
	files, err := New(path).files()
	if err != nil {
		t.Fatal(err)
	}
	var schema *arrow.Schema
	var rows []string
	for _, p := range files {
		pf, err := file.OpenParquetFile(p, false)
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		schema = tbl.Schema()
		tr := array.NewTableReader(tbl, 1000)
		for tr.Next() {
			rec := tr.RecordBatch()
			for i := 0; i < int(rec.NumRows()); i++ {
				var cells []string
				for c := 0; c < int(rec.NumCols()); c++ {
					cells = append(cells, rec.Column(c).ValueStr(i))
				}
				rows = append(rows, strings.Join(cells, " "))
			}
		}
		tr.Release()
		tbl.Release()
		_ = pf.Close()
	}
	return schema, rows
}

func parseTS(s string) (core.Timestamp, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return core.Timestamp{}, err
	}
	return core.TimestampOf(t), nil
}

func pushRow(id int64, score float64, count core.Value, ts string) []Column {
	return []Column{
		{Name: "ts", Values: []core.Value{core.StringValue(ts)}},
		{Name: "id", Values: []core.Value{core.Int64Value(id)}},
		{Name: "score", Values: []core.Value{core.DoubleValue(score)}},
		{Name: "count", Values: []core.Value{count}},
		{Name: "status", Values: []core.Value{{}}},
		{Name: "ok", Values: []core.Value{core.BoolValue(true)}},
		{Name: "times", Values: []core.Value{{Type: core.DoubleList, List: []core.Value{core.Int64Value(3), core.DoubleValue(4.5)}}}},
	}
}

func TestAppendRewritesFileNewRowsFirst(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "src.parquet")
	writeBase(t, path)
	a := &Appender{ParseTime: parseTS}
	ctx := context.Background()
	base, _ := readRows(t, path)

	// Two appends: the later one's rows come first, as after two Feast pushes.
	for _, r := range [][]Column{
		pushRow(7, 0.75, core.DoubleValue(3), "2025-01-05T10:00:00Z"),
		pushRow(8, 1, core.Value{}, "2025-01-05T10:00:00.5+01:00"),
	} {
		p, err := a.Prepare(path, r, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	schema, rows := readRows(t, path)
	if !schema.Equal(base) || schema.HasMetadata() != base.HasMetadata() {
		t.Fatalf("schema changed:\n%s\nwant\n%s", schema, base)
	}
	want := []string{
		"8 1 (null) (null) true [3,4.5] 2025-01-05T09:00:00.5Z",
		"7 0.75 3 (null) true [3,4.5] 2025-01-05T10:00:00Z",
		"1 0.5 10 a true [1,2] 2025-01-01T00:00:00Z",
		"2 0.25 20 b false (null) 2025-01-01T00:00:01Z",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestAppendRefusesBadFramesAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "src.parquet")
	writeBase(t, path)
	before, _ := os.ReadFile(path)
	a := &Appender{ParseTime: parseTS}
	cases := []struct {
		name string
		cols []Column
		want string
	}{
		{"missing and extra columns", append(pushRow(7, 1, core.Int64Value(1), "2025-01-05T10:00:00Z")[1:], Column{Name: "zzz", Values: []core.Value{{}}}),
			"missing_expected_columns: ['ts'], extra_unexpected_columns: ['zzz']"},
		{"fraction into an integer", pushRow(7, 1, core.DoubleValue(1.5), "2025-01-05T10:00:00Z"), "df.count[0]: float value 1.5 would be truncated"},
		{"string into an integer", pushRow(7, 1, core.StringValue("x"), "2025-01-05T10:00:00Z"), "df.count[0]: a string value is not an integer"},
		{"integer as a timestamp", func() []Column {
			c := pushRow(7, 1, core.Int64Value(1), "x")
			c[0].Values[0] = core.Int64Value(1736071200)
			return c
		}(), "df.ts[0]: a integer value is not a timestamp string"},
		{"unparseable timestamp", pushRow(7, 1, core.Int64Value(1), "not a time"), "df.ts[0]"},
		{"number in a list of doubles", func() []Column {
			c := pushRow(7, 1, core.Int64Value(1), "2025-01-05T10:00:00Z")
			c[6].Values[0] = core.StringValue("x")
			return c
		}(), "df.times[0]: a string value is not a list"},
	}
	for _, c := range cases {
		_, err := a.Prepare(path, c.cols, false)
		if core.KindOf(err) != core.KindInvalidArgument || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (kind %v), want an invalid-argument error containing %q", c.name, err, core.KindOf(err), c.want)
		}
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("a refused frame changed the file")
	}
}

func TestAppendConcurrentPushesLoseNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "src.parquet")
	writeBase(t, path)
	a := &Appender{ParseTime: parseTS}
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p, err := a.Prepare(path, pushRow(int64(100+i), 1, core.Int64Value(int64(i)), "2025-01-05T10:00:00Z"), false)
			if err == nil {
				err = p.Commit(context.Background())
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	_, rows := readRows(t, path)
	if len(rows) != n+2 {
		t.Fatalf("%d rows after %d appends to 2 rows", len(rows), n)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[strings.Fields(r)[0]] = true
	}
	for i := 0; i < n; i++ {
		if !seen[fmt.Sprint(100+i)] {
			t.Fatalf("row %d lost: %v", 100+i, rows)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestAppendFailedRewriteKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "src.parquet")
	writeBase(t, path)
	a := &Appender{ParseTime: parseTS}
	p, err := a.Prepare(path, pushRow(7, 1, core.Int64Value(1), "2025-01-05T10:00:00Z"), false)
	if err != nil {
		t.Fatal(err)
	}
	// The file is replaced by a corrupt one between the check and the write:
	// the rewrite fails and leaves it (and no temporary file) behind.
	corrupt := []byte("PAR1 not really")
	if err := os.WriteFile(path, corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(context.Background()); err == nil {
		t.Fatal("commit over a corrupt file succeeded")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, corrupt) {
		t.Fatal("the failed rewrite changed the file")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestAppendToDirectoryAddsAFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ds")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBase(t, filepath.Join(dir, "part-0.parquet"))
	a := &Appender{ParseTime: parseTS}
	p, err := a.Prepare(dir, pushRow(7, 1, core.Int64Value(1), "2025-01-05T10:00:00Z"), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, rows := readRows(t, dir)
	if len(rows) != 3 {
		t.Fatalf("rows %v", rows)
	}
	if names, _ := os.ReadDir(dir); len(names) != 2 {
		t.Fatalf("directory holds %d entries, want the old file and one new", len(names))
	}
}

// Schema, and so a rewritten file, carries no PARQUET:field_id the reader
// added, at any depth (list elements, struct fields), and keeps the
// metadata the file was written with.
func TestSchemaDropsFieldIDs(t *testing.T) {
	md := arrow.NewMetadata([]string{"note"}, []string{"kept"})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: md},
		{Name: "xs", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64), Nullable: true},
		{Name: "ys", Type: arrow.LargeListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true}), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(1)
	for i := 1; i < len(b.Fields()); i++ {
		b.Field(i).AppendNull()
	}
	path := filepath.Join(t.TempDir(), "data.parquet")
	writeStored(t, path, schema, b)
	got, err := Schema(path)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(f arrow.Field)
	walk = func(f arrow.Field) {
		if f.Metadata.FindKey("PARQUET:field_id") >= 0 {
			t.Errorf("field %s keeps PARQUET:field_id", f.Name)
		}
		if nested, ok := f.Type.(arrow.NestedType); ok {
			for _, c := range nested.Fields() {
				walk(c)
			}
		}
	}
	for _, f := range got.Fields() {
		walk(f)
	}
	if v, ok := got.Field(0).Metadata.GetValue("note"); !ok || v != "kept" {
		t.Errorf("id's own metadata lost: %v", got.Field(0).Metadata)
	}
}
