package ingest

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/internal/pyfmt"
	"github.com/feastgo/feastgo/typemap"
)

// ObjectValue is the type of a JSON object in a request frame: List holds
// its keys (strings) and values alternately, in order, each key once.
const ObjectValue = core.Map

// Columns holding JSON objects or lists of lists (or of objects) take the
// way Feast's write path gives them: pandas keeps the Python dicts and
// lists, pyarrow types the column (a struct has every key any row has, in
// the order first seen, a missing key null; nested lists and struct fields
// are typed over all rows), to_numpy hands dicts and ndarrays to
// python_values_to_proto_values, and that function's rules for the
// declared type decide what is stored. This file models each step.

// atype is the Arrow type inferred for a column or a part of one.
type atype struct {
	k      kind
	elem   *atype   // kindList
	fields []afield // kindStruct, in the order first seen
	n      int      // non-null values seen (structs: objects)
	nulls  bool     // the flattened array at this place has a null
}

type afield struct {
	name string
	t    *atype
}

// isNaN reports a float NaN, which pandas and from_pandas take as null.
func isNaN(v core.Value) bool {
	return (v.Type == core.Double || v.Type == core.Float) && pyconv.IsNull(v.F)
}

// observe merges one value into t, as pyarrow's type inference does.
func (t *atype) observe(v core.Value, depth int) error {
	if depth > 66 {
		return errors.New("nesting too deep")
	}
	if v.IsNull() || isNaN(v) {
		t.nulls = true
		return nil
	}
	k, ok := scalarKind(v)
	if !ok {
		return fmt.Errorf("a %s value cannot be written", v.Type)
	}
	switch {
	case t.k == kindNull || t.k == k:
	case (t.k == kindList) != (k == kindList):
		return errors.New("lists and other values are mixed")
	case (t.k == kindStruct) != (k == kindStruct):
		return errors.New("objects and other values are mixed")
	default:
		u, ok := unify(t.k, k)
		if !ok {
			return fmt.Errorf("%s and %s values are mixed", t.k, k)
		}
		k = u
	}
	t.k = k
	t.n++
	switch k {
	case kindList:
		if t.elem == nil {
			t.elem = &atype{}
		}
		for _, e := range v.List {
			if err := t.elem.observe(e, depth+1); err != nil {
				return err
			}
		}
	case kindStruct:
		seen := make([]bool, len(t.fields), len(t.fields)+len(v.List)/2)
		for i := 0; i+1 < len(v.List); i += 2 {
			name := v.List[i].S
			j := 0
			for j < len(t.fields) && t.fields[j].name != name {
				j++
			}
			if j == len(t.fields) {
				// Rows before this one lack the key: null there.
				t.fields = append(t.fields, afield{name, &atype{nulls: t.n > 1}})
				seen = append(seen, false)
			}
			seen[j] = true
			if err := t.fields[j].t.observe(v.List[i+1], depth+1); err != nil {
				return fmt.Errorf("key %q: %w", name, err)
			}
		}
		for j, s := range seen {
			if !s {
				t.fields[j].t.nulls = true
			}
		}
	}
	return nil
}

// pyKind is the Python type of a value to_numpy hands over.
type pyKind uint8

const (
	pkNone    pyKind = iota
	pkInt            // int
	pkFloat          // float, or numpy.float64 (a float subclass)
	pkBool           // bool
	pkStr            // str
	pkBytes          // bytes
	pkDict           // dict: keys and items
	pkArray          // numpy.ndarray: items, and dtype
	pkNpInt64        // numpy.int64
	pkNpBool         // numpy.bool_
)

// pyVal is one Python value.
type pyVal struct {
	k     pyKind
	i     int64
	f     float64
	s     string
	keys  []string
	items []pyVal
	dtype pyKind // pkArray: pkNpInt64, pkFloat, pkNpBool, or pkNone (object)
}

var none = pyVal{}

// structItem converts a non-null value at a struct field or a top-level
// place: Python scalars, an int column with nulls as floats.
func structItem(t *atype, v core.Value) pyVal {
	if v.IsNull() || isNaN(v) {
		return none
	}
	switch t.k {
	case kindInt:
		if t.nulls {
			return pyVal{k: pkFloat, f: float64(v.I)}
		}
		return pyVal{k: pkInt, i: v.I}
	case kindFloat:
		return pyVal{k: pkFloat, f: num(v)}
	case kindBool:
		return pyVal{k: pkBool, i: v.I}
	case kindString:
		return pyVal{k: pkStr, s: v.S}
	case kindBytes:
		return pyVal{k: pkBytes, s: v.S}
	case kindList:
		return toArray(t.elem, v)
	case kindStruct:
		d := pyVal{k: pkDict, keys: make([]string, len(t.fields)), items: make([]pyVal, len(t.fields))}
		for j, f := range t.fields {
			d.keys[j] = f.name
			for i := 0; i+1 < len(v.List); i += 2 {
				if v.List[i].S == f.name {
					d.items[j] = structItem(f.t, v.List[i+1])
					break
				}
			}
		}
		return d
	}
	return none
}

// toArray converts a list to the ndarray to_numpy gives for elements of
// type elem: int64 (float64 with NaN when the column has a null there),
// float64, bool (object when nulls), else object.
func toArray(elem *atype, v core.Value) pyVal {
	a := pyVal{k: pkArray, items: make([]pyVal, len(v.List))}
	switch {
	case elem.k == kindInt && !elem.nulls:
		a.dtype = pkNpInt64
	case elem.k == kindInt || elem.k == kindFloat:
		a.dtype = pkFloat
	case elem.k == kindBool && !elem.nulls:
		a.dtype = pkNpBool
	}
	for i, e := range v.List {
		switch {
		case a.dtype == pkNpInt64:
			a.items[i] = pyVal{k: pkNpInt64, i: e.I}
		case a.dtype == pkFloat && (e.IsNull() || isNaN(e)):
			a.items[i] = pyVal{k: pkFloat, f: pyconv.NaN}
		case a.dtype == pkFloat:
			a.items[i] = pyVal{k: pkFloat, f: num(e)}
		case a.dtype == pkNpBool:
			a.items[i] = pyVal{k: pkNpBool, i: e.I}
		default:
			a.items[i] = structItem(elem, e)
		}
	}
	return a
}

// typeName is type(x).__name__ as Feast's messages show it.
func (x pyVal) typeName() string {
	return [...]string{"NoneType", "int", "float", "bool", "str", "bytes", "dict", "ndarray", "int64", "bool_"}[x.k]
}

// iter is list(x) / iteration over x: a dict gives its keys, a string its
// characters.
func (x pyVal) iter() ([]pyVal, error) {
	switch x.k {
	case pkArray:
		return x.items, nil
	case pkDict:
		out := make([]pyVal, len(x.keys))
		for i, k := range x.keys {
			out[i] = pyVal{k: pkStr, s: k}
		}
		return out, nil
	case pkStr:
		out := make([]pyVal, 0, len(x.s))
		for _, r := range x.s {
			out = append(out, pyVal{k: pkStr, s: string(r)})
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s value is not iterable", x.typeName())
}

// convertNested converts a column through the Python values Feast sees.
// STRUCT from anything but an object is refused: Feast stores
// {"_value": str(value)}, numpy's text of the array.
func convertNested(c *typedColumn, to core.ValueType, bad func(int, string, ...any) error) ([]core.Value, error) {
	t := c.arrowType()
	out := make([]core.Value, len(c.Values))
	for i, cell := range c.Values {
		x := structItem(t, cell)
		if x.k == pkNone {
			continue
		}
		var v core.Value
		var err error
		switch to {
		case core.Map, core.Struct:
			if x.k != pkDict {
				if to == core.Map {
					err = fmt.Errorf("expected dict for MAP type, got %s", x.typeName())
				} else {
					err = fmt.Errorf("a %s value cannot be stored as a STRUCT (send an object)", x.typeName())
				}
				break
			}
			v, err = dictToMap(x)
			v.Type = to
		case core.JSON:
			var b []byte
			if b, err = appendPyJSON(nil, x); err == nil {
				v = core.Value{Type: core.JSON, S: string(b)}
			}
		case core.JSONList:
			v, err = jsonList(x)
		case core.MapList:
			err = fmt.Errorf("expected list for MAP_LIST type, got %s (send each row as JSON text)", x.typeName())
		case core.StructList:
			v, err = structList(x)
		case core.ValueList, core.ValueSet:
			v, err = nestedCollection(x, to)
		default:
			v, err = nestedToFlat(t, x, to)
		}
		if err != nil {
			return nil, bad(i, "%v", err)
		}
		out[i] = v
	}
	return out, nil
}

// nestedToFlat handles the scalar, list and set types: an object or array
// in a scalar column is null (Feast's array-like rule); a string list or
// set gets an object's keys (Feast iterates the dict); anything else fails.
func nestedToFlat(t *atype, x pyVal, to core.ValueType) (core.Value, error) {
	var elem core.ValueType
	switch to {
	case core.StringList, core.UUIDList, core.TimeUUIDList, core.DecimalList:
		elem = core.String
	case core.StringSet, core.UUIDSet, core.TimeUUIDSet, core.DecimalSet:
		elem = core.String
	default:
		if !to.IsList() && (to <= core.UnixTimestamp || to == core.UUID || to == core.TimeUUID ||
			to == core.Decimal || to == core.PdfBytes || to == core.ImageBytes) {
			return core.Value{}, nil
		}
		return core.Value{}, fmt.Errorf("a column of %s cannot be converted", t)
	}
	if x.k != pkDict {
		return core.Value{}, fmt.Errorf("the lists hold %s elements", t.elem)
	}
	l := core.Value{Type: to, List: make([]core.Value, len(x.keys))}
	for i, k := range x.keys {
		l.List[i] = core.Value{Type: elem, S: k}
	}
	return l, nil
}

func (t *atype) String() string {
	if t == nil {
		return "null"
	}
	switch t.k {
	case kindList:
		return "list<" + t.elem.String() + ">"
	case kindStruct:
		s := "struct<"
		for i, f := range t.fields {
			if i > 0 {
				s += ", "
			}
			s += f.name + ": " + f.t.String()
		}
		return s + ">"
	}
	return t.k.String()
}

// dictToMap is Feast's _python_dict_to_map_proto: None is an empty Value,
// a dict a nested map, anything else takes python_values_to_proto_values'
// inference.
func dictToMap(d pyVal) (core.Value, error) {
	kv := make([]core.Value, 0, 2*len(d.keys))
	for i, k := range d.keys {
		var v core.Value
		var err error
		switch x := d.items[i]; x.k {
		case pkNone:
		case pkDict:
			v, err = dictToMap(x)
			v.Type = core.Map
		default:
			v, err = inferValue(x)
		}
		if err != nil {
			return core.Value{}, fmt.Errorf("key %q: %w", k, err)
		}
		kv = append(kv, core.StringValue(k), v)
	}
	return core.Value{Type: core.Map, List: kv}, nil
}

// inferValue is python_values_to_proto_values([x], UNKNOWN) for the values
// a struct field holds. An ndarray of objects (strings, or anything with a
// null) works only with one string in it: with more elements Feast fails
// testing the array's truth value.
func inferValue(x pyVal) (core.Value, error) {
	switch x.k {
	case pkInt, pkNpInt64:
		return core.Int64Value(x.i), nil
	case pkFloat:
		return core.DoubleValue(x.f), nil
	case pkBool, pkNpBool:
		return core.BoolValue(x.i != 0), nil
	case pkStr:
		return core.StringValue(x.s), nil
	case pkBytes:
		return core.Value{Type: core.Bytes, S: x.s}, nil
	case pkArray:
		if len(x.items) == 0 {
			return core.Value{}, errors.New("couldn't infer value type from empty value")
		}
		var t core.ValueType
		switch x.dtype {
		case pkNpInt64:
			t = core.Int64List
		case pkFloat:
			t = core.DoubleList
		case pkNpBool:
			t = core.BoolList
		default:
			if len(x.items) > 1 {
				return core.Value{}, errors.New("a list of strings, or of values with a null, cannot be stored in a map from an object (send the map as JSON text)")
			}
			if x.items[0].k != pkStr {
				return core.Value{}, fmt.Errorf("a list of %s cannot be stored in a map from an object", x.items[0].typeName())
			}
			t = core.StringList
		}
		l := core.Value{Type: t, List: make([]core.Value, len(x.items))}
		for i, e := range x.items {
			l.List[i], _ = inferValue(e)
		}
		return l, nil
	}
	return core.Value{}, fmt.Errorf("a %s value cannot be stored in a map", x.typeName())
}

// jsonList is Feast's JSON_LIST rule: strings must be JSON and are kept,
// anything else goes through json.dumps.
func jsonList(x pyVal) (core.Value, error) {
	items, err := x.iter()
	if err != nil {
		return core.Value{}, err
	}
	l := core.Value{Type: core.JSONList, List: make([]core.Value, len(items))}
	for i, e := range items {
		if e.k == pkStr {
			if _, err := typemap.Complex(core.StringValue(e.s), core.JSON, nil); err != nil {
				return core.Value{}, fmt.Errorf("element %d: %v", i, err)
			}
			l.List[i] = core.StringValue(e.s)
			continue
		}
		b, err := appendPyJSON(nil, e)
		if err != nil {
			return core.Value{}, fmt.Errorf("element %d: %v", i, err)
		}
		l.List[i] = core.StringValue(string(b))
	}
	return l, nil
}

// structList is Feast's STRUCT_LIST rule for what Arrow gives: every
// element must be a dict.
func structList(x pyVal) (core.Value, error) {
	items, err := x.iter()
	if err != nil {
		return core.Value{}, err
	}
	l := core.Value{Type: core.StructList, List: make([]core.Value, len(items))}
	for i, e := range items {
		if e.k != pkDict {
			return core.Value{}, fmt.Errorf("element %d: a struct list can only contain objects, got %s", i, e.typeName())
		}
		if l.List[i], err = dictToMap(e); err != nil {
			return core.Value{}, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return l, nil
}

// nestedCollection is Feast's VALUE_LIST / VALUE_SET rule: one Value per
// inner collection (empty for a null or empty one), deeper levels nested
// VALUE_LISTs, the innermost lists typed by inference. Sets keep repeats,
// as Feast's do.
func nestedCollection(x pyVal, to core.ValueType) (core.Value, error) {
	items, err := x.iter()
	if err != nil {
		return core.Value{}, err
	}
	out := core.Value{Type: to, List: make([]core.Value, len(items))}
	for i, inner := range items {
		if inner.k == pkNone {
			continue
		}
		l, err := inner.iter()
		if err != nil {
			return core.Value{}, fmt.Errorf("inner list %d: %v", i, err)
		}
		if len(l) == 0 {
			continue
		}
		deeper := false
		for _, e := range l {
			deeper = deeper || e.k == pkArray
		}
		if deeper {
			if out.List[i], err = nestedCollection(pyVal{k: pkArray, items: l}, core.ValueList); err != nil {
				return core.Value{}, err
			}
			continue
		}
		if out.List[i], err = inferList(l); err != nil {
			return core.Value{}, fmt.Errorf("inner list %d: %v", i, err)
		}
	}
	return out, nil
}

// inferList is python_values_to_proto_values([l], UNKNOWN) for a Python
// list: a list of dicts is a MAP_LIST, otherwise every element must have
// the same scalar type.
func inferList(l []pyVal) (core.Value, error) {
	if l[0].k == pkDict {
		ml := core.Value{Type: core.MapList, List: make([]core.Value, len(l))}
		for i, e := range l {
			if e.k != pkDict {
				return core.Value{}, fmt.Errorf("a map list can only contain objects, got %s", e.typeName())
			}
			var err error
			if ml.List[i], err = dictToMap(e); err != nil {
				return core.Value{}, err
			}
		}
		return ml, nil
	}
	var elem core.ValueType
	out := core.Value{List: make([]core.Value, len(l))}
	for i, e := range l {
		var t core.ValueType
		switch e.k {
		case pkInt, pkNpInt64:
			t = core.Int64
		case pkFloat:
			t = core.Double
		case pkBool, pkNpBool:
			t = core.Bool
		case pkStr:
			t = core.String
		case pkBytes:
			t = core.Bytes
		default:
			return core.Value{}, fmt.Errorf("element %d: a %s value cannot be converted", i, e.typeName())
		}
		if elem != 0 && t != elem {
			return core.Value{}, fmt.Errorf("list elements of different types (%s and %s)", elem, t)
		}
		elem = t
		out.List[i], _ = inferValue(e)
	}
	out.Type = elem.ListOf()
	return out, nil
}

// appendPyJSON is json.dumps(x) with Python's defaults: ", " and ": "
// separators, ASCII output, floats as repr, NaN and Infinity literals.
// numpy integers, booleans and arrays are not serializable.
func appendPyJSON(dst []byte, x pyVal) ([]byte, error) {
	switch x.k {
	case pkNone:
		return append(dst, "null"...), nil
	case pkInt:
		return strconv.AppendInt(dst, x.i, 10), nil
	case pkFloat:
		switch {
		case math.IsNaN(x.f):
			return append(dst, "NaN"...), nil
		case math.IsInf(x.f, 1):
			return append(dst, "Infinity"...), nil
		case math.IsInf(x.f, -1):
			return append(dst, "-Infinity"...), nil
		}
		return append(dst, pyfmt.Float(x.f)...), nil
	case pkBool:
		if x.i != 0 {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case pkStr:
		return pyfmt.AppendJSONString(dst, x.s), nil
	case pkDict:
		dst = append(dst, '{')
		for i, k := range x.keys {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = pyfmt.AppendJSONString(dst, k)
			dst = append(dst, ": "...)
			var err error
			if dst, err = appendPyJSON(dst, x.items[i]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("object of type %s is not JSON serializable", x.typeName())
}
