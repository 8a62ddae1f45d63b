package arrowval

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/feastgo/feastgo/core"
)

// CellFn returns row i of a column as a core.Value: a null (also a null list
// element) as core.Invalid, a timestamp or date as whole UnixTimestamp
// seconds, a struct as a core.Struct, a list of lists as a
// core.ValueList. Strings point into the Arrow buffers and stay
// valid while the record is alive; list elements are carved out of *slab,
// which the caller resets per batch.
type CellFn func(i int) core.Value

// Cells builds the CellFn of one Arrow column and says which Value
// type its non-null cells have.
func Cells(arr arrow.Array, slab *[]core.Value) (CellFn, core.ValueType, error) {
	if get, typ, err := Scalar(arr); err == nil {
		return func(i int) core.Value {
			if arr.IsNull(i) {
				return core.Value{}
			}
			return get(i, typ)
		}, typ, nil
	}
	switch a := arr.(type) {
	case *array.Map:
		return nil, 0, fmt.Errorf("arrow type %s is not supported", arr.DataType())
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		fields := make([]CellFn, st.NumFields())
		for k := range fields {
			var err error
			if fields[k], _, err = Cells(a.Field(k), slab); err != nil {
				return nil, 0, fmt.Errorf("struct field %s: %w", st.Field(k).Name, err)
			}
		}
		return func(i int) core.Value {
			if a.IsNull(i) {
				return core.Value{}
			}
			kv := make([]core.Value, 0, 2*len(fields))
			for k, f := range fields {
				kv = append(kv, core.StringValue(st.Field(k).Name), f(i))
			}
			return core.Value{Type: core.Struct, List: kv}
		}, core.Struct, nil
	case array.ListLike:
		elems := a.ListValues()
		elemFn, elemType, err := Cells(elems, slab)
		if err != nil {
			return nil, 0, fmt.Errorf("list of %s: %w", elems.DataType(), err)
		}
		var listType core.ValueType
		switch {
		case elemType < core.BytesList:
			listType = elemType.ListOf()
		case elemType == core.Struct:
			listType = core.StructList
		default:
			listType = core.ValueList
		}
		flat := elemType < core.BytesList
		return func(i int) core.Value {
			if a.IsNull(i) {
				return core.Value{}
			}
			start, end := a.ValueOffsets(i)
			if !flat {
				// Inner cells append to the slab themselves: keep the
				// outer elements in a slice of their own.
				out := make([]core.Value, 0, end-start)
				for j := int(start); j < int(end); j++ {
					out = append(out, elemFn(j))
				}
				return core.Value{Type: listType, List: out}
			}
			from := len(*slab)
			for j := int(start); j < int(end); j++ {
				*slab = append(*slab, elemFn(j)) // a null element stays core.Invalid
			}
			return core.Value{Type: listType, List: (*slab)[from:len(*slab):len(*slab)]}
		}, listType, nil
	}
	return nil, 0, fmt.Errorf("arrow type %s is not supported", arr.DataType())
}

type Getter func(i int, t core.ValueType) core.Value

// Scalar returns the accessor of a non-null cell of a scalar column
// and the Value type it yields.
func Scalar(arr arrow.Array) (Getter, core.ValueType, error) {
	switch a := arr.(type) {
	case *array.Int8:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, I: int64(a.Value(i))} }, core.Int32, nil
	case *array.Int16:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, I: int64(a.Value(i))} }, core.Int32, nil
	case *array.Int32:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, I: int64(a.Value(i))} }, core.Int32, nil
	case *array.Int64:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, I: a.Value(i)} }, core.Int64, nil
	case *array.Uint8:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, I: int64(a.Value(i))} }, core.Int32, nil
	case *array.Uint16:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, I: int64(a.Value(i))} }, core.Int32, nil
	case *array.Uint32:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, I: int64(a.Value(i))} }, core.Int64, nil
	case *array.Uint64:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, I: int64(a.Value(i))} }, core.Int64, nil
	case *array.Float16:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, F: float64(a.Value(i).Float32())} }, core.Float, nil
	case *array.Float32:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, F: float64(a.Value(i))} }, core.Float, nil
	case *array.Float64:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, F: a.Value(i)} }, core.Double, nil
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, F: a.Value(i).ToFloat64(scale)} }, core.Double, nil
	case *array.Boolean:
		return func(i int, t core.ValueType) core.Value {
			if a.Value(i) {
				return core.Value{Type: t, I: 1}
			}
			return core.Value{Type: t}
		}, core.Bool, nil
	case *array.String:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, S: a.Value(i)} }, core.String, nil
	case *array.LargeString:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, S: a.Value(i)} }, core.String, nil
	case *array.StringView:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, S: a.Value(i)} }, core.String, nil
	case *array.Binary:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, S: a.ValueString(i)} }, core.Bytes, nil
	case *array.LargeBinary:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, S: a.ValueString(i)} }, core.Bytes, nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return func(i int, t core.ValueType) core.Value {
			return core.Value{Type: t, I: ToTimestamp(int64(a.Value(i)), unit).Seconds}
		}, core.UnixTimestamp, nil
	case *array.Date32:
		return func(i int, t core.ValueType) core.Value { return core.Value{Type: t, I: int64(a.Value(i)) * 86400} }, core.UnixTimestamp, nil
	case *array.Date64:
		return func(i int, t core.ValueType) core.Value {
			return core.Value{Type: t, I: ToTimestamp(int64(a.Value(i)), arrow.Millisecond).Seconds}
		}, core.UnixTimestamp, nil
	case *array.Dictionary:
		dict := a.Dictionary()
		get, typ, err := Scalar(dict)
		if err != nil {
			return nil, 0, err
		}
		return func(i int, t core.ValueType) core.Value {
			j := a.GetValueIndex(i)
			if dict.IsNull(j) {
				return core.Value{}
			}
			return get(j, t)
		}, typ, nil
	}
	return nil, 0, fmt.Errorf("arrow type %s is not supported", arr.DataType())
}

// TimeReader returns the accessor of an event or created time column: the
// exact instant (naive timestamps are UTC, as in Feast) and whether the cell
// is null.
func TimeReader(arr arrow.Array) (func(i int) (core.Timestamp, bool), error) {
	switch a := arr.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return func(i int) (core.Timestamp, bool) {
			if a.IsNull(i) {
				return core.Timestamp{}, false
			}
			return ToTimestamp(int64(a.Value(i)), unit), true
		}, nil
	case *array.Date32:
		return func(i int) (core.Timestamp, bool) {
			if a.IsNull(i) {
				return core.Timestamp{}, false
			}
			return core.Timestamp{Seconds: int64(a.Value(i)) * 86400}, true
		}, nil
	case *array.Date64:
		return func(i int) (core.Timestamp, bool) {
			if a.IsNull(i) {
				return core.Timestamp{}, false
			}
			return ToTimestamp(int64(a.Value(i)), arrow.Millisecond), true
		}, nil
	}
	return nil, fmt.Errorf("arrow type %s is not a timestamp or date", arr.DataType())
}

// ToTimestamp converts v units since the epoch, rounding down to the second
// like numpy's datetime64 casts.
func ToTimestamp(v int64, unit arrow.TimeUnit) core.Timestamp {
	per := int64(1)
	switch unit {
	case arrow.Millisecond:
		per = 1_000
	case arrow.Microsecond:
		per = 1_000_000
	case arrow.Nanosecond:
		per = 1_000_000_000
	}
	return splitUnits(v, per)
}

// Times converts a whole event or created time column into dst
// (reused): as TimeReader's accessor would, with nulls left as whatever
// the column holds (callers check validity). It spares the per-cell
// closure call and, for timestamps, divides by a constant.
func Times(arr arrow.Array, dst []core.Timestamp) ([]core.Timestamp, error) {
	n := arr.Len()
	if cap(dst) < n {
		dst = make([]core.Timestamp, n)
	}
	dst = dst[:n]
	switch a := arr.(type) {
	case *array.Timestamp:
		vals := a.TimestampValues()[:n]
		switch a.DataType().(*arrow.TimestampType).Unit {
		case arrow.Second:
			for i, v := range vals {
				dst[i] = core.Timestamp{Seconds: int64(v)}
			}
		case arrow.Millisecond:
			for i, v := range vals {
				dst[i] = splitUnits(int64(v), 1_000)
			}
		case arrow.Microsecond:
			for i, v := range vals {
				dst[i] = splitUnits(int64(v), 1_000_000)
			}
		default:
			for i, v := range vals {
				dst[i] = splitUnits(int64(v), 1_000_000_000)
			}
		}
		return dst, nil
	}
	get, err := TimeReader(arr)
	if err != nil {
		return nil, err
	}
	for i := range dst {
		dst[i], _ = get(i)
	}
	return dst, nil
}

// splitUnits converts v units of 1/per seconds, rounding down to the
// second; inlined with a constant per (as in Times), it divides by
// multiplying.
func splitUnits(v, per int64) core.Timestamp {
	s, r := v/per, v%per
	if r < 0 {
		s--
		r += per
	}
	return core.Timestamp{Seconds: s, Nanos: int32(r * (1_000_000_000 / per))}
}
