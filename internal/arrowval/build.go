package arrowval

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
)

// TypeOf is the Arrow type of a column of Feast value type t, as Feast's
// feast_value_type_to_pa maps it; ok is false for the types it has no
// Arrow column for.
func TypeOf(t core.ValueType) (arrow.DataType, bool) {
	if t.IsList() || t.IsSet() {
		elem, ok := TypeOf(t.Elem())
		if !ok {
			return nil, false
		}
		return arrow.ListOf(elem), true
	}
	switch t {
	case core.Int32:
		return arrow.PrimitiveTypes.Int32, true
	case core.Int64:
		return arrow.PrimitiveTypes.Int64, true
	case core.Float:
		return arrow.PrimitiveTypes.Float32, true
	case core.Double:
		return arrow.PrimitiveTypes.Float64, true
	case core.Bool:
		return arrow.FixedWidthTypes.Boolean, true
	case core.String:
		return arrow.BinaryTypes.String, true
	case core.Bytes:
		return arrow.BinaryTypes.Binary, true
	case core.UnixTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, true
	}
	return nil, false
}

// Build makes an Arrow column of type TypeOf(t) from vals; an invalid
// (null) value is a null cell. A value whose kind does not fit t is an
// error naming the row.
func Build(t core.ValueType, vals []core.Value) (arrow.Array, error) {
	dt, ok := TypeOf(t)
	if !ok {
		return nil, fmt.Errorf("value type %s has no Arrow column", t)
	}
	b := array.NewBuilder(memory.DefaultAllocator, dt)
	defer b.Release()
	b.Reserve(len(vals))
	for i, v := range vals {
		if err := appendValue(b, v); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
	}
	return b.NewArray(), nil
}

func appendValue(b array.Builder, v core.Value) error {
	if v.IsNull() {
		b.AppendNull()
		return nil
	}
	switch b := b.(type) {
	case *array.Int32Builder:
		b.Append(int32(v.I))
	case *array.Int64Builder:
		b.Append(v.I)
	case *array.Float32Builder:
		b.Append(float32(asFloat(v)))
	case *array.Float64Builder:
		b.Append(asFloat(v))
	case *array.BooleanBuilder:
		b.Append(v.I != 0)
	case *array.StringBuilder:
		b.Append(v.S)
	case *array.BinaryBuilder:
		b.Append([]byte(v.S))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.I * 1_000_000))
	case *array.ListBuilder:
		b.Append(true)
		for _, e := range v.List {
			if err := appendValue(b.ValueBuilder(), e); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("value of type %s does not fit a %s column", v.Type, b.Type())
	}
	return nil
}

// asFloat reads a number as a float: an integer value in a float column
// (a UDF returned 1 for a Float64 output) keeps its value.
func asFloat(v core.Value) float64 {
	switch v.Type {
	case core.Int32, core.Int64:
		return float64(v.I)
	}
	return v.F
}

// Append adds v to b, a builder of a TypeOf column, as Build does for each
// value; a value whose kind does not fit is an error.
func Append(b array.Builder, v core.Value) error { return appendValue(b, v) }
