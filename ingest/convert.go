package ingest

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/internal/pyfmt"
	"github.com/feastgo/feastgo/typemap"
)

// convertColumn converts a column to values of the declared type, following
// Feast's python_values_to_proto_values on what pandas and Arrow hand it.
// A null result is core.Value{} (an empty serialized Value). what names the
// target in error messages ("feature conv_rate of view v").
//
// Where Feast raises (a 500 from its server) this returns an
// invalid-argument error naming the column and row. Two Feast defects are
// not copied: floats written to UNIX_TIMESTAMP features become the
// truncated number (Feast writes INT64_MIN for every float), and ISO strings
// are accepted there (Feast fails on them).
func convertColumn(c *typedColumn, to core.ValueType, strs bool, what string) ([]core.Value, error) {
	out := make([]core.Value, len(c.Values))
	bad := func(i int, format string, args ...any) error {
		return core.Invalidf("df.%s[%d]: %s (%s is %s)", c.Name, i, fmt.Sprintf(format, args...), what, to)
	}
	if c.kind == kindNull {
		return out, nil
	}
	if c.arrow != nil || (c.kind == kindList && viaPython(to)) {
		return convertNested(c, to, bad)
	}
	if c.kind == kindFloat && to == core.JSON {
		// json.dumps of numpy floats: a null is NaN here, and stored so.
		for i, v := range c.Values {
			f := pyconv.NaN
			if !v.IsNull() {
				f = num(v)
			}
			b, _ := appendPyJSON(nil, pyVal{k: pkFloat, f: f})
			out[i] = core.Value{Type: core.JSON, S: string(b)}
		}
		return out, nil
	}
	if to == core.Struct && (c.kind == kindInt || c.kind == kindFloat || c.kind == kindBool) {
		// Feast stores {"_value": str(x)} for a numpy scalar (a null float
		// is NaN here: "nan").
		for i, v := range c.Values {
			var s string
			switch {
			case c.kind == kindBool && v.IsNull():
				continue
			case c.kind == kindBool:
				s = pyfmt.Bool(v.I != 0)
			case c.kind == kindInt:
				s = strconv.FormatInt(v.I, 10)
			case v.IsNull():
				s = "nan"
			default:
				s = pyfmt.Float(num(v))
			}
			out[i] = core.Value{Type: core.Struct, List: []core.Value{core.StringValue("_value"), core.StringValue(s)}}
		}
		return out, nil
	}
	if typemap.IsComplex(to) {
		return convertComplex(c, to, bad)
	}
	if to.IsList() {
		return convertList(c, to, bad)
	}
	if c.kind == kindList {
		// Feast treats array-like values in a scalar column as nulls.
		return out, nil
	}
	if c.kind == kindBytes && to != core.Bytes {
		return nil, bad(0, "bytes cannot be converted")
	}
	for i, v := range c.Values {
		if c.isNullAt(i) {
			continue
		}
		var err error
		if out[i], err = convertScalar(c.kind, v, to, strs); err != nil {
			return nil, bad(i, "%v", err)
		}
	}
	return out, nil
}

// viaPython reports the declared types whose rules for list columns
// depend on the Python values (json.dumps of numpy scalars, iteration of
// each element): those columns take convertNested.
func viaPython(to core.ValueType) bool {
	switch to {
	case core.JSONList, core.MapList, core.StructList, core.ValueList, core.ValueSet:
		return true
	}
	return false
}

func num(v core.Value) float64 {
	if v.Type == core.Double || v.Type == core.Float {
		if pyconv.IsNull(v.F) {
			return pyconv.NaN
		}
		return v.F
	}
	return float64(v.I)
}

func convertScalar(k kind, v core.Value, to core.ValueType, strs bool) (core.Value, error) {
	switch to {
	case core.Int64, core.Int32:
		var i int64
		switch k {
		case kindInt, kindBool:
			i = v.I
		case kindFloat:
			f := num(v)
			if math.IsInf(f, 0) {
				return core.Value{}, fmt.Errorf("cannot convert float infinity to integer")
			}
			n, ok := pyconv.FloatToInt64(f)
			if !ok {
				return core.Value{}, fmt.Errorf("%s is out of range", pyfmt.Float(f))
			}
			i = n
		case kindString:
			n, err := pyInt(v.S)
			if err != nil {
				return core.Value{}, err
			}
			i = n
		default:
			return core.Value{}, fmt.Errorf("a %s value cannot be converted", k)
		}
		if to == core.Int32 && !pyconv.FitsInt32(i) {
			return core.Value{}, fmt.Errorf("value out of range: %d", i)
		}
		return core.Value{Type: to, I: i}, nil
	case core.Float:
		switch k {
		case kindInt, kindBool, kindFloat:
			return core.Value{Type: core.Float, F: num(v)}, nil
		case kindString:
			f, err := pyFloat(v.S)
			if err != nil {
				return core.Value{}, err
			}
			return core.Value{Type: core.Float, F: f}, nil
		}
	case core.Double:
		switch k {
		case kindInt, kindFloat:
			return core.DoubleValue(num(v)), nil
		case kindString:
			if strs {
				f, err := pyFloat(v.S)
				if err != nil {
					return core.Value{}, err
				}
				return core.DoubleValue(f), nil
			}
		}
		return core.Value{}, fmt.Errorf("a %s value is not a number", k)
	case core.String:
		switch k {
		case kindInt:
			return core.StringValue(strconv.FormatInt(v.I, 10)), nil
		case kindFloat:
			return core.StringValue(pyfmt.Float(num(v))), nil
		case kindBool:
			return core.StringValue(pyfmt.Bool(v.I != 0)), nil
		case kindString:
			return v, nil
		}
	case core.Bool:
		switch k {
		case kindBool, kindInt:
			return core.BoolValue(v.I != 0), nil
		case kindString:
			if strs {
				switch strings.TrimSpace(strings.ToLower(v.S)) {
				case "true", "1":
					return core.BoolValue(true), nil
				case "false", "0":
					return core.BoolValue(false), nil
				}
			}
		}
		return core.Value{}, fmt.Errorf("a %s value is not a boolean", k)
	case core.UnixTimestamp:
		switch k {
		case kindInt, kindBool:
			return core.Value{Type: core.UnixTimestamp, I: v.I}, nil
		case kindFloat:
			f := num(v)
			n, ok := pyconv.FloatToInt64(f)
			if !ok {
				return core.Value{}, fmt.Errorf("%s is not a timestamp", pyfmt.Float(f))
			}
			return core.Value{Type: core.UnixTimestamp, I: n}, nil
		case kindString:
			if n, err := pyInt(v.S); err == nil {
				return core.Value{Type: core.UnixTimestamp, I: n}, nil
			}
			t, err := core.ParseTime(v.S)
			if err != nil {
				return core.Value{}, err
			}
			return core.Value{Type: core.UnixTimestamp, I: t.Seconds}, nil
		}
	case core.Bytes:
		if k == kindBytes {
			return v, nil
		}
		return core.Value{}, fmt.Errorf("a %s value is not bytes", k)
	default:
		return core.Value{}, core.Errorf(core.KindUnimplemented, "NotImplementedError", "writing %s values is not supported by this server", to)
	}
	return core.Value{}, fmt.Errorf("a %s value cannot be converted", k)
}

// convertComplex converts a column to a map, struct, JSON, set, UUID or
// decimal type with the rules materialization uses (package typemap): a
// request column holds what Arrow hands Feast for the same data (JSON text
// for maps and structs sent as strings, as Feast's remote online store
// sends them; struct cells for objects). Set elements follow this
// package's list rule, with the element type of the whole column.
func convertComplex(c *typedColumn, to core.ValueType, bad func(int, string, ...any) error) ([]core.Value, error) {
	out := make([]core.Value, len(c.Values))
	list := func(v core.Value, want core.ValueType) (core.Value, error) {
		one := typedColumn{Column: Column{Name: c.Name, Values: []core.Value{v}}, kind: kindList, elem: c.elem}
		vals, err := convertList(&one, want, func(_ int, format string, args ...any) error { return fmt.Errorf(format, args...) })
		if err != nil {
			return core.Value{}, err
		}
		return vals[0], nil
	}
	for i, v := range c.Values {
		if c.isNullAt(i) {
			continue
		}
		if c.kind == kindList {
			// The request parser types a list by its first element (none
			// for [] or [null, ...]); Arrow gives the column's.
			v.Type = c.elem.listType()
		}
		x, err := typemap.Complex(v, to, list)
		if err != nil {
			return nil, bad(i, "%v", err)
		}
		out[i] = x
	}
	return out, nil
}

// listType is the list type Arrow gives lists of k elements (list<null>
// reads as strings: the elements are all null, or there are none).
func (k kind) listType() core.ValueType {
	switch k {
	case kindInt:
		return core.Int64List
	case kindFloat:
		return core.DoubleList
	case kindBool:
		return core.BoolList
	case kindBytes:
		return core.BytesList
	}
	return core.StringList
}

// convertList converts a list column. Arrow gives every list of the column
// one element type, and Feast checks it against the declared element type.
func convertList(c *typedColumn, to core.ValueType, bad func(int, string, ...any) error) ([]core.Value, error) {
	out := make([]core.Value, len(c.Values))
	if c.kind != kindList {
		for i := range c.Values {
			if !c.isNullAt(i) {
				return nil, bad(i, "a %s value is not a list", c.kind)
			}
		}
		return out, nil
	}
	elem := to.Elem()
	ok := c.elem == kindNull
	switch elem {
	case core.Double, core.Float:
		ok = ok || c.elem == kindFloat
	case core.Int64, core.Int32, core.UnixTimestamp:
		ok = ok || c.elem == kindInt
	case core.String:
		ok = ok || c.elem == kindString
	case core.Bool:
		ok = ok || c.elem == kindBool
	case core.Bytes:
		ok = ok || c.elem == kindBytes
	}
	for i, v := range c.Values {
		if v.IsNull() {
			continue
		}
		if !ok {
			return nil, bad(i, "the lists hold %s elements", c.elem)
		}
		l := core.Value{Type: to, List: make([]core.Value, len(v.List))}
		for j, e := range v.List {
			switch {
			case e.IsNull() && (elem == core.Double || elem == core.Float):
				// Arrow hands a null float element over as NaN.
				l.List[j] = core.Value{Type: elem, F: pyconv.NaN}
			case e.IsNull() && (elem == core.String || elem == core.Bool || elem == core.Bytes):
				l.List[j] = core.Value{Type: elem} // Feast's per-type default
			case e.IsNull():
				return nil, bad(i, "element %d is null; integer lists cannot hold nulls", j)
			case elem == core.Double || elem == core.Float:
				l.List[j] = core.Value{Type: elem, F: num(e)}
			case elem == core.Int32 && !pyconv.FitsInt32(e.I):
				return nil, bad(i, "element %d: value out of range: %d", j, e.I)
			default:
				e.Type = elem
				l.List[j] = e
			}
		}
		out[i] = l
	}
	return out, nil
}

// pyInt is Python's int(str) (pyconv.ParseInt) with Python's messages.
func pyInt(s string) (int64, error) {
	n, err := pyconv.ParseInt(s)
	switch err {
	case nil:
		return n, nil
	case pyconv.ErrRange:
		return 0, fmt.Errorf("%s does not fit in 64 bits", strings.TrimSpace(s))
	}
	return 0, fmt.Errorf("invalid literal for int() with base 10: %s", strconv.Quote(s))
}

// pyFloat is Python's float(str) (pyconv.ParseFloat) with Python's message.
func pyFloat(s string) (float64, error) {
	f, ok := pyconv.ParseFloat(s)
	if !ok {
		return 0, fmt.Errorf("could not convert string to float: %s", strconv.Quote(s))
	}
	return f, nil
}

// eventTimes converts a timestamp column as pd.to_datetime does and then
// truncates to microseconds, as Feast's trip through Python datetimes does.
// Integers and floats count nanoseconds since the epoch (pandas' unit).
// nullOK allows nulls (created timestamps); they come back as zero.
func eventTimes(c *typedColumn, what string, nullOK bool) ([]core.Timestamp, error) {
	out := make([]core.Timestamp, len(c.Values))
	for i, v := range c.Values {
		if c.isNullAt(i) {
			if !nullOK {
				return nil, core.Invalidf("df.%s[%d]: the %s is null", c.Name, i, what)
			}
			continue
		}
		var t core.Timestamp
		switch c.kind {
		case kindString:
			var err error
			if t, err = core.ParseTime(v.S); err != nil {
				return nil, core.Invalidf("df.%s[%d]: %v (the %s)", c.Name, i, err, what)
			}
		case kindInt:
			if v.Type == core.UnixTimestamp {
				// A typed UNIX_TIMESTAMP (gRPC) says seconds; pandas
				// would read the number as nanoseconds.
				t = core.Timestamp{Seconds: v.I}
				break
			}
			t = core.Timestamp{Seconds: floorDiv(v.I, 1e9), Nanos: int32(v.I - floorDiv(v.I, 1e9)*1e9)}
		case kindFloat:
			f := num(v)
			n, ok := pyconv.FloatToInt64(f)
			if !ok {
				return nil, core.Invalidf("df.%s[%d]: %s is out of the timestamp range (the %s)", c.Name, i, pyfmt.Float(f), what)
			}
			t = core.Timestamp{Seconds: floorDiv(n, 1e9), Nanos: int32(n - floorDiv(n, 1e9)*1e9)}
		default:
			return nil, core.Invalidf("df.%s[%d]: a %s value is not a timestamp (the %s)", c.Name, i, c.kind, what)
		}
		out[i] = t.Micros()
	}
	return out, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
