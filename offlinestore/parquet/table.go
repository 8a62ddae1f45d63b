package parquet

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/offlinestore"
)

var (
	_ offlinestore.TableReader  = (*Source)(nil)
	_ offlinestore.ColumnLister = (*Source)(nil)
)

// tableColumns are the columns a TableReader batch has: q.Columns, then
// the time columns not already among them.
func tableColumns(q offlinestore.Query) []string {
	cols := append([]string(nil), q.Columns...)
	for _, t := range timeColumns(q) {
		dup := false
		for _, c := range cols {
			dup = dup || c == t
		}
		if !dup {
			cols = append(cols, t)
		}
	}
	return cols
}

// ReadAll implements offlinestore.TableReader: one row group at a time,
// each record filtered to the rows in the window.
func (s *Source) ReadAll(ctx context.Context, q offlinestore.Query, fn func(arrow.RecordBatch) error) error {
	files, readers, err := s.open()
	if err != nil {
		return err
	}
	defer closeReaders(readers)
	cols := tableColumns(q)
	sent := false
	for fi, fr := range readers {
		for rg := 0; rg < fr.ParquetReader().NumRowGroups(); rg++ {
			err := readRowGroup(ctx, fr, files[fi], rg, cols, func(rec arrow.RecordBatch) error {
				tsOf, _, err := timeReaders(rec, q, files[fi])
				if err != nil {
					return err
				}
				var keep []int64
				for i := 0; i < int(rec.NumRows()); i++ {
					if ts, ok := tsOf(i); ok && q.InWindow(ts) {
						keep = append(keep, int64(i))
					}
				}
				if len(keep) == 0 {
					return nil
				}
				sent = true
				return emitRows(ctx, rec, cols, q, keep, fn)
			})
			if err != nil {
				return err
			}
		}
	}
	if !sent {
		return emitEmpty(readers[0], files[0], cols, q, fn)
	}
	return nil
}

// ReadLatest implements offlinestore.TableReader with PullLatest's pass
// one; pass two gathers the winning rows of each record as Arrow.
func (s *Source) ReadLatest(ctx context.Context, q offlinestore.Query, fn func(arrow.RecordBatch) error) error {
	files, readers, err := s.open()
	if err != nil {
		return err
	}
	defer closeReaders(readers)
	ords, spans, err := latestRows(ctx, readers, files, q)
	if err != nil {
		return err
	}
	cols := tableColumns(q)
	if len(ords) == 0 {
		return emitEmpty(readers[0], files[0], cols, q, fn)
	}
	for sp, next := 0, 0; next < len(ords); {
		for sp+1 < len(spans) && spans[sp+1].start <= ords[next] {
			sp++
		}
		fi, rg := spans[sp].file, spans[sp].rowGroup
		row := spans[sp].start
		err := readRowGroup(ctx, readers[fi], files[fi], int(rg), cols, func(rec arrow.RecordBatch) error {
			start, end := row, row+rec.NumRows()
			row = end
			var keep []int64
			for next < len(ords) && ords[next] < end {
				keep = append(keep, ords[next]-start)
				next++
			}
			if len(keep) == 0 {
				return nil
			}
			return emitRows(ctx, rec, cols, q, keep, fn)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// emitRows hands fn the rows keep of rec, in batches of at most q.Size().
func emitRows(ctx context.Context, rec arrow.RecordBatch, cols []string, q offlinestore.Query, keep []int64, fn func(arrow.RecordBatch) error) error {
	for len(keep) > 0 {
		n := min(len(keep), q.Size())
		if err := emitTake(ctx, rec, cols, q, keep[:n], fn); err != nil {
			return err
		}
		keep = keep[n:]
	}
	return nil
}

func emitTake(ctx context.Context, rec arrow.RecordBatch, cols []string, q offlinestore.Query, keep []int64, fn func(arrow.RecordBatch) error) error {
	ib := array.NewInt64Builder(memory.DefaultAllocator)
	ib.AppendValues(keep, nil)
	idx := ib.NewArray()
	ib.Release()
	defer idx.Release()
	arrs := make([]arrow.Array, 0, len(cols))
	defer func() {
		for _, a := range arrs {
			a.Release()
		}
	}()
	fields := make([]arrow.Field, len(cols))
	for i, name := range cols {
		var a arrow.Array
		if int64(len(keep)) == rec.NumRows() {
			a = column(rec, name)
			a.Retain()
		} else {
			var err error
			if a, err = compute.TakeArray(ctx, column(rec, name), idx); err != nil {
				return fmt.Errorf("parquet: column %q: %w", name, err)
			}
		}
		if isTimeColumn(name, q) {
			a = timestampUTC(a)
		}
		arrs = append(arrs, a)
		f := rec.Schema().Field(rec.Schema().FieldIndices(name)[0])
		fields[i] = cleanField(arrow.Field{Name: f.Name, Type: a.DataType(), Nullable: true, Metadata: f.Metadata})
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(len(keep)))
	defer out.Release()
	return fn(out)
}

// emitEmpty hands fn one 0-row batch with the columns' types, read from
// the first file's schema.
func emitEmpty(fr *pqarrow.FileReader, path string, cols []string, q offlinestore.Query, fn func(arrow.RecordBatch) error) error {
	s, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("parquet %s: %w", path, err)
	}
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	defer func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i, name := range cols {
		idx := s.FieldIndices(name)
		if len(idx) == 0 {
			return fmt.Errorf("parquet %s: no column %q (columns: %s)", path, name, strings.Join(fieldNames(s), ", "))
		}
		f := cleanField(s.Field(idx[0]))
		a := array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, 0)
		if isTimeColumn(name, q) {
			a = timestampUTC(a)
		}
		arrs[i] = a
		fields[i] = arrow.Field{Name: name, Type: a.DataType(), Nullable: true, Metadata: f.Metadata}
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, 0)
	defer out.Release()
	return fn(out)
}

func isTimeColumn(name string, q offlinestore.Query) bool {
	return name == q.TimestampColumn || (q.CreatedColumn != "" && name == q.CreatedColumn)
}

// timestampUTC relabels a naive timestamp column as UTC (the instants are
// the same), taking over a's reference; other arrays come back as they
// are.
func timestampUTC(a arrow.Array) arrow.Array {
	tt, ok := a.DataType().(*arrow.TimestampType)
	if !ok || tt.TimeZone == "UTC" {
		return a
	}
	d := a.Data()
	nd := array.NewData(&arrow.TimestampType{Unit: tt.Unit, TimeZone: "UTC"}, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
	out := array.MakeFromData(nd)
	nd.Release()
	a.Release()
	return out
}

// ColumnTypes implements offlinestore.ColumnLister with the names pyarrow
// gives the types of the first file's schema, as Feast's FileSource does.
func (s *Source) ColumnTypes(_ context.Context) ([]offlinestore.ColumnType, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	sc, err := fileSchema(files[0])
	if err != nil {
		return nil, err
	}
	out := make([]offlinestore.ColumnType, sc.NumFields())
	for i, f := range sc.Fields() {
		out[i] = offlinestore.ColumnType{Name: f.Name, Type: PyArrowTypeName(f.Type)}
	}
	return out, nil
}

// PyArrowTypeName names an Arrow type as pyarrow's str(type) does
// ("double", "string", "timestamp[us, tz=UTC]", "list<element: int64>").
func PyArrowTypeName(t arrow.DataType) string {
	switch t := t.(type) {
	case *arrow.Float64Type:
		return "double"
	case *arrow.Float32Type:
		return "float"
	case *arrow.Float16Type:
		return "halffloat"
	case *arrow.StringType:
		return "string"
	case *arrow.LargeStringType:
		return "large_string"
	case *arrow.StringViewType:
		return "string_view"
	case *arrow.BinaryType:
		return "binary"
	case *arrow.LargeBinaryType:
		return "large_binary"
	case *arrow.Date32Type:
		return "date32[day]"
	case *arrow.Date64Type:
		return "date64[ms]"
	case *arrow.TimestampType:
		if t.TimeZone == "" {
			return fmt.Sprintf("timestamp[%s]", t.Unit)
		}
		return fmt.Sprintf("timestamp[%s, tz=%s]", t.Unit, t.TimeZone)
	case *arrow.ListType:
		return fmt.Sprintf("list<%s: %s>", t.ElemField().Name, pyField(t.ElemField()))
	case *arrow.LargeListType:
		return fmt.Sprintf("large_list<%s: %s>", t.ElemField().Name, pyField(t.ElemField()))
	case *arrow.StructType:
		parts := make([]string, t.NumFields())
		for i, f := range t.Fields() {
			parts[i] = f.Name + ": " + pyField(f)
		}
		return "struct<" + strings.Join(parts, ", ") + ">"
	}
	return t.String()
}

// pyField is a nested field's type as pyarrow prints it: " not null"
// follows a non-nullable one.
func pyField(f arrow.Field) string {
	if f.Nullable {
		return PyArrowTypeName(f.Type)
	}
	return PyArrowTypeName(f.Type) + " not null"
}
