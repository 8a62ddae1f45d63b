// Package ingest turns the data frames of push and write-to-online-store
// requests into online-store rows the way Feast does: pandas/Arrow column
// typing, python_values_to_proto_values per declared type, field mapping,
// event and created timestamps, entity keys. A whole request is checked
// before anything is written, so bad input never leaves half a write.
//
// Offline pushes go through the offlinestore.Appender the catalog returns
// for a view's batch source: this package must not import an offline engine
// (offlinestore/parquet, offlinestore/postgres) or the serving packages
// (server, cmd).
package ingest

import (
	"github.com/feastgo/feastgo/core"
)

// Column is one named column of a request frame.
type Column struct {
	Name   string
	Values []core.Value
}

// Frame is the "df" of a request: named columns of equal length, in request
// order.
type Frame struct {
	Columns []Column
	// Strings marks a frame whose values all arrived as strings (gRPC's
	// "features" map): they are parsed as the declared type asks, where a
	// JSON frame would need the value's own type.
	Strings bool
}

// Rows returns the number of rows, after Validate.
func (f *Frame) Rows() int {
	if len(f.Columns) == 0 {
		return 0
	}
	return len(f.Columns[0].Values)
}

// Validate checks what pandas.DataFrame(df) would refuse and what Feast
// silently does nothing with: no columns, no rows, columns of different
// lengths.
func (f *Frame) Validate() error {
	if len(f.Columns) == 0 {
		return core.Invalidf("df: the frame has no columns; nothing to write")
	}
	n := len(f.Columns[0].Values)
	for _, c := range f.Columns[1:] {
		if len(c.Values) != n {
			return core.Invalidf("df: all columns must have the same length (%s has %d values, %s has %d)",
				f.Columns[0].Name, n, c.Name, len(c.Values))
		}
	}
	if n == 0 {
		return core.Invalidf("df: the frame has no rows; nothing to write")
	}
	return nil
}

// kind is the type pandas and Arrow give a column built from JSON values.
type kind int

const (
	kindNull   kind = iota // only nulls: Arrow's null type
	kindInt                // int64 without nulls
	kindFloat              // float64: floats, or ints mixed with floats or nulls (null -> NaN)
	kindBool               // bool, nulls allowed (object column)
	kindString             // string, nulls allowed
	kindBytes              // bytes (gRPC typed values only)
	kindList               // list<elem>, nulls allowed
	kindStruct             // JSON objects (Arrow struct), nulls allowed
)

func (k kind) String() string {
	return [...]string{"null", "integer", "float", "boolean", "string", "bytes", "list", "object"}[k]
}

// typedColumn is a column with the kind Arrow would give it.
type typedColumn struct {
	Column
	kind kind
	elem kind // for kindList: the element kind over all rows
	// arrow is the full Arrow type of a column holding objects or lists
	// of lists (or of objects); nil for the others.
	arrow *atype
}

// scalarKind maps a value to its column kind; ok is false for values no
// column can hold (objects).
func scalarKind(v core.Value) (kind, bool) {
	switch {
	case v.IsNull():
		return kindNull, true
	case v.Type == core.Int64 || v.Type == core.Int32 || v.Type == core.UnixTimestamp:
		return kindInt, true
	case v.Type == core.Double || v.Type == core.Float:
		return kindFloat, true
	case v.Type == core.Bool:
		return kindBool, true
	case v.Type == core.String:
		return kindString, true
	case v.Type == core.Bytes:
		return kindBytes, true
	case v.Type.IsList() || v.Type == core.UntypedList:
		return kindList, true
	case v.Type == ObjectValue:
		return kindStruct, true
	}
	return 0, false
}

// unify is Arrow's type inference over a sequence of kinds: ints widen to
// floats, nulls fit anything, every other mix is an error.
func unify(a, b kind) (kind, bool) {
	switch {
	case a == b:
		return a, true
	case a == kindNull:
		return b, true
	case b == kindNull:
		return a, true
	case (a == kindInt && b == kindFloat) || (a == kindFloat && b == kindInt):
		return kindFloat, true
	}
	return 0, false
}

// typeColumn infers the column's kind as pandas.DataFrame + pa.Table do.
func typeColumn(c Column) (typedColumn, error) {
	if nested(c) {
		return typeNested(c)
	}
	tc := typedColumn{Column: c, kind: kindNull, elem: kindNull}
	hasNull := false
	for i, v := range c.Values {
		k, ok := scalarKind(v)
		if !ok {
			return tc, core.Invalidf("df.%s[%d]: a %s value cannot be written", c.Name, i, v.Type)
		}
		if k == kindNull {
			hasNull = true
			continue
		}
		u, ok := unify(tc.kind, k)
		if !ok {
			return tc, core.Invalidf("df.%s: the column mixes %s and %s values (row %d)", c.Name, tc.kind, k, i)
		}
		tc.kind = u
		if k == kindList {
			for _, e := range v.List {
				ek, _ := scalarKind(e)
				ue, ok := unify(tc.elem, ek)
				if !ok {
					return tc, core.Invalidf("df.%s[%d]: the lists mix %s and %s elements", c.Name, i, tc.elem, ek)
				}
				tc.elem = ue
			}
		}
	}
	// pandas turns an int column with nulls into float64 (null -> NaN).
	if tc.kind == kindInt && hasNull {
		tc.kind = kindFloat
	}
	return tc, nil
}

// nested reports a column pandas keeps as Python objects that Arrow types
// as a struct or a list of lists or of structs.
func nested(c Column) bool {
	for _, v := range c.Values {
		if v.Type == ObjectValue {
			return true
		}
		if v.Type.IsList() || v.Type == core.UntypedList {
			for _, e := range v.List {
				if e.Type == ObjectValue || e.Type.IsList() || e.Type == core.UntypedList {
					return true
				}
			}
		}
	}
	return false
}

// typeNested infers the Arrow type of a nested column; a mix Arrow cannot
// type (an object and a number, a list and a string, an integer and a
// boolean under the same key, ...) is refused naming the row.
func typeNested(c Column) (typedColumn, error) {
	t := &atype{}
	for i, v := range c.Values {
		if err := t.observe(v, 0); err != nil {
			return typedColumn{}, core.Invalidf("df.%s[%d]: %v", c.Name, i, err)
		}
	}
	tc := typedColumn{Column: c, kind: t.k, elem: kindNull, arrow: t}
	if t.elem != nil {
		tc.elem = t.elem.k
	}
	return tc, nil
}

// arrowType returns the column's Arrow type, inferring it for a flat list
// column.
func (c *typedColumn) arrowType() *atype {
	if c.arrow != nil {
		return c.arrow
	}
	t := &atype{}
	for _, v := range c.Values {
		_ = t.observe(v, 0) // typeColumn checked the column
	}
	return t
}

// isNullAt reports pandas' isnull for one cell: None, or NaN in a float
// column.
func (c *typedColumn) isNullAt(i int) bool {
	v := c.Values[i]
	if v.IsNull() {
		return true
	}
	return (c.kind == kindFloat || c.arrow != nil) && isNaN(v)
}

// allNull reports whether every cell is null.
func (c *typedColumn) allNull() bool {
	for i := range c.Values {
		if !c.isNullAt(i) {
			return false
		}
	}
	return true
}
