package transformations

import (
	"errors"
	"fmt"
	"sort"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/registry"
)

// frame is the table an ODFV's UDF sees, in Feast's column order: the
// response columns (join keys, request data, the ODFV's source features
// under their response names), then the aliases Feast's preprocessing adds
// so that every source feature is reachable both as "feature" and as
// "view__feature".
type frame struct {
	rows int
	cols []*frameCol
	by   map[string]*frameCol
}

type frameCol struct {
	name string
	// alias marks a name Feast adds before the UDF and removes after it.
	alias bool
	src   *core.Column
	// typ is the declared type of a source feature (Invalid otherwise).
	typ     core.ValueType
	decoded []pv
	typed   []core.Value // Typed columns after Feast's request typing
}

// values decodes the column into Python values once. Typed columns (join
// keys, request data) are first typed as Feast types request values: by
// the first non-empty value (python_values_to_proto_values with an
// unknown type), so [1, 2.5] is an INT64 column holding 1 and 2.
func (c *frameCol) values() ([]pv, error) {
	if c.decoded != nil {
		return c.decoded, nil
	}
	n := c.src.Len()
	out := make([]pv, n)
	if c.src.Raw != nil {
		for i, b := range c.src.Raw {
			if len(b) == 0 {
				continue
			}
			v, err := pvFromProto(b)
			if err != nil {
				return nil, fmt.Errorf("column %s row %d: %w", c.name, i, err)
			}
			out[i] = v
		}
	} else {
		for i, v := range c.src.Typed {
			out[i] = pvFromCore(v)
		}
		if homogeneous(c.src.Typed) {
			// Feast's inference would pick this very type.
			c.typed, c.decoded = c.src.Typed, out
			return out, nil
		}
		norm, err := pyValuesToCore(out, core.Invalid)
		switch {
		case err == nil:
			c.typed = norm
			for i, v := range norm {
				out[i] = pvFromCore(v)
			}
		case errors.Is(err, errUnsupported):
			c.typed = c.src.Typed
		default:
			return nil, fmt.Errorf("request column %s: %w", c.name, err)
		}
	}
	c.decoded = out
	return out, nil
}

// homogeneous reports whether every non-null value has one concrete type
// (the request parser's untyped empty list, core.UntypedList, is not one).
func homogeneous(vals []core.Value) bool {
	t := core.Invalid
	for _, v := range vals {
		if v.IsNull() {
			continue
		}
		if v.Type == core.UntypedList || (t != core.Invalid && v.Type != t) {
			return false
		}
		t = v.Type
		for _, e := range v.List {
			if !e.IsNull() && e.Type != t.Elem() {
				return false
			}
		}
	}
	return true
}

// protoAt is row r serialized as a feast.types.Value (nil for null).
func (c *frameCol) protoAt(r int) ([]byte, error) {
	if c.src.Raw != nil {
		return c.src.Raw[r], nil
	}
	if _, err := c.values(); err != nil {
		return nil, err
	}
	return core.AppendValueProto(nil, c.typed[r]), nil
}

// buildFrame selects and orders the columns an ODFV may read from inputs,
// as Feast's _augment_response_with_on_demand_transforms and the ODFV's
// _preprocess_feature_dict do. Features of views the ODFV does not declare
// are hidden from it; such columns are recognised by appearing under two
// names (plain and "view__feature") in inputs.
func buildFrame(odfv *registry.ODFV, inputs map[string]*core.Column, rows int, fullNames bool) (*frame, error) {
	f := &frame{rows: rows, by: make(map[string]*frameCol, len(inputs))}
	slab := make([]frameCol, 0, len(inputs)+8)
	add := func(name string, c *core.Column, typ core.ValueType, alias bool) {
		if _, dup := f.by[name]; dup || c == nil {
			return
		}
		if len(slab) == cap(slab) {
			slab = make([]frameCol, 0, 8)
		}
		slab = append(slab, frameCol{name: name, alias: alias, src: c, typ: typ})
		fc := &slab[len(slab)-1]
		f.cols = append(f.cols, fc)
		f.by[name] = fc
	}
	declared := map[string]bool{}
	for _, s := range odfv.Sources {
		for _, r := range s.Request {
			declared[r.Name] = true
		}
		if s.Projection != nil {
			for _, ft := range s.Projection.Features {
				declared[ft.Name] = true
				declared[s.Projection.NameToUse()+"__"+ft.Name] = true
			}
		}
	}
	// Columns seen under more than one name are features (plain and full).
	names := map[*core.Column]int{}
	for _, c := range inputs {
		names[c]++
	}
	var others []string
	for n, c := range inputs {
		if !declared[n] && names[c] == 1 {
			others = append(others, n)
		}
	}
	sort.Strings(others)
	for _, n := range others {
		add(n, inputs[n], core.Invalid, false)
	}
	for _, s := range odfv.Sources {
		for _, r := range s.Request {
			add(r.Name, inputs[r.Name], core.Invalid, false)
		}
	}
	for _, s := range odfv.Sources {
		if s.Projection == nil {
			continue
		}
		for _, ft := range s.Projection.Features {
			name := ft.Name
			if fullNames {
				name = s.Projection.NameToUse() + "__" + ft.Name
			}
			add(name, inputs[name], ft.Type, false)
		}
	}
	for _, s := range odfv.Sources {
		if s.Projection == nil {
			continue
		}
		for _, ft := range s.Projection.Features {
			full := s.Projection.NameToUse() + "__" + ft.Name
			if fullNames {
				if c, ok := f.by[full]; ok {
					add(ft.Name, c.src, ft.Type, true)
				}
			} else if c, ok := f.by[ft.Name]; ok {
				add(full, c.src, ft.Type, true)
			}
		}
	}
	for _, c := range f.cols {
		if c.src.Len() != rows {
			return nil, fmt.Errorf("input column %s has %d values for %d rows", c.name, c.src.Len(), rows)
		}
	}
	return f, nil
}

// nameSet is a small set of output names; a few names, so a slice.
type nameSet []string

func (s nameSet) has(name string) bool {
	for _, n := range s {
		if n == name {
			return true
		}
	}
	return false
}

// requestedNames returns the output names Feast selects for outputs: the
// plain feature names, or "<odfv>__<feature>" with full feature names.
func requestedNames(odfv *registry.ODFV, outputs []registry.Field, fullNames bool) nameSet {
	m := make(nameSet, len(outputs))
	for i, o := range outputs {
		if fullNames {
			m[i] = odfv.Name + "__" + o.Name
		} else {
			m[i] = o.Name
		}
	}
	return m
}

// outputType is the type Feast converts a selected output column to: the
// schema type looked up by the selected name, so a full name finds nothing
// and Feast infers the type from the values.
func outputType(odfv *registry.ODFV, name string) core.ValueType {
	if f, ok := odfv.Feature(name); ok {
		return f.Type
	}
	return core.Invalid
}
