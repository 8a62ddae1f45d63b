// Package parquet is the offline engine for Feast FileSources: one parquet
// file, or a directory of them, read with Apache Arrow (parquet.go), and
// appended to the way Feast's file offline store does it, but crash safe
// (append.go). Engine (engine.go) resolves FileSource URIs against the
// repository for offlinestore/catalog.
//
// PullLatest reads in two passes so that memory depends on the number of
// distinct entity keys, not on the width or length of the table. Pass one
// streams only the join-key and timestamp columns of every row group and
// keeps, per key, where its winning row is. Pass two reads the row groups
// that hold winners, one at a time, and emits only those rows.
//
// It imports offlinestore, core, the registry protos and Arrow; it must not
// import config, registry, other engines, or the packages that use the
// offline store (materialize, ingest, server).
package parquet

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/arrowval"
	"github.com/feastgo/feastgo/offlinestore"
)

// Source reads a parquet file, or every data file under a directory (in
// path order; names starting with "_" or "." are skipped, as Dask does).
type Source struct {
	path string
}

var _ offlinestore.Source = (*Source)(nil)

// New returns the source for an absolute or working-directory-relative path.
func New(path string) *Source { return &Source{path: path} }

// Describe is the path.
func (s *Source) Describe() string { return s.path }

// readBatchRows is how many rows Arrow decodes at a time.
const readBatchRows = 16 * 1024

// winner is the best row so far of one entity key that is not a lone
// integer: its ordinal and times.
type winner struct {
	ord         int64
	ts, created core.Timestamp
}

// PullLatest implements offlinestore.Source.
func (s *Source) PullLatest(ctx context.Context, q offlinestore.Query, fn func(*offlinestore.Batch) error) error {
	files, readers, err := s.open()
	if err != nil {
		return err
	}
	defer closeReaders(readers)

	// Pass one: where the winning row of every key is, in file order.
	ords, spans, err := latestRows(ctx, readers, files, q)
	if err != nil {
		return err
	}

	// Pass two: read the row groups holding winners and emit those rows.
	var slab []core.Value
	size := q.Size()
	width := len(q.Columns)
	out := &offlinestore.Batch{Total: int64(len(ords)), Width: width}
	if q.CreatedColumn != "" {
		out.Created = make([]core.Timestamp, 0, size)
	}
	// Cells of a batch point into the records they came from: those stay
	// retained until the batch has been handed to fn.
	var held []arrow.RecordBatch
	release := func() {
		for _, r := range held {
			r.Release()
		}
		held = held[:0]
	}
	defer release()
	flush := func() error {
		if out.Rows == 0 {
			return nil
		}
		if err := fn(out); err != nil {
			return err
		}
		out.Reset(width)
		slab = slab[:0]
		release()
		return nil
	}
	cols := append(append([]string(nil), q.Columns...), timeColumns(q)...)
	for sp, next := 0, 0; next < len(ords); {
		// The row group holding the next winner (empty ones share their
		// start with the next).
		for sp+1 < len(spans) && spans[sp+1].start <= ords[next] {
			sp++
		}
		fi, rg := spans[sp].file, spans[sp].rowGroup
		row := spans[sp].start
		err := readRowGroup(ctx, readers[fi], files[fi], int(rg), cols, func(rec arrow.RecordBatch) error {
			start, end := row, row+rec.NumRows()
			row = end
			inRecord := func() bool {
				return next < len(ords) && ords[next] < end
			}
			if !inRecord() {
				return nil
			}
			cells := make([]arrowval.CellFn, width)
			for j, name := range q.Columns {
				var err error
				if cells[j], _, err = arrowval.Cells(column(rec, name), &slab); err != nil {
					return fmt.Errorf("parquet %s: column %q: %w", files[fi], name, err)
				}
			}
			tsOf, createdOf, err := timeReaders(rec, q, files[fi])
			if err != nil {
				return err
			}
			retained := false
			for inRecord() {
				if !retained {
					rec.Retain()
					held = append(held, rec)
					retained = true
				}
				i := int(ords[next] - start)
				for _, c := range cells {
					out.Values = append(out.Values, c(i))
				}
				ts, _ := tsOf(i)
				out.TS = append(out.TS, ts)
				if out.Created != nil {
					c, _ := createdOf(i) // zero when null
					out.Created = append(out.Created, c)
				}
				out.Rows++
				next++
				if out.Rows >= size {
					if err := flush(); err != nil {
						return err
					}
					retained = false
				}
			}
			// Bound what sparse winners can pin: a few records at most.
			if len(held) >= maxHeldRecords {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(ords) == 0 {
		return fn(out)
	}
	return nil
}

// latestRows is pass one: it streams the join-key and time columns of
// every row group and returns the ordinals of the winning rows, ascending
// (a row's ordinal counts rows across all row groups of all files, in
// order), and where each row group's ordinals start.
//
// A lone integer join key, the common case, goes to an intIndex (see
// index.go); a lone Int64 or Int32 column is read straight from its Arrow
// values. Any other key is encoded by appendKey into a map.
func latestRows(ctx context.Context, readers []*pqarrow.FileReader, files []string, q offlinestore.Query) ([]int64, []span, error) {
	keyCols := q.Columns[:q.KeyColumns]
	cols := append(append([]string(nil), keyCols...), timeColumns(q)...)
	var ints intIndex
	for _, fr := range readers {
		ints.hint += int(fr.ParquetReader().NumRows())
	}
	// Other keys: the map from key to winner.
	var winners []winner
	var index map[string]int32
	var spans []span
	var slab []core.Value
	var keyBuf []byte
	var tsBuf, createdBuf []core.Timestamp
	var ord int64
	for fi, fr := range readers {
		for rg := 0; rg < fr.ParquetReader().NumRowGroups(); rg++ {
			spans = append(spans, span{file: int32(fi), rowGroup: int32(rg), start: ord})
			var row int64
			err := readRowGroup(ctx, fr, files[fi], rg, cols, func(rec arrow.RecordBatch) error {
				first := row
				row += rec.NumRows()
				base := ord
				ord += rec.NumRows()
				tsArr := column(rec, q.TimestampColumn)
				var err error
				if tsBuf, err = arrowval.Times(tsArr, tsBuf); err != nil {
					return fmt.Errorf("parquet %s: timestamp column %q: %w", files[fi], q.TimestampColumn, err)
				}
				rt := recordTimes{ts: tsBuf, tsArr: tsArr, q: &q}
				if q.CreatedColumn != "" {
					rt.createdArr = column(rec, q.CreatedColumn)
					if createdBuf, err = arrowval.Times(rt.createdArr, createdBuf); err != nil {
						return fmt.Errorf("parquet %s: created timestamp column %q: %w", files[fi], q.CreatedColumn, err)
					}
					rt.created = createdBuf
				}
				nullKey := func(i int) error {
					return fmt.Errorf("parquet %s: row %d has a null join key %q", files[fi], first+int64(i), keyCols[0])
				}
				if len(keyCols) == 1 {
					switch a := column(rec, keyCols[0]).(type) {
					case *array.Int64:
						return addInts(&ints, a, a.Int64Values(), &rt, base, nullKey)
					case *array.Int32:
						return addInts(&ints, a, a.Int32Values(), &rt, base, nullKey)
					}
				}
				keys := make([]arrowval.CellFn, len(keyCols))
				for j, name := range keyCols {
					var err error
					if keys[j], _, err = arrowval.Cells(column(rec, name), &slab); err != nil {
						return fmt.Errorf("parquet %s: column %q: %w", files[fi], name, err)
					}
				}
				for i := 0; i < int(rec.NumRows()); i++ {
					ts, created, ok := rt.at(i)
					if !ok {
						continue
					}
					keyBuf = keyBuf[:0]
					var intKey int64
					isInt := len(keys) == 1
					for j, k := range keys {
						v := k(i)
						if v.IsNull() {
							return fmt.Errorf("parquet %s: row %d has a null join key %q", files[fi], first+int64(i), keyCols[j])
						}
						if isInt && (v.Type == core.Int32 || v.Type == core.Int64) {
							intKey = v.I
						} else {
							isInt = false
							keyBuf = appendKey(keyBuf, v)
						}
					}
					slab = slab[:0]
					if isInt {
						ints.add(newCand(intKey, ts, created, base+int64(i)))
						continue
					}
					w := winner{ord: base + int64(i), ts: ts, created: created}
					if at, found := index[string(keyBuf)]; found {
						if offlinestore.Newer(ts, created, winners[at].ts, winners[at].created) {
							winners[at] = w
						}
						continue
					}
					if index == nil {
						index = map[string]int32{}
					}
					index[string(keyBuf)] = int32(len(winners))
					winners = append(winners, w)
				}
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
		}
	}
	index = nil
	ords := ints.ords(make([]int64, 0, ints.size()+len(winners)))
	for _, w := range winners {
		ords = append(ords, w.ord)
	}
	sortOrds(ords)
	return ords, spans, nil
}

// timeColumns are the event time column and, if any, the created one.
func timeColumns(q offlinestore.Query) []string {
	if q.CreatedColumn == "" {
		return []string{q.TimestampColumn}
	}
	return []string{q.TimestampColumn, q.CreatedColumn}
}

// recordTimes are the event and created times of one record, converted.
type recordTimes struct {
	ts, created       []core.Timestamp
	tsArr, createdArr arrow.Array // createdArr nil without a created column
	q                 *offlinestore.Query
}

// at returns row i's times (a null created time as offlinestore.NoTime)
// and whether the row counts: its event time is set and in the window.
func (r *recordTimes) at(i int) (ts, created core.Timestamp, ok bool) {
	if r.tsArr.IsNull(i) {
		return ts, created, false
	}
	ts = r.ts[i]
	if !r.q.InWindow(ts) {
		return ts, created, false
	}
	created = offlinestore.NoTime
	if r.createdArr != nil && r.createdArr.IsValid(i) {
		created = r.created[i]
	}
	return ts, created, true
}

// addInts adds the counting rows of a record with a lone Int64 or Int32 join
// key to the index, reading keys and times straight from their arrays.
func addInts[K int32 | int64](x *intIndex, keyArr arrow.Array, keys []K, r *recordTimes, base int64, nullKey func(i int) error) error {
	keyNulls := keyArr.NullN() > 0
	tsNulls := r.tsArr.NullN() > 0
	createdNulls := r.createdArr != nil && r.createdArr.NullN() > 0
	start, end := r.q.Start, r.q.End
	for i := range keys {
		if tsNulls && r.tsArr.IsNull(i) {
			continue
		}
		ts := r.ts[i]
		if offlinestore.Before(ts, start) || offlinestore.Before(end, ts) {
			continue
		}
		if keyNulls && keyArr.IsNull(i) {
			return nullKey(i)
		}
		created := offlinestore.NoTime
		if r.createdArr != nil && !(createdNulls && r.createdArr.IsNull(i)) {
			created = r.created[i]
		}
		x.add(newCand(int64(keys[i]), ts, created, base+int64(i)))
	}
	return nil
}

func newCand(key int64, ts, created core.Timestamp, ord int64) cand {
	return cand{key: key, tsSec: ts.Seconds, tsNanos: ts.Nanos, createdSec: created.Seconds, createdNano: created.Nanos, ord: ord}
}

// span is where a row group's rows start in pass one's ordinals.
type span struct {
	file, rowGroup int32
	start          int64
}

// openReaders opens the files for Arrow reads; on error it closes those it
// opened.
func openReaders(files []string) ([]*pqarrow.FileReader, error) {
	readers := make([]*pqarrow.FileReader, 0, len(files))
	for _, f := range files {
		pf, err := file.OpenParquetFile(f, false)
		if err != nil {
			closeReaders(readers)
			return nil, fmt.Errorf("parquet %s: %w", f, err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{Parallel: true, BatchSize: readBatchRows}, memory.DefaultAllocator)
		if err != nil {
			_ = pf.Close()
			closeReaders(readers)
			return nil, fmt.Errorf("parquet %s: %w", f, err)
		}
		readers = append(readers, fr)
	}
	return readers, nil
}

func closeReaders(readers []*pqarrow.FileReader) {
	for _, r := range readers {
		_ = r.ParquetReader().Close()
	}
}

// maxHeldRecords caps the Arrow records one output batch may keep alive.
const maxHeldRecords = 2

// open lists the source's files and opens a reader on each; the caller
// closes them with closeReaders.
func (s *Source) open() ([]string, []*pqarrow.FileReader, error) {
	files, err := s.files()
	if err != nil {
		return nil, nil, err
	}
	readers, err := openReaders(files)
	if err != nil {
		return nil, nil, err
	}
	return files, readers, nil
}

// files lists the parquet files of the source.
func (s *Source) files() ([]string, error) {
	st, err := os.Stat(s.path)
	if err != nil {
		return nil, fmt.Errorf("parquet source: %w", err)
	}
	if !st.IsDir() {
		return []string{s.path}, nil
	}
	var out []string
	err = filepath.WalkDir(s.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != s.path && (strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("parquet source: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("parquet source: no files under %s", s.path)
	}
	sort.Strings(out)
	return out, nil
}

// readRowGroup streams the named top-level columns of one row group.
func readRowGroup(ctx context.Context, fr *pqarrow.FileReader, path string, rg int, names []string, fn func(arrow.RecordBatch) error) error {
	leaves, err := leafColumns(fr, names, path)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(ctx, leaves, []int{rg})
	if err != nil {
		return fmt.Errorf("parquet %s: row group %d: %w", path, rg, err)
	}
	defer rr.Release()
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(rr.RecordBatch()); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil {
		return fmt.Errorf("parquet %s: row group %d: %w", path, rg, err)
	}
	return nil
}

// leafColumns maps top-level column names to the parquet leaf columns that
// hold them.
func leafColumns(fr *pqarrow.FileReader, names []string, path string) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, name := range names {
		var field *pqarrow.SchemaField
		for i := range fr.Manifest.Fields {
			if fr.Manifest.Fields[i].Field.Name == name {
				field = &fr.Manifest.Fields[i]
				break
			}
		}
		if field == nil {
			have := make([]string, len(fr.Manifest.Fields))
			for i, f := range fr.Manifest.Fields {
				have[i] = f.Field.Name
			}
			return nil, fmt.Errorf("parquet %s: no column %q (columns: %s)", path, name, strings.Join(have, ", "))
		}
		var walk func(f *pqarrow.SchemaField)
		walk = func(f *pqarrow.SchemaField) {
			if f.IsLeaf() {
				if !seen[f.ColIndex] {
					seen[f.ColIndex] = true
					out = append(out, f.ColIndex)
				}
				return
			}
			for i := range f.Children {
				walk(&f.Children[i])
			}
		}
		walk(field)
	}
	sort.Ints(out)
	return out, nil
}

// column returns the record's column of that name (leafColumns made sure it
// is there).
func column(rec arrow.RecordBatch, name string) arrow.Array {
	return rec.Column(rec.Schema().FieldIndices(name)[0])
}

// timeReaders returns the event and (optional) created time accessors.
func timeReaders(rec arrow.RecordBatch, q offlinestore.Query, path string) (ts, created func(int) (core.Timestamp, bool), err error) {
	ts, err = arrowval.TimeReader(column(rec, q.TimestampColumn))
	if err != nil {
		return nil, nil, fmt.Errorf("parquet %s: timestamp column %q: %w", path, q.TimestampColumn, err)
	}
	if q.CreatedColumn != "" {
		created, err = arrowval.TimeReader(column(rec, q.CreatedColumn))
		if err != nil {
			return nil, nil, fmt.Errorf("parquet %s: created timestamp column %q: %w", path, q.CreatedColumn, err)
		}
	}
	return ts, created, nil
}

// appendKey appends an encoding of one join-key value under which values
// that Feast would turn into the same entity key compare equal: all
// integers alike, strings and bytes alike.
func appendKey(dst []byte, v core.Value) []byte {
	switch v.Type {
	case core.Int32, core.Int64, core.UnixTimestamp, core.Bool:
		dst = append(dst, 'i')
		return binary.LittleEndian.AppendUint64(dst, uint64(v.I))
	case core.Double, core.Float:
		dst = append(dst, 'f')
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.F))
	default:
		dst = append(dst, 's')
		dst = binary.AppendUvarint(dst, uint64(len(v.S)))
		return append(dst, v.S...)
	}
}
