package online

import (
	"math"
	"strconv"

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
			n, err := pyconv.ParseInt(v.S)
			if err != nil {
				return bad()
			}
			i = n
		default:
			return bad()
		}
		if to == core.Int32 && !pyconv.FitsInt32(i) {
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
			return core.StringValue(pyfmt.Bool(v.I != 0)), nil
		}
		return bad()
	case core.Float:
		switch v.Type {
		case core.Int64, core.Int32, core.Bool:
			return core.Value{Type: core.Float, F: pyconv.Widen32(float64(v.I))}, nil
		case core.Double:
			return core.Value{Type: core.Float, F: pyconv.Widen32(v.F)}, nil
		case core.String:
			f, ok := pyconv.ParseFloat(v.S)
			if !ok {
				return bad()
			}
			return core.Value{Type: core.Float, F: pyconv.Widen32(f)}, nil
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

// requestField is a request field of a python-mode on-demand view: its
// declared type and the request source declaring it.
type requestField struct {
	typ    core.ValueType
	source string
}

// checkRequestColumn refuses request data a python-mode view cannot have
// been written for: a value of another kind than its request source
// declares (a string for an Array(Int64), a list for an Int64). Feast
// hands such values to the UDF, which fails (500) or computes from them;
// it is the caller's mistake, so it is a 400 naming the column, before
// any evaluation or delegation. Values are not converted: the UDF sees
// them typed as Feast types request data (by inference), so an integer
// is accepted for a Float64 and stays an integer. Types a JSON or proto
// request cannot tell apart (maps, sets, JSON, nested lists) are not
// checked.
func checkRequestColumn(field string, c Column, rf requestField) error {
	t := rf.typ
	if !t.IsList() && !isCheckedScalar(t) {
		return nil
	}
	for r, v := range c.Values {
		if v.IsNull() {
			continue
		}
		at, got, want := "", v, t
		switch {
		case t.IsList() && (v.Type.IsList() || v.Type == core.UntypedList):
			for i, e := range v.List {
				if !e.IsNull() && !scalarFits(e, t.Elem()) {
					at, got, want = " element "+strconv.Itoa(i), e, t.Elem()
					break
				}
			}
			if at == "" {
				continue
			}
		case !t.IsList() && scalarFits(v, t):
			continue
		}
		return core.Invalidf("%s.%s: row %d%s is %s, not a %s (request source %s declares %s)",
			field, c.Name, r, at, describe(got), want, rf.source, t)
	}
	return nil
}

func isCheckedScalar(t core.ValueType) bool { return t >= core.Bytes && t <= core.UnixTimestamp }

// scalarFits reports whether a request value can stand for a scalar of
// type t: any number for a floating type, an integral one for an integer
// type, a string for STRING (or BYTES), a boolean for BOOL.
func scalarFits(v core.Value, t core.ValueType) bool {
	switch t {
	case core.Double, core.Float:
		switch v.Type {
		case core.Int64, core.Int32, core.Double, core.Float:
			return true
		}
	case core.Int64, core.Int32, core.UnixTimestamp:
		switch v.Type {
		case core.Int64, core.Int32, core.UnixTimestamp:
			return true
		case core.Double, core.Float:
			return v.F == math.Trunc(v.F)
		}
	case core.String:
		return v.Type == core.String
	case core.Bytes:
		return v.Type == core.Bytes || v.Type == core.String
	case core.Bool:
		return v.Type == core.Bool
	}
	return false
}
