// Package core holds the domain types of the feature server: values, entity
// keys, online requests and responses, and the typed errors every adapter maps
// to HTTP and gRPC codes. It imports no back end and no transport.
package core

import (
	"math"
	"strconv"
)

// ValueType is Feast's ValueType.Enum number. It doubles as the number of the
// oneof field set in a feast.types.Value, which Feast keeps equal on purpose.
type ValueType int32

// The value types a request or a key can carry. Numbers are Feast's.
const (
	Invalid           ValueType = 0
	Bytes             ValueType = 1
	String            ValueType = 2
	Int32             ValueType = 3
	Int64             ValueType = 4
	Double            ValueType = 5
	Float             ValueType = 6
	Bool              ValueType = 7
	UnixTimestamp     ValueType = 8
	BytesList         ValueType = 11
	StringList        ValueType = 12
	Int32List         ValueType = 13
	Int64List         ValueType = 14
	DoubleList        ValueType = 15
	FloatList         ValueType = 16
	BoolList          ValueType = 17
	UnixTimestampList ValueType = 18
	Null              ValueType = 19
	Map               ValueType = 20
	MapList           ValueType = 21
	BytesSet          ValueType = 22
	StringSet         ValueType = 23
	Int32Set          ValueType = 24
	Int64Set          ValueType = 25
	DoubleSet         ValueType = 26
	FloatSet          ValueType = 27
	BoolSet           ValueType = 28
	UnixTimestampSet  ValueType = 29
	PdfBytes          ValueType = 30 // the Python SDK's; not in the proto enum
	ImageBytes        ValueType = 31 // the Python SDK's; not in the proto enum
	JSON              ValueType = 32
	JSONList          ValueType = 33
	Struct            ValueType = 34
	StructList        ValueType = 35
	UUID              ValueType = 36
	TimeUUID          ValueType = 37
	UUIDList          ValueType = 38
	TimeUUIDList      ValueType = 39
	UUIDSet           ValueType = 40
	TimeUUIDSet       ValueType = 41
	ValueList         ValueType = 42
	ValueSet          ValueType = 43
	Decimal           ValueType = 44
	DecimalList       ValueType = 45
	DecimalSet        ValueType = 46
	ScalarMap         ValueType = 47
	ZonedTimestamp    ValueType = 48
)

// Types of parsed values that are no Feast type: a request's JSON carries
// them until a declared type decides what they become. They are numbered
// past every Feast type so that no switch on Feast types matches them.
const (
	// UntypedList is a JSON list whose element type is unknown: empty, or
	// nulls only. List holds its (null) elements.
	UntypedList ValueType = Null + 100
	// UntypedJSONList is a "[]" inside a parsed JSON document (a Json or Map
	// value), whose element type is unknown.
	UntypedJSONList ValueType = 1000
)

var valueTypeNames = map[ValueType]string{
	0: "INVALID", 1: "BYTES", 2: "STRING", 3: "INT32", 4: "INT64", 5: "DOUBLE", 6: "FLOAT", 7: "BOOL",
	8: "UNIX_TIMESTAMP", 11: "BYTES_LIST", 12: "STRING_LIST", 13: "INT32_LIST", 14: "INT64_LIST",
	15: "DOUBLE_LIST", 16: "FLOAT_LIST", 17: "BOOL_LIST", 18: "UNIX_TIMESTAMP_LIST", 19: "NULL",
	20: "MAP", 21: "MAP_LIST", 22: "BYTES_SET", 23: "STRING_SET", 24: "INT32_SET", 25: "INT64_SET",
	26: "DOUBLE_SET", 27: "FLOAT_SET", 28: "BOOL_SET", 29: "UNIX_TIMESTAMP_SET", 30: "PDF_BYTES", 31: "IMAGE_BYTES", 32: "JSON",
	33: "JSON_LIST", 34: "STRUCT", 35: "STRUCT_LIST", 36: "UUID", 37: "TIME_UUID", 38: "UUID_LIST",
	39: "TIME_UUID_LIST", 40: "UUID_SET", 41: "TIME_UUID_SET", 42: "VALUE_LIST", 43: "VALUE_SET",
	44: "DECIMAL", 45: "DECIMAL_LIST", 46: "DECIMAL_SET", 47: "SCALAR_MAP", 48: "ZONED_TIMESTAMP",
}

// String returns Feast's enum name of the type.
func (t ValueType) String() string {
	if s, ok := valueTypeNames[t]; ok {
		return s
	}
	return "VALUE_TYPE_" + strconv.Itoa(int(t))
}

// IsList reports whether the type is one of the scalar list types.
func (t ValueType) IsList() bool { return t >= BytesList && t <= UnixTimestampList }

// ListOf returns the list type whose elements are of scalar type t (Feast
// numbers X_LIST as X + 10).
func (t ValueType) ListOf() ValueType { return t + (BytesList - Bytes) }

// IsSet reports whether the type is one of the scalar set types.
func (t ValueType) IsSet() bool { return t >= BytesSet && t <= UnixTimestampSet }

// SetElem returns the scalar type of a set type (Feast numbers X_SET as
// X + 21).
func (t ValueType) SetElem() ValueType {
	if t.IsSet() {
		return t - (BytesSet - Bytes)
	}
	return t
}

// Elem returns the scalar type of a list type.
func (t ValueType) Elem() ValueType {
	if t.IsList() {
		return t - (BytesList - Bytes)
	}
	return t
}

// Value is a decoded scalar or scalar list: what a request carries (entity
// keys, request data for on-demand views) and what on-demand views compute.
// Stored feature values never pass through it; they stay serialized bytes.
// Type Invalid means an unset (null) value.
type Value struct {
	Type ValueType
	I    int64   // Int32, Int64, UnixTimestamp, Bool (0/1)
	F    float64 // Double, Float (float32 widened)
	S    string  // String, Bytes (raw bytes)
	List []Value // list types: elements of type Type.Elem()
}

// IsNull reports whether the value is unset.
func (v Value) IsNull() bool { return v.Type == Invalid || v.Type == Null }

// Int64Value returns an INT64 Value.
func Int64Value(i int64) Value { return Value{Type: Int64, I: i} }

// StringValue returns a STRING Value.
func StringValue(s string) Value { return Value{Type: String, S: s} }

// DoubleValue returns a DOUBLE Value.
func DoubleValue(f float64) Value { return Value{Type: Double, F: f} }

// BoolValue returns a BOOL Value.
func BoolValue(b bool) Value {
	if b {
		return Value{Type: Bool, I: 1}
	}
	return Value{Type: Bool}
}

// Equal reports whether two values are the same typed value; used to group
// duplicate entity rows.
func (v Value) Equal(o Value) bool {
	if v.Type != o.Type || v.I != o.I || v.S != o.S || len(v.List) != len(o.List) {
		return false
	}
	if v.F != o.F && !(math.IsNaN(v.F) && math.IsNaN(o.F)) {
		return false
	}
	for i := range v.List {
		if !v.List[i].Equal(o.List[i]) {
			return false
		}
	}
	return true
}
