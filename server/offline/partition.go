package offline

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
)

// partition splits the logged rows of write_logged_features by the values
// of the destination's partition_by columns, as pyarrow's write_dataset
// with partitioning=[names] (directory partitioning) lays them out, which
// Feast's file store calls: one group per distinct tuple of values, in the
// order the tuples first appear, under dir/<value of the first>/<value of
// the second>/…, each group holding the rows in their order and every
// column but the partition columns.
//
// Values are formatted as pyarrow casts them to strings (partFormatter). A
// null value ends the path (the rows of an all-null tuple go to dir
// itself); a non-null value after a null is pyarrow's error. A value that
// would leave dir (a "..", or an absolute path) is refused, where pyarrow
// would write outside the destination.
func partition(ctx context.Context, frame arrow.RecordBatch, dir string, by []string) ([]partGroup, error) {
	sch := frame.Schema()
	cols := make([]arrow.Array, len(by))
	format := make([]func(int) string, len(by))
	for i, name := range by {
		idx := sch.FieldIndices(name)
		if len(idx) == 0 {
			return nil, core.Invalidf("partition_by: column %q is not in the logged rows (columns: %s)", name, strings.Join(fieldNames(sch), ", "))
		}
		cols[i] = frame.Column(idx[0])
		f, err := partFormatter(cols[i])
		if err != nil {
			return nil, core.Invalidf("partition_by: column %q: %v", name, err)
		}
		format[i] = f
	}
	var groups []partGroup
	index := map[string]int{}
	segs := make([]string, 0, len(by))
	for row := 0; row < int(frame.NumRows()); row++ {
		segs = segs[:0]
		nullAt := -1
		for i, c := range cols {
			if c.IsNull(row) {
				if nullAt < 0 {
					nullAt = i
				}
				continue
			}
			if nullAt >= 0 {
				return nil, core.Invalidf("partition_by: No partition key for %s but a key was provided subsequently for %s (row %d)", by[nullAt], by[i], row)
			}
			v := format[i](row)
			if err := safeSegment(v); err != nil {
				return nil, core.Invalidf("partition_by: column %q, row %d: %v", by[i], row, err)
			}
			segs = append(segs, v)
		}
		key := strings.Join(segs, "\x00")
		g, ok := index[key]
		if !ok {
			g = len(groups)
			index[key] = g
			groups = append(groups, partGroup{dir: filepath.Join(append([]string{dir}, segs...)...)})
		}
		groups[g].rows = append(groups[g].rows, int64(row))
	}

	keep := make([]int, 0, len(sch.Fields()))
	for i, f := range sch.Fields() {
		if !slices.Contains(by, f.Name) {
			keep = append(keep, i)
		}
	}
	fields := make([]arrow.Field, len(keep))
	for j, i := range keep {
		fields[j] = sch.Field(i)
	}
	out := arrow.NewSchema(fields, nil)
	for gi := range groups {
		g := &groups[gi]
		b := array.NewInt64Builder(memory.DefaultAllocator)
		b.AppendValues(g.rows, nil)
		idx := b.NewArray()
		b.Release()
		arrs := make([]arrow.Array, len(keep))
		for j, i := range keep {
			a, err := compute.TakeArray(ctx, frame.Column(i), idx)
			if err != nil {
				idx.Release()
				releaseGroups(groups)
				for _, a := range arrs[:j] {
					a.Release()
				}
				return nil, fmt.Errorf("partition_by: column %q: %w", sch.Field(i).Name, err)
			}
			arrs[j] = a
		}
		idx.Release()
		g.rec = array.NewRecordBatch(out, arrs, int64(len(g.rows)))
		for _, a := range arrs {
			a.Release()
		}
	}
	return groups, nil
}

// partGroup is one directory's rows of a partitioned write.
type partGroup struct {
	dir  string
	rows []int64
	rec  arrow.RecordBatch
}

func releaseGroups(gs []partGroup) {
	for _, g := range gs {
		if g.rec != nil {
			g.rec.Release()
		}
	}
}

func fieldNames(s *arrow.Schema) []string {
	out := make([]string, 0, len(s.Fields()))
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

// safeSegment refuses a partition value that would take the path out of
// the destination directory.
func safeSegment(v string) error {
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, `\`) {
		return fmt.Errorf("the value %q would be an absolute path", v)
	}
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return fmt.Errorf("the value %q would leave the destination directory", v)
		}
	}
	return nil
}

// partFormatter returns the formatter of a's path segments as pyarrow's
// directory partitioning writes them (Arrow's cast to string): integers in
// decimal, booleans true/false, dates as YYYY-MM-DD, timestamps as
// "YYYY-MM-DD hh:mm:ss" with the unit's digits of fraction (a time zone
// makes it the UTC instant with a "Z"), floats as Arrow formats them,
// strings and binary as they are. Other types are an error.
func partFormatter(a arrow.Array) (func(row int) string, error) {
	switch c := a.(type) {
	case *array.Int8:
		return func(r int) string { return strconv.FormatInt(int64(c.Value(r)), 10) }, nil
	case *array.Int16:
		return func(r int) string { return strconv.FormatInt(int64(c.Value(r)), 10) }, nil
	case *array.Int32:
		return func(r int) string { return strconv.FormatInt(int64(c.Value(r)), 10) }, nil
	case *array.Int64:
		return func(r int) string { return strconv.FormatInt(c.Value(r), 10) }, nil
	case *array.Uint8:
		return func(r int) string { return strconv.FormatUint(uint64(c.Value(r)), 10) }, nil
	case *array.Uint16:
		return func(r int) string { return strconv.FormatUint(uint64(c.Value(r)), 10) }, nil
	case *array.Uint32:
		return func(r int) string { return strconv.FormatUint(uint64(c.Value(r)), 10) }, nil
	case *array.Uint64:
		return func(r int) string { return strconv.FormatUint(c.Value(r), 10) }, nil
	case *array.Float32:
		return func(r int) string { return arrowFloat(float64(c.Value(r)), 32) }, nil
	case *array.Float64:
		return func(r int) string { return arrowFloat(c.Value(r), 64) }, nil
	case *array.Boolean:
		return func(r int) string { return strconv.FormatBool(c.Value(r)) }, nil
	case *array.String:
		return c.Value, nil
	case *array.LargeString:
		return c.Value, nil
	case *array.Binary:
		return func(r int) string { return string(c.Value(r)) }, nil
	case *array.Date32:
		return func(r int) string { return c.Value(r).ToTime().Format(time.DateOnly) }, nil
	case *array.Date64:
		return func(r int) string { return c.Value(r).ToTime().Format(time.DateOnly) }, nil
	case *array.Timestamp:
		tt := c.DataType().(*arrow.TimestampType)
		layout := "2006-01-02 15:04:05" + map[arrow.TimeUnit]string{
			arrow.Millisecond: ".000", arrow.Microsecond: ".000000", arrow.Nanosecond: ".000000000"}[tt.Unit]
		if tt.TimeZone != "" {
			layout += "Z"
		}
		return func(r int) string { return c.Value(r).ToTime(tt.Unit).UTC().Format(layout) }, nil
	}
	return nil, fmt.Errorf("partitioning by a %s column is not supported", a.DataType())
}

// arrowFloat formats f as Arrow's cast to string does: the shortest
// digits that read back to f, in plain decimal for decimal exponents -6 to
// 9 and as d.ddde±x (no padding of the exponent) outside, "nan", "inf"
// and "-inf".
func arrowFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0:
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	sci := strconv.FormatFloat(f, 'e', -1, bits)
	mant, exp, _ := strings.Cut(sci, "e")
	e, _ := strconv.Atoi(exp)
	if e >= -6 && e <= 9 {
		return strconv.FormatFloat(f, 'f', -1, bits)
	}
	sign := "+"
	if e < 0 {
		sign, e = "-", -e
	}
	return mant + "e" + sign + strconv.Itoa(e)
}
