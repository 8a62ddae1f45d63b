// Package parquet is the offline source for Feast FileSources: one parquet
// file, or a directory of them, read with Apache Arrow.
//
// PullLatest reads in two passes so that memory depends on the number of
// distinct entity keys, not on the width or length of the table. Pass one
// streams only the join-key and timestamp columns of every row group and
// keeps, per key, where its winning row is. Pass two reads the row groups
// that hold winners, one at a time, and emits only those rows.
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
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/core"
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

// winner is where the best row of one entity key is.
type winner struct {
	file, rowGroup int32
	row            int64
	ts, created    core.Timestamp
}

// PullLatest implements offlinestore.Source.
func (s *Source) PullLatest(ctx context.Context, q offlinestore.Query, fn func(*offlinestore.Batch) error) error {
	files, err := s.files()
	if err != nil {
		return err
	}
	readers := make([]*pqarrow.FileReader, len(files))
	defer func() {
		for _, r := range readers {
			if r != nil {
				_ = r.ParquetReader().Close()
			}
		}
	}()
	for i, f := range files {
		pf, err := file.OpenParquetFile(f, false)
		if err != nil {
			return fmt.Errorf("parquet %s: %w", f, err)
		}
		readers[i], err = pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{Parallel: true, BatchSize: readBatchRows}, memory.DefaultAllocator)
		if err != nil {
			_ = pf.Close()
			return fmt.Errorf("parquet %s: %w", f, err)
		}
	}

	keyCols := q.Columns[:q.KeyColumns]
	timeCols := []string{q.TimestampColumn}
	if q.CreatedColumn != "" {
		timeCols = append(timeCols, q.CreatedColumn)
	}

	// Pass one: the winning row of every key.
	var winners []winner
	// The index maps each key to its winner. A lone integer join key, the
	// common case, is kept as an int64: a third of the memory of a string.
	var index keyIndex
	var slab []core.Value
	var keyBuf []byte
	for fi, fr := range readers {
		for rg := 0; rg < fr.ParquetReader().NumRowGroups(); rg++ {
			var row int64
			err := readRowGroup(ctx, fr, files[fi], rg, append(append([]string(nil), keyCols...), timeCols...), func(rec arrow.RecordBatch) error {
				keys := make([]cellFn, len(keyCols))
				for j, name := range keyCols {
					var err error
					if keys[j], _, err = cellReader(column(rec, name), &slab); err != nil {
						return fmt.Errorf("parquet %s: column %q: %w", files[fi], name, err)
					}
				}
				tsOf, createdOf, err := timeReaders(rec, q, files[fi])
				if err != nil {
					return err
				}
				for i := 0; i < int(rec.NumRows()); i++ {
					ts, ok := tsOf(i)
					if !ok || !q.InWindow(ts) {
						continue
					}
					created := offlinestore.NoTime
					if createdOf != nil {
						if c, ok := createdOf(i); ok {
							created = c
						}
					}
					keyBuf = keyBuf[:0]
					var intKey int64
					isInt := len(keys) == 1
					for j, k := range keys {
						v := k(i)
						if v.IsNull() {
							return fmt.Errorf("parquet %s: row %d has a null join key %q", files[fi], row+int64(i), keyCols[j])
						}
						if isInt && (v.Type == core.Int32 || v.Type == core.Int64) {
							intKey = v.I
						} else {
							isInt = false
							keyBuf = appendKey(keyBuf, v)
						}
					}
					slab = slab[:0]
					w := winner{file: int32(fi), rowGroup: int32(rg), row: row + int64(i), ts: ts, created: created}
					at, found := index.get(isInt, intKey, keyBuf)
					if found {
						if offlinestore.Newer(ts, created, winners[at].ts, winners[at].created) {
							winners[at] = w
						}
						continue
					}
					index.put(isInt, intKey, keyBuf, int32(len(winners)))
					winners = append(winners, w)
				}
				row += rec.NumRows()
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	index = keyIndex{}

	// Pass two: read the row groups holding winners and emit those rows.
	// Only positions are kept from here on (times are read again with the
	// rows): 16 bytes per key instead of 48.
	places := make([]place, len(winners))
	for i, w := range winners {
		places[i] = place{file: w.file, rowGroup: w.rowGroup, row: w.row}
	}
	winners = nil
	sort.Slice(places, func(i, j int) bool {
		a, b := places[i], places[j]
		if a.file != b.file {
			return a.file < b.file
		}
		if a.rowGroup != b.rowGroup {
			return a.rowGroup < b.rowGroup
		}
		return a.row < b.row
	})
	size := q.Size()
	width := len(q.Columns)
	out := &offlinestore.Batch{Total: int64(len(places)), Width: width}
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
	cols := append(append([]string(nil), q.Columns...), timeCols...)
	for next := 0; next < len(places); {
		fi, rg := places[next].file, places[next].rowGroup
		var row int64
		err := readRowGroup(ctx, readers[fi], files[fi], int(rg), cols, func(rec arrow.RecordBatch) error {
			start, end := row, row+rec.NumRows()
			row = end
			inRecord := func() bool {
				return next < len(places) && places[next].file == fi && places[next].rowGroup == rg && places[next].row < end
			}
			if !inRecord() {
				return nil
			}
			cells := make([]cellFn, width)
			for j, name := range q.Columns {
				var err error
				if cells[j], _, err = cellReader(column(rec, name), &slab); err != nil {
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
				i := int(places[next].row - start)
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
	if len(places) == 0 {
		return fn(out)
	}
	return nil
}

// place is where a winning row is.
type place struct {
	file, rowGroup int32
	row            int64
}

// maxHeldRecords caps the Arrow records one output batch may keep alive.
const maxHeldRecords = 2

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
	ts, err = timeReader(column(rec, q.TimestampColumn))
	if err != nil {
		return nil, nil, fmt.Errorf("parquet %s: timestamp column %q: %w", path, q.TimestampColumn, err)
	}
	if q.CreatedColumn != "" {
		created, err = timeReader(column(rec, q.CreatedColumn))
		if err != nil {
			return nil, nil, fmt.Errorf("parquet %s: created timestamp column %q: %w", path, q.CreatedColumn, err)
		}
	}
	return ts, created, nil
}

// keyIndex maps entity keys to winner positions: integer keys in one map,
// every other key (encoded by appendKey) in another. The two never hold
// the same key.
type keyIndex struct {
	ints map[int64]int32
	strs map[string]int32
}

func (x *keyIndex) get(isInt bool, i int64, s []byte) (int32, bool) {
	if isInt {
		at, ok := x.ints[i]
		return at, ok
	}
	at, ok := x.strs[string(s)]
	return at, ok
}

func (x *keyIndex) put(isInt bool, i int64, s []byte, at int32) {
	if isInt {
		if x.ints == nil {
			x.ints = map[int64]int32{}
		}
		x.ints[i] = at
		return
	}
	if x.strs == nil {
		x.strs = map[string]int32{}
	}
	x.strs[string(s)] = at
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
