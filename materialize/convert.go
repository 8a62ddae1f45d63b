package materialize

import (
	"fmt"
	"strconv"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/internal/pyfmt"
	"github.com/feastgo/feastgo/typemap"
)

// convert turns a cell read from an offline source into the Value Feast
// writes for a feature or join key declared as want, following
// type_map.python_values_to_proto_values on what Arrow hands it:
//
//   - a null, and a NaN float, become an empty Value, except for
//     UNIX_TIMESTAMP, where a null becomes pyconv.NullTimestamp;
//   - FLOAT values are rounded to float32 (done by core.AppendValueProto);
//   - integers truncate floats toward zero; STRING prints numbers and bools
//     with Python's str(); timestamps are whole seconds, rounded down;
//   - list elements follow Feast's null defaults: "" for strings, b"" for
//     bytes, False for bools, NaN for floats (numpy's), pyconv.NullTimestamp for
//     timestamps. Feast fails on a null inside an integer list; 0 is written.
//
// Feast defects not copied: an INT64 column holding a null loses precision
// above 2^53 in Feast (numpy widens it to float64); here it stays exact. A
// float32 column declared DOUBLE, which Feast rejects, is widened exactly.
func convert(v core.Value, want core.ValueType) (core.Value, error) {
	if want.IsList() {
		return convertList(v, want)
	}
	if typemap.IsComplex(want) {
		return typemap.Complex(v, want, convert)
	}
	if v.IsNull() {
		if want == core.UnixTimestamp {
			return core.Value{Type: core.UnixTimestamp, I: pyconv.NullTimestamp}, nil
		}
		return core.Value{}, nil
	}
	if v.Type.IsList() {
		// Feast treats array-like values in a scalar column as nulls.
		return core.Value{}, nil
	}
	isFloat := v.Type == core.Double || v.Type == core.Float
	if isFloat && pyconv.IsNull(v.F) {
		if want == core.UnixTimestamp {
			return core.Value{Type: core.UnixTimestamp, I: pyconv.NullTimestamp}, nil
		}
		return core.Value{}, nil
	}
	switch want {
	case core.Int64, core.Int32, core.UnixTimestamp:
		i := v.I
		switch {
		case isFloat:
			n, ok := pyconv.FloatToInt64(v.F) // Python's int() truncates toward zero
			if !ok {
				return core.Value{}, fmt.Errorf("%s cannot be converted to an integer", pyfmt.Float(v.F))
			}
			i = n
		case v.Type == core.String || v.Type == core.Bytes:
			n, err := pyconv.ParseInt(v.S) // Python's int(str)
			if err != nil {
				return core.Value{}, fmt.Errorf("%q is not an integer", v.S)
			}
			i = n
		}
		if want == core.Int32 && !pyconv.FitsInt32(i) {
			return core.Value{}, fmt.Errorf("%d is out of range for INT32", i)
		}
		return core.Value{Type: want, I: i}, nil
	case core.Double, core.Float:
		f := v.F
		switch {
		case isFloat:
		case v.Type == core.String || v.Type == core.Bytes:
			return core.Value{}, fmt.Errorf("string %q is not a number", v.S)
		default:
			f = float64(v.I)
		}
		return core.Value{Type: want, F: f}, nil
	case core.String:
		switch {
		case v.Type == core.String:
			return v, nil
		case isFloat:
			return core.StringValue(pyfmt.Float(v.F)), nil
		case v.Type == core.Bool:
			return core.StringValue(pyfmt.Bool(v.I != 0)), nil
		case v.Type == core.Int32 || v.Type == core.Int64:
			return core.StringValue(strconv.FormatInt(v.I, 10)), nil
		}
		return core.Value{}, fmt.Errorf("a %s value cannot be converted to STRING", v.Type)
	case core.Bytes:
		if v.Type == core.Bytes || v.Type == core.String {
			return core.Value{Type: core.Bytes, S: v.S}, nil
		}
		return core.Value{}, fmt.Errorf("a %s value cannot be converted to BYTES", v.Type)
	case core.Bool:
		switch {
		case v.Type == core.Bool, v.Type == core.Int32, v.Type == core.Int64:
			return core.BoolValue(v.I != 0), nil
		}
		return core.Value{}, fmt.Errorf("a %s value cannot be converted to BOOL", v.Type)
	}
	return core.Value{}, fmt.Errorf("materializing %s values is not supported", want)
}

// convertList converts a list cell; elements are converted in place (the
// cell's element slice belongs to the current batch).
func convertList(v core.Value, want core.ValueType) (core.Value, error) {
	if v.IsNull() {
		return core.Value{}, nil
	}
	if !v.Type.IsList() {
		return core.Value{}, fmt.Errorf("a %s value is not a list", v.Type)
	}
	elem := want.Elem()
	for i, e := range v.List {
		if e.IsNull() {
			switch elem {
			case core.Double, core.Float:
				e = core.Value{Type: elem, F: pyconv.NaN}
			case core.UnixTimestamp:
				e = core.Value{Type: elem, I: pyconv.NullTimestamp}
			default:
				e = core.Value{Type: elem}
			}
			v.List[i] = e
			continue
		}
		c, err := convert(e, elem)
		if err != nil {
			return core.Value{}, fmt.Errorf("list element %d: %w", i, err)
		}
		if c.IsNull() { // a NaN element stays NaN inside a list
			c = core.Value{Type: elem, F: e.F}
		}
		v.List[i] = c
	}
	v.Type = want
	return v, nil
}
