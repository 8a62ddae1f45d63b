package online

import (
	"math"
	"strconv"
	"strings"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/internal/pyfmt"
)

// coerce converts a request value to a join key's declared type with
// Python's rules, as Feast's python_values_to_proto_values does: int(x) for
// INT32/INT64/UNIX_TIMESTAMP, str(x) for STRING, float(x) for FLOAT, a type
// check for DOUBLE, BOOL and BYTES. A null stays null.
func coerce(v core.Value, to core.ValueType, column string) (core.Value, error) {
	if v.IsNull() || to == core.Invalid || v.Type == to {
		if to == core.Int32 && v.Type == core.Int32 {
			return v, nil
		}
		return v, nil
	}
	bad := func() (core.Value, error) {
		return core.Value{}, core.Invalidf("entities.%s: cannot convert %s to the join key's type %s", column, describe(v), to)
	}
	switch to {
	case core.Int64, core.Int32, core.UnixTimestamp:
		var i int64
		switch v.Type {
		case core.Int64, core.Int32, core.UnixTimestamp, core.Bool:
			i = v.I
		case core.Double, core.Float:
			n, ok := pyconv.FloatToInt64(v.F) // Python int() truncates toward zero
			if !ok {
				return bad()
			}
			i = n
		case core.String:
			n, err := strconv.ParseInt(strings.TrimSpace(strings.ReplaceAll(v.S, "_", "")), 10, 64)
			if err != nil {
				return bad()
			}
			i = n
		default:
			return bad()
		}
		if to == core.Int32 && (i < math.MinInt32 || i > math.MaxInt32) {
			return core.Value{}, core.Invalidf("entities.%s: %d does not fit the join key's type INT32", column, i)
		}
		return core.Value{Type: to, I: i}, nil
	case core.String:
		switch v.Type {
		case core.Int64, core.Int32, core.UnixTimestamp:
			return core.StringValue(strconv.FormatInt(v.I, 10)), nil
		case core.Double, core.Float:
			return core.StringValue(pyfmt.Float(v.F)), nil
		case core.Bool:
			if v.I != 0 {
				return core.StringValue("True"), nil
			}
			return core.StringValue("False"), nil
		}
		return bad()
	case core.Float:
		switch v.Type {
		case core.Int64, core.Int32, core.Bool:
			return core.Value{Type: core.Float, F: float64(float32(v.I))}, nil
		case core.Double:
			return core.Value{Type: core.Float, F: float64(float32(v.F))}, nil
		case core.String:
			f, err := strconv.ParseFloat(strings.TrimSpace(v.S), 64)
			if err != nil {
				return bad()
			}
			return core.Value{Type: core.Float, F: float64(float32(f))}, nil
		}
		return bad()
	case core.Double:
		switch v.Type {
		case core.Int64, core.Int32:
			return core.Value{Type: core.Double, F: float64(v.I)}, nil
		case core.Float:
			return core.Value{Type: core.Double, F: v.F}, nil
		}
		return bad()
	case core.Bool:
		if v.Type == core.Int64 || v.Type == core.Int32 {
			return core.BoolValue(v.I != 0), nil
		}
		return bad()
	}
	return bad()
}

func describe(v core.Value) string {
	switch v.Type {
	case core.String:
		return strconv.Quote(v.S)
	case core.Int64, core.Int32:
		return strconv.FormatInt(v.I, 10)
	case core.Double, core.Float:
		return pyfmt.Float(v.F)
	case core.Bool:
		return strconv.FormatBool(v.I != 0)
	}
	return "a value of type " + v.Type.String()
}
