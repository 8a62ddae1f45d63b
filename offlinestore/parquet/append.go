package parquet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/offlinestore"
)

// Column is one named column of rows to append.
type Column = offlinestore.Column

// Appender appends rows to FileSources the way Feast's file offline store
// (DaskOfflineStore.offline_write_batch) does: the rows are cast to the
// file's own schema and the file is rewritten as new rows followed by the
// old ones, keeping its schema and metadata.
//
// Unlike Feast, the rewrite is crash safe (a temporary file in the same
// directory, fsynced, then renamed over the old one: readers see the old or
// the new file, never half of one) and appends to one file are serialized:
// appends that arrive while a rewrite runs are written together by the next
// one, so none is lost and a burst costs one rewrite, not one per push.
// A directory source gets a new file per rewrite instead (Feast cannot
// append to a directory at all).
type Appender struct {
	// ParseTime parses a timestamp string (an offset-less time is UTC).
	ParseTime func(string) (core.Timestamp, error)

	mu    sync.Mutex
	files map[string]*fileQueue
}

// fileQueue serializes the rewrites of one path.
type fileQueue struct {
	mu      sync.Mutex // guards pending
	pending []*Pending
	writing sync.Mutex // held by the goroutine rewriting the file
}

// Pending is a checked append: the rows converted to the file's schema.
type Pending struct {
	a      *Appender
	path   string
	dir    bool
	schema *arrow.Schema
	rec    arrow.RecordBatch

	done bool // set under fileQueue.writing
	err  error
}

// Schema returns the column names and Arrow schema of the file, or of the
// first file of a directory, as Feast's ParquetDataset(path).schema.
func Schema(path string) (*arrow.Schema, error) {
	files, err := New(path).files()
	if err != nil {
		return nil, err
	}
	return fileSchema(files[0])
}

func fileSchema(path string) (*arrow.Schema, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	s, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	return cleanSchema(s), nil
}

// cleanSchema drops the PARQUET:field_id entries the reader adds to every
// field, so that a rewritten file's schema is the one it was written with.
func cleanSchema(s *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		fields[i] = cleanField(f)
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

func cleanField(f arrow.Field) arrow.Field {
	if i := f.Metadata.FindKey("PARQUET:field_id"); i >= 0 {
		var keys, vals []string
		for j := 0; j < f.Metadata.Len(); j++ {
			if j != i {
				keys, vals = append(keys, f.Metadata.Keys()[j]), append(vals, f.Metadata.Values()[j])
			}
		}
		f.Metadata = arrow.NewMetadata(keys, vals)
	}
	switch t := f.Type.(type) {
	case *arrow.ListType:
		f.Type = arrow.ListOfField(cleanField(t.ElemField()))
	case *arrow.LargeListType:
		f.Type = arrow.LargeListOfField(cleanField(t.ElemField()))
	case *arrow.StructType:
		fs := make([]arrow.Field, t.NumFields())
		for i, c := range t.Fields() {
			fs[i] = cleanField(c)
		}
		f.Type = arrow.StructOf(fs...)
	}
	return f
}

// Prepare checks the columns against the source's schema (exactly its
// columns, in any order, as Feast's write_to_offline_store requires) and
// converts every cell to the file's column type. Nothing is written; a
// mistake is an invalid-argument error naming the column and row. strs
// says every value arrived as a string (gRPC's feature map): numbers and
// booleans are then parsed, as Arrow casts a string column.
func (a *Appender) Prepare(path string, cols []Column, strs bool) (*Pending, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("parquet source: %w", err)
	}
	schema, err := Schema(path)
	if err != nil {
		return nil, err
	}
	if err := offlinestore.CheckColumns(fieldNames(schema), offlinestore.Rows{Columns: cols}); err != nil {
		return nil, err
	}
	byName := make(map[string]*Column, len(cols))
	for i := range cols {
		byName[cols[i].Name] = &cols[i]
	}
	rows := 0
	if len(cols) > 0 {
		rows = len(cols[0].Values)
	}
	arrays := make([]arrow.Array, 0, schema.NumFields())
	release := func() {
		for _, arr := range arrays {
			arr.Release()
		}
	}
	for _, f := range schema.Fields() {
		arr, err := a.build(f, byName[f.Name].Values, strs)
		if err != nil {
			release()
			return nil, err
		}
		arrays = append(arrays, arr)
	}
	rec := array.NewRecordBatch(schema, arrays, int64(rows))
	release()
	return &Pending{a: a, path: path, dir: st.IsDir(), schema: schema, rec: rec}, nil
}

// Release frees a Pending that will not be committed.
func (p *Pending) Release() {
	if p.rec != nil {
		p.rec.Release()
		p.rec = nil
	}
}

// Commit writes the rows; it returns once they are durable (or failed, in
// which case the file is as it was).
func (p *Pending) Commit(ctx context.Context) error {
	q := p.a.queue(p.path)
	q.mu.Lock()
	q.pending = append(q.pending, p)
	q.mu.Unlock()

	q.writing.Lock()
	defer q.writing.Unlock()
	if p.done { // an earlier writer took it along
		return p.err
	}
	q.mu.Lock()
	batch := q.pending
	q.pending = nil
	q.mu.Unlock()
	if err := ctx.Err(); err != nil && len(batch) == 1 {
		p.done, p.err = true, err
		p.Release()
		return err
	}
	err := rewrite(p.path, p.dir, batch)
	for _, b := range batch {
		b.done, b.err = true, err
		b.Release()
	}
	return err
}

func (a *Appender) queue(path string) *fileQueue {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.files == nil {
		a.files = map[string]*fileQueue{}
	}
	q := a.files[abs]
	if q == nil {
		q = &fileQueue{}
		a.files[abs] = q
	}
	return q
}

// rewrite writes batch (in arrival order) to path: for a file, a new file
// holding the batch's rows newest append first, then the old rows (Feast's
// concat_tables([new, old])); for a directory, a new file of the batch's
// rows. The old file stays until the new one is complete and synced.
func rewrite(path string, dir bool, batch []*Pending) error {
	parent := path
	if !dir {
		parent = filepath.Dir(path)
	}
	unlock, err := lockDir(parent)
	if err != nil {
		return err
	}
	defer unlock()

	var old *pqarrow.FileReader
	var oldFile *file.Reader
	schema := batch[0].schema
	target := path
	if dir {
		target = filepath.Join(path, "part-"+time.Now().UTC().Format("20060102T150405.000000000Z")+"-"+randHex()+".parquet")
	} else {
		oldFile, err = file.OpenParquetFile(path, false)
		if err != nil {
			return fmt.Errorf("parquet %s: %w", path, err)
		}
		defer oldFile.Close()
		old, err = pqarrow.NewFileReader(oldFile, pqarrow.ArrowReadProperties{BatchSize: readBatchRows}, memory.DefaultAllocator)
		if err != nil {
			return fmt.Errorf("parquet %s: %w", path, err)
		}
		if schema, err = old.Schema(); err != nil {
			return fmt.Errorf("parquet %s: %w", path, err)
		}
		schema = cleanSchema(schema)
	}
	for _, p := range batch {
		if !p.schema.Equal(schema) {
			return core.Errorf(core.KindUnavailable, "", "parquet %s: the file's schema changed while the rows were checked; push again", path)
		}
	}

	tmp, err := os.CreateTemp(parent, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return fmt.Errorf("parquet %s: %w", path, err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if st, err := os.Stat(path); err == nil && !dir {
		_ = tmp.Chmod(st.Mode().Perm())
	} else if dir {
		_ = tmp.Chmod(0o644)
	}
	props := pq.NewWriterProperties(
		pq.WithVersion(pq.V2_6),
		pq.WithCompression(compress.Codecs.Snappy),
		pq.WithDictionaryDefault(true),
		pq.WithStats(true),
		pq.WithMaxRowGroupLength(1<<20),
		pq.WithCreatedBy("feastgo (parquet-go arrow)"),
	)
	w, err := pqarrow.NewFileWriter(schema, tmp, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return fmt.Errorf("parquet %s: %w", path, err)
	}
	for i := len(batch) - 1; i >= 0; i-- {
		if err := w.WriteBuffered(batch[i].rec); err != nil {
			return fmt.Errorf("parquet %s: %w", path, err)
		}
	}
	if old != nil {
		rr, err := old.GetRecordReader(context.Background(), nil, nil)
		if err != nil {
			return fmt.Errorf("parquet %s: %w", path, err)
		}
		for rr.Next() {
			rec := rr.RecordBatch()
			clean := array.NewRecordBatch(schema, rec.Columns(), rec.NumRows())
			err := w.WriteBuffered(clean)
			clean.Release()
			if err != nil {
				rr.Release()
				return fmt.Errorf("parquet %s: %w", path, err)
			}
		}
		err = rr.Err()
		rr.Release()
		if err != nil {
			return fmt.Errorf("parquet %s: %w", path, err)
		}
	}
	// Close writes the footer and closes tmp; sync through a new handle.
	if err := w.Close(); err != nil {
		return fmt.Errorf("parquet %s: %w", path, err)
	}
	f, err := os.OpenFile(tmp.Name(), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("parquet %s: %w", path, err)
	}
	err = f.Sync()
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("parquet %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("parquet %s: %w", path, err)
	}
	keep = true
	return syncDir(parent)
}

// lockDir takes an exclusive flock on a directory, so that two processes
// appending to files there do not interleave their rewrites.
func lockDir(dir string) (func(), error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("parquet %s: %w", dir, err)
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("parquet %s: lock: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
		_ = d.Close()
	}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func fieldNames(s *arrow.Schema) []string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names
}

// build converts one column to an Arrow array of the field's type with the
// casts pyarrow would do on what pandas made of the JSON (ints widen to
// floats, integral floats narrow to ints, ISO strings become timestamps);
// every other mix is an invalid-argument error naming the column and row.
func (a *Appender) build(f arrow.Field, vals []core.Value, strs bool) (arrow.Array, error) {
	b := array.NewBuilder(memory.DefaultAllocator, f.Type)
	defer b.Release()
	for i, v := range vals {
		if strs && v.Type == core.String {
			v = parseString(v, f.Type)
		}
		if err := a.appendCell(b, f.Type, v); err != nil {
			return nil, core.Invalidf("df.%s[%d]: %v (the parquet column %s is %s)", f.Name, i, err, f.Name, f.Type)
		}
	}
	return b.NewArray(), nil
}

func (a *Appender) appendCell(b array.Builder, t arrow.DataType, v core.Value) error {
	if v.IsNull() {
		b.AppendNull()
		return nil
	}
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		n, err := intOf(v)
		if err != nil {
			return err
		}
		return appendInt(b, t, n)
	case arrow.FLOAT32, arrow.FLOAT64:
		var x float64
		switch v.Type {
		case core.Int64, core.Int32:
			x = float64(v.I)
		case core.Double, core.Float:
			x = v.F
		default:
			return fmt.Errorf("a %s value is not a number", kindName(v))
		}
		if t.ID() == arrow.FLOAT32 {
			b.(*array.Float32Builder).Append(float32(x))
		} else {
			b.(*array.Float64Builder).Append(x)
		}
		return nil
	case arrow.BOOL:
		if v.Type != core.Bool {
			return fmt.Errorf("a %s value is not a boolean", kindName(v))
		}
		b.(*array.BooleanBuilder).Append(v.I != 0)
		return nil
	case arrow.STRING:
		if v.Type != core.String {
			return fmt.Errorf("a %s value is not a string", kindName(v))
		}
		b.(*array.StringBuilder).Append(v.S)
		return nil
	case arrow.LARGE_STRING:
		if v.Type != core.String {
			return fmt.Errorf("a %s value is not a string", kindName(v))
		}
		b.(*array.LargeStringBuilder).Append(v.S)
		return nil
	case arrow.BINARY:
		if v.Type != core.String && v.Type != core.Bytes {
			return fmt.Errorf("a %s value is not bytes", kindName(v))
		}
		b.(*array.BinaryBuilder).Append([]byte(v.S))
		return nil
	case arrow.TIMESTAMP:
		if v.Type != core.String {
			return fmt.Errorf("a %s value is not a timestamp string (use ISO 8601, for example 2025-01-05 10:00:00+00:00)", kindName(v))
		}
		if a.ParseTime == nil {
			return errors.New("timestamps cannot be parsed")
		}
		ts, err := a.ParseTime(v.S)
		if err != nil {
			return err
		}
		tt := t.(*arrow.TimestampType)
		n, err := timeIn(ts, tt.Unit)
		if err != nil {
			return err
		}
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(n))
		return nil
	case arrow.LIST, arrow.LARGE_LIST:
		if !v.Type.IsList() && v.Type != core.UntypedList {
			return fmt.Errorf("a %s value is not a list", kindName(v))
		}
		lb := b.(array.ListLikeBuilder)
		lb.Append(true)
		elem := t.(arrow.ListLikeType).Elem()
		for j, e := range v.List {
			if err := a.appendCell(lb.ValueBuilder(), elem, e); err != nil {
				return fmt.Errorf("element %d: %w", j, err)
			}
		}
		return nil
	}
	return fmt.Errorf("appending to a %s column is not supported by this server", t)
}

// parseString reads a string cell of a gRPC frame as the number or boolean
// the column holds; what does not parse stays a string (and is refused).
func parseString(v core.Value, t arrow.DataType) core.Value {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		if n, err := strconv.ParseInt(strings.TrimSpace(v.S), 10, 64); err == nil {
			return core.Int64Value(n)
		}
	case arrow.FLOAT32, arrow.FLOAT64:
		if x, err := strconv.ParseFloat(strings.TrimSpace(v.S), 64); err == nil {
			return core.DoubleValue(x)
		}
	case arrow.BOOL:
		switch strings.ToLower(strings.TrimSpace(v.S)) {
		case "true":
			return core.BoolValue(true)
		case "false":
			return core.BoolValue(false)
		}
	}
	return v
}

func kindName(v core.Value) string {
	switch {
	case v.Type == core.Int64 || v.Type == core.Int32:
		return "integer"
	case v.Type == core.Double || v.Type == core.Float:
		return "float"
	case v.Type == core.Bool:
		return "boolean"
	case v.Type == core.String:
		return "string"
	case v.Type == core.Bytes:
		return "bytes"
	case v.Type.IsList() || v.Type == core.UntypedList:
		return "list"
	}
	return strings.ToLower(v.Type.String())
}

// intOf is an integer cell: an int, or a float without a fraction (pandas
// makes an int column with nulls float; Arrow's safe cast takes it back).
func intOf(v core.Value) (int64, error) {
	switch v.Type {
	case core.Int64, core.Int32:
		return v.I, nil
	case core.Double, core.Float:
		n, ok := pyconv.IntegralInt64(v.F)
		if !ok {
			return 0, fmt.Errorf("float value %s would be truncated", strconv.FormatFloat(v.F, 'g', -1, 64))
		}
		return n, nil
	}
	return 0, fmt.Errorf("a %s value is not an integer", kindName(v))
}

func appendInt(b array.Builder, t arrow.DataType, n int64) error {
	out := func(lo, hi int64) error {
		if n < lo || n > hi {
			return fmt.Errorf("integer value %d is out of range", n)
		}
		return nil
	}
	switch t.ID() {
	case arrow.INT8:
		if err := out(math.MinInt8, math.MaxInt8); err != nil {
			return err
		}
		b.(*array.Int8Builder).Append(int8(n))
	case arrow.INT16:
		if err := out(math.MinInt16, math.MaxInt16); err != nil {
			return err
		}
		b.(*array.Int16Builder).Append(int16(n))
	case arrow.INT32:
		if err := out(math.MinInt32, math.MaxInt32); err != nil {
			return err
		}
		b.(*array.Int32Builder).Append(int32(n))
	case arrow.INT64:
		b.(*array.Int64Builder).Append(n)
	case arrow.UINT8:
		if err := out(0, math.MaxUint8); err != nil {
			return err
		}
		b.(*array.Uint8Builder).Append(uint8(n))
	case arrow.UINT16:
		if err := out(0, math.MaxUint16); err != nil {
			return err
		}
		b.(*array.Uint16Builder).Append(uint16(n))
	case arrow.UINT32:
		if err := out(0, math.MaxUint32); err != nil {
			return err
		}
		b.(*array.Uint32Builder).Append(uint32(n))
	case arrow.UINT64:
		if err := out(0, math.MaxInt64); err != nil {
			return err
		}
		b.(*array.Uint64Builder).Append(uint64(n))
	}
	return nil
}

// timeIn converts a timestamp to a count of unit; a fraction finer than the
// unit is an error, as Arrow's safe cast.
func timeIn(ts core.Timestamp, unit arrow.TimeUnit) (int64, error) {
	ns := int64(ts.Nanos)
	switch unit {
	case arrow.Second:
		if ns != 0 {
			return 0, errors.New("the time has a fraction of a second, the column holds whole seconds")
		}
		return ts.Seconds, nil
	case arrow.Millisecond:
		if ns%1e6 != 0 {
			return 0, errors.New("the time is finer than the column's milliseconds")
		}
		return ts.Seconds*1e3 + ns/1e6, nil
	case arrow.Microsecond:
		if ns%1e3 != 0 {
			return 0, errors.New("the time is finer than the column's microseconds")
		}
		return ts.Seconds*1e6 + ns/1e3, nil
	}
	if ts.Seconds > math.MaxInt64/int64(1e9)-1 || ts.Seconds < math.MinInt64/int64(1e9)+1 {
		return 0, errors.New("the time is out of range for nanoseconds")
	}
	return ts.Seconds*1e9 + ns, nil
}
