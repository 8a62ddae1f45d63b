// Package typemap holds Feast's type_map rules for the value types beyond
// scalars and scalar lists (maps, structs, JSON, sets, UUIDs, decimals,
// nested lists) and their protobuf encoding, shared by materialization
// (values from Arrow) and the write endpoints (values from JSON requests).
//
// It imports only core and offlinestore's cell types.
package typemap

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// IsComplex reports whether t is one of the types Complex converts (every
// declared type past the scalars and scalar lists).
func IsComplex(t core.ValueType) bool { return t > core.UnixTimestampList && t != core.Null }

// ListFunc converts a list value to a declared scalar list type with the
// caller's rules for where the value came from (Arrow cells, request
// columns). Complex uses it for set elements and VALUE_LIST inner lists.
type ListFunc func(v core.Value, want core.ValueType) (core.Value, error)

// isSet reports whether t is one of the scalar set types (BYTES_SET ..
// UNIX_TIMESTAMP_SET), whose element type is t − 21.
// Complex handles the declared types beyond scalars and scalar
// lists, as type_map._python_value_to_proto_value does for what Arrow gives:
// UUID, TIME_UUID and DECIMAL keep the string as is; PDF_BYTES and
// IMAGE_BYTES are bytes; JSON is a string that must parse; MAP, STRUCT and
// their lists come from JSON text (json.loads) or struct columns, with
// Python's type inference for the values; sets drop repeated elements;
// VALUE_LIST and VALUE_SET wrap one list per element.
//
// Feast writes map entries and set elements in Python hash order, which for
// strings changes from one process to the next; here they keep the order of
// the data (first occurrence for sets). Readers get the same map or set.
func Complex(v core.Value, want core.ValueType, list ListFunc) (core.Value, error) {
	if v.IsNull() {
		return core.Value{}, nil
	}
	switch want {
	case core.UUID, core.TimeUUID, core.Decimal:
		if v.Type != core.String {
			return core.Value{}, fmt.Errorf("a %s value cannot be converted to %s", v.Type, want)
		}
		return core.Value{Type: want, S: v.S}, nil
	case core.PdfBytes, core.ImageBytes:
		if v.Type != core.Bytes {
			return core.Value{}, fmt.Errorf("a %s value cannot be converted to %s", v.Type, want)
		}
		return core.Value{Type: want, S: v.S}, nil
	case core.JSON:
		if v.Type != core.String {
			return core.Value{}, fmt.Errorf("a %s value cannot be converted to JSON", v.Type)
		}
		if !json.Valid([]byte(v.S)) {
			return core.Value{}, fmt.Errorf("invalid JSON string for JSON type: %.60q", v.S)
		}
		return core.Value{Type: core.JSON, S: v.S}, nil
	case core.JSONList, core.UUIDList, core.TimeUUIDList, core.DecimalList, core.StringSet, core.UUIDSet, core.TimeUUIDSet, core.DecimalSet, core.BytesSet:
		return convertStrings(v, want)
	case core.Map, core.Struct:
		m, err := toMap(v)
		if err != nil {
			return core.Value{}, err
		}
		if m.IsNull() {
			return m, nil
		}
		m.Type = want
		return m, nil
	case core.MapList, core.StructList:
		return toMapList(v, want)
	case core.ValueList, core.ValueSet:
		if v.Type != offlinestore.NestedListCell {
			return core.Value{}, fmt.Errorf("a %s value is not a list of lists", v.Type)
		}
		out := make([]core.Value, len(v.List))
		for i, inner := range v.List {
			if inner.IsNull() || len(inner.List) == 0 {
				continue // Feast stores a null or empty inner list as an empty Value
			}
			c, err := list(inner, inner.Type)
			if err != nil {
				return core.Value{}, fmt.Errorf("inner list %d: %w", i, err)
			}
			out[i] = c
		}
		return core.Value{Type: want, List: out}, nil
	}
	if want.IsSet() {
		if !v.Type.IsList() {
			return core.Value{}, fmt.Errorf("a %s value is not a list", v.Type)
		}
		l, err := list(v, want.SetElem().ListOf())
		if err != nil {
			return core.Value{}, err
		}
		l.List = distinct(l.List)
		l.Type = want
		return l, nil
	}
	return core.Value{}, fmt.Errorf("%s values are not supported", want)
}

// convertStrings converts a list of strings (or bytes, for BYTES_SET).
func convertStrings(v core.Value, want core.ValueType) (core.Value, error) {
	if !v.Type.IsList() {
		return core.Value{}, fmt.Errorf("a %s value is not a list", v.Type)
	}
	elem := core.String
	if want == core.BytesSet {
		elem = core.Bytes
	}
	out := make([]core.Value, len(v.List))
	for i, e := range v.List {
		if e.IsNull() {
			out[i] = core.Value{Type: elem} // Feast's "" default
			continue
		}
		if e.Type != core.String && e.Type != core.Bytes {
			return core.Value{}, fmt.Errorf("list element %d: a %s value is not a string", i, e.Type)
		}
		if want == core.JSONList && !json.Valid([]byte(e.S)) {
			return core.Value{}, fmt.Errorf("invalid JSON string in JSON_LIST: %.60q", e.S)
		}
		out[i] = core.Value{Type: elem, S: e.S}
	}
	switch want {
	case core.StringSet, core.UUIDSet, core.TimeUUIDSet, core.DecimalSet, core.BytesSet:
		out = distinct(out)
	}
	return core.Value{Type: want, List: out}, nil
}

// distinct drops repeated elements, keeping the first of each, as Python's
// set() does for equal values (NaN is never equal to itself).
func distinct(es []core.Value) []core.Value {
	out := es[:0:0]
	for _, e := range es {
		dup := false
		for _, o := range out {
			if e.Type == o.Type && e.I == o.I && e.S == o.S && e.F == o.F {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

// toMap turns a JSON object (text) or a struct cell into a map value:
// List holds the keys (Strings) and the values, alternately, in order.
func toMap(v core.Value) (core.Value, error) {
	switch v.Type {
	case core.String:
		parsed, err := parseJSON(v.S)
		if err != nil {
			return core.Value{}, err
		}
		if parsed.Type != core.Map {
			return core.Value{}, fmt.Errorf("expected dict for MAP type, got %s", jsonKind(parsed))
		}
		return parsed, nil
	case offlinestore.StructCell:
		kv := make([]core.Value, len(v.List))
		for i := 0; i+1 < len(v.List); i += 2 {
			val, err := inferValue(v.List[i+1])
			if err != nil {
				return core.Value{}, fmt.Errorf("field %s: %w", v.List[i].S, err)
			}
			kv[i], kv[i+1] = v.List[i], val
		}
		return core.Value{Type: core.Map, List: kv}, nil
	}
	return core.Value{}, fmt.Errorf("a %s value is not a map", v.Type)
}

func toMapList(v core.Value, want core.ValueType) (core.Value, error) {
	var items []core.Value
	switch v.Type {
	case core.String:
		parsed, err := parseJSON(v.S)
		if err != nil {
			return core.Value{}, err
		}
		if parsed.Type != core.MapList && parsed.Type != core.UntypedJSONList {
			return core.Value{}, fmt.Errorf("expected list for %s type, got %s", want, jsonKind(parsed))
		}
		items = parsed.List
	case core.MapList: // already parsed from JSON text (a list of dicts inside a map)
		items = v.List
	case offlinestore.StructListCell:
		for _, s := range v.List {
			m, err := toMap(s)
			if err != nil {
				return core.Value{}, err
			}
			items = append(items, m)
		}
	default:
		return core.Value{}, fmt.Errorf("a %s value is not a list of maps", v.Type)
	}
	for _, it := range items {
		if it.Type != core.Map {
			return core.Value{}, fmt.Errorf("a map list can only contain dictionaries, got %s", jsonKind(it))
		}
	}
	return core.Value{Type: want, List: items}, nil
}

// inferValue is python_values_to_proto_values([x], UNKNOWN) for a plain
// Python value x: ints are INT64, floats DOUBLE, lists take their
// elements' type (one type for all), a dict is a nested map.
func inferValue(v core.Value) (core.Value, error) {
	switch {
	case v.IsNull():
		return core.Value{}, nil
	case v.Type == core.Int32:
		return core.Int64Value(v.I), nil
	case v.Type == core.Float:
		return core.DoubleValue(v.F), nil
	case v.Type == offlinestore.StructCell:
		return toMap(v)
	case v.Type == core.Map:
		return v, nil
	case v.Type == core.MapList || v.Type == offlinestore.StructListCell:
		return toMapList(v, core.MapList)
	case v.Type == core.UntypedJSONList:
		return core.Value{}, fmt.Errorf("couldn't infer value type from empty value")
	case v.Type.IsList():
		var elem core.ValueType
		out := make([]core.Value, len(v.List))
		for i, e := range v.List {
			c, err := inferValue(e)
			if err != nil {
				return core.Value{}, err
			}
			if c.IsNull() || c.Type.IsList() || c.Type > core.UnixTimestamp {
				return core.Value{}, fmt.Errorf("list element %d cannot be converted", i)
			}
			if elem != 0 && c.Type != elem {
				return core.Value{}, fmt.Errorf("list elements of different types (%s and %s)", elem, c.Type)
			}
			elem, out[i] = c.Type, c
		}
		if elem == 0 {
			return core.Value{}, fmt.Errorf("couldn't infer value type from empty value")
		}
		return core.Value{Type: elem.ListOf(), List: out}, nil
	case v.Type <= core.UnixTimestamp:
		return v, nil
	}
	return core.Value{}, fmt.Errorf("a %s value cannot be put in a map", v.Type)
}

// parseJSON is json.loads into Values: objects are maps (keys in order; a
// repeated key keeps its first place and last value, like a Python dict),
// arrays of objects map lists, other arrays lists (typed by inferValue),
// integers INT64, other numbers DOUBLE.
func parseJSON(s string) (core.Value, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	x, err := decodeOrdered(dec)
	if err != nil {
		return core.Value{}, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		return core.Value{}, fmt.Errorf("invalid JSON: extra data")
	}
	return fromJSON(x)
}

type kvPair struct {
	key   string
	value any
}

// orderedObject is a JSON object with its keys in document order.
type orderedObject []kvPair

func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		obj := orderedObject{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string)
			v, err := decodeOrdered(dec)
			if err != nil {
				return nil, err
			}
			replaced := false
			for i := range obj {
				if obj[i].key == key {
					obj[i].value, replaced = v, true
				}
			}
			if !replaced {
				obj = append(obj, kvPair{key, v})
			}
		}
		_, err := dec.Token() // '}'
		return obj, err
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := decodeOrdered(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token() // ']'
		return arr, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

func fromJSON(x any) (core.Value, error) {
	switch t := x.(type) {
	case nil:
		return core.Value{}, nil
	case bool:
		return core.BoolValue(t), nil
	case string:
		return core.StringValue(t), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return core.Int64Value(i), nil
		}
		if !strings.ContainsAny(string(t), ".eE") {
			return core.Value{}, fmt.Errorf("integer %s is out of range for INT64", t)
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !math.IsInf(f, 0) {
			return core.Value{}, err
		}
		return core.DoubleValue(f), nil
	case []any:
		if len(t) == 0 {
			return core.Value{Type: core.UntypedJSONList}, nil
		}
		out := make([]core.Value, len(t))
		for i, e := range t {
			v, err := fromJSON(e)
			if err != nil {
				return core.Value{}, err
			}
			out[i] = v
		}
		if out[0].Type == core.Map {
			return core.Value{Type: core.MapList, List: out}, nil
		}
		return inferValue(core.Value{Type: core.StringList, List: out})
	case orderedObject:
		kv := make([]core.Value, 0, 2*len(t))
		for _, e := range t {
			v, err := fromJSON(e.value)
			if err != nil {
				return core.Value{}, err
			}
			if v.Type == core.UntypedJSONList {
				return core.Value{}, fmt.Errorf("key %q: couldn't infer value type from empty value", e.key)
			}
			v, err = inferValue(v)
			if err != nil {
				return core.Value{}, fmt.Errorf("key %q: %w", e.key, err)
			}
			kv = append(kv, core.StringValue(e.key), v)
		}
		return core.Value{Type: core.Map, List: kv}, nil
	}
	return core.Value{}, fmt.Errorf("unexpected JSON value %T", x)
}

func jsonKind(v core.Value) string {
	switch v.Type {
	case core.Map:
		return "dict"
	case core.MapList, core.UntypedJSONList:
		return "list"
	case core.String:
		return "str"
	case core.Int64:
		return "int"
	case core.Double:
		return "float"
	case core.Bool:
		return "bool"
	}
	if v.Type.IsList() {
		return "list"
	}
	return "NoneType"
}

// AppendValue serializes a converted Value as Python's protobuf does:
// core.AppendValueProto for scalars and scalar lists, the wrappers of the
// types above for the rest. Map entries always carry key and value, as
// upb writes them.
func AppendValue(dst []byte, v core.Value) []byte {
	t := v.Type
	switch {
	case t <= core.UnixTimestampList || t == core.Null:
		return core.AppendValueProto(dst, v)
	case t == core.PdfBytes || t == core.ImageBytes: // bytes_val
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		return protowire.AppendString(dst, v.S)
	case t == core.UUID || t == core.TimeUUID || t == core.Decimal || t == core.JSON:
		dst = protowire.AppendTag(dst, protowire.Number(t), protowire.BytesType)
		return protowire.AppendString(dst, v.S)
	}
	var body []byte
	switch {
	case t.IsSet():
		// Same wrapper as the list of the element type: take its body.
		l := core.AppendValueProto(nil, core.Value{Type: t.SetElem().ListOf(), List: v.List})
		_, _, n := protowire.ConsumeTag(l)
		body, _ = protowire.ConsumeBytes(l[n:])
	case t == core.Map || t == core.Struct:
		body = appendMapBody(nil, v.List)
	case t == core.MapList || t == core.StructList:
		for _, m := range v.List {
			body = protowire.AppendTag(body, 1, protowire.BytesType)
			body = protowire.AppendBytes(body, appendMapBody(nil, m.List))
		}
	case t == core.ValueList || t == core.ValueSet:
		for _, e := range v.List {
			body = protowire.AppendTag(body, 1, protowire.BytesType)
			body = protowire.AppendBytes(body, AppendValue(nil, e))
		}
	default: // lists and sets of strings or bytes
		for _, e := range v.List {
			body = protowire.AppendTag(body, 1, protowire.BytesType)
			body = protowire.AppendString(body, e.S)
		}
	}
	dst = protowire.AppendTag(dst, protowire.Number(t), protowire.BytesType)
	return protowire.AppendBytes(dst, body)
}

// appendMapBody encodes feast.types.Map {map<string, Value> val = 1}.
func appendMapBody(dst []byte, kv []core.Value) []byte {
	for i := 0; i+1 < len(kv); i += 2 {
		entry := protowire.AppendTag(nil, 1, protowire.BytesType)
		entry = protowire.AppendString(entry, kv[i].S)
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendBytes(entry, AppendValue(nil, kv[i+1]))
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendBytes(dst, entry)
	}
	return dst
}
