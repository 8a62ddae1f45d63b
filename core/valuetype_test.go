package core_test

import (
	"testing"

	"github.com/feastgo/feastgo/core"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// Every named ValueType is Feast's number for Feast's name, and every value
// of Feast's enum has a named constant here.
func TestValueTypesAreFeasts(t *testing.T) {
	named := map[core.ValueType]string{
		core.Invalid: "INVALID", core.Bytes: "BYTES", core.String: "STRING", core.Int32: "INT32",
		core.Int64: "INT64", core.Double: "DOUBLE", core.Float: "FLOAT", core.Bool: "BOOL",
		core.UnixTimestamp: "UNIX_TIMESTAMP", core.BytesList: "BYTES_LIST", core.StringList: "STRING_LIST",
		core.Int32List: "INT32_LIST", core.Int64List: "INT64_LIST", core.DoubleList: "DOUBLE_LIST",
		core.FloatList: "FLOAT_LIST", core.BoolList: "BOOL_LIST", core.UnixTimestampList: "UNIX_TIMESTAMP_LIST",
		core.Null: "NULL", core.Map: "MAP", core.MapList: "MAP_LIST", core.BytesSet: "BYTES_SET",
		core.StringSet: "STRING_SET", core.Int32Set: "INT32_SET", core.Int64Set: "INT64_SET",
		core.DoubleSet: "DOUBLE_SET", core.FloatSet: "FLOAT_SET", core.BoolSet: "BOOL_SET",
		core.UnixTimestampSet: "UNIX_TIMESTAMP_SET", core.PdfBytes: "PDF_BYTES", core.ImageBytes: "IMAGE_BYTES",
		core.JSON: "JSON", core.JSONList: "JSON_LIST", core.Struct: "STRUCT", core.StructList: "STRUCT_LIST",
		core.UUID: "UUID", core.TimeUUID: "TIME_UUID", core.UUIDList: "UUID_LIST", core.TimeUUIDList: "TIME_UUID_LIST",
		core.UUIDSet: "UUID_SET", core.TimeUUIDSet: "TIME_UUID_SET", core.ValueList: "VALUE_LIST",
		core.ValueSet: "VALUE_SET", core.Decimal: "DECIMAL", core.DecimalList: "DECIMAL_LIST",
		core.DecimalSet: "DECIMAL_SET", core.ScalarMap: "SCALAR_MAP", core.ZonedTimestamp: "ZONED_TIMESTAMP",
	}
	for n, name := range typespb.ValueType_Enum_name {
		if got, ok := named[core.ValueType(n)]; !ok || got != name {
			t.Errorf("Feast's %s (%d): our constant names %q", name, n, got)
		}
	}
	for vt, name := range named {
		// PDF_BYTES and IMAGE_BYTES are the Python SDK's, not in the proto.
		if vt != core.PdfBytes && vt != core.ImageBytes && typespb.ValueType_Enum_name[int32(vt)] != name {
			t.Errorf("our %q is %d, which Feast does not name so", name, vt)
		}
		if vt.String() != name {
			t.Errorf("ValueType(%d).String() = %q, want %q", vt, vt.String(), name)
		}
	}
	for _, pseudo := range []core.ValueType{core.UntypedList, core.UntypedJSONList} {
		if _, ok := typespb.ValueType_Enum_name[int32(pseudo)]; ok {
			t.Errorf("pseudo type %d collides with a Feast type", pseudo)
		}
	}
}

func TestListAndSetTypes(t *testing.T) {
	for s := core.Bytes; s <= core.UnixTimestamp; s++ {
		l, set := s.ListOf(), s+(core.BytesSet-core.Bytes)
		if !l.IsList() || l.Elem() != s || typespb.ValueType_Enum_name[int32(l)] != typespb.ValueType_Enum_name[int32(s)]+"_LIST" {
			t.Errorf("%s: list type %s", s, l)
		}
		if !set.IsSet() || set.SetElem() != s || typespb.ValueType_Enum_name[int32(set)] != typespb.ValueType_Enum_name[int32(s)]+"_SET" {
			t.Errorf("%s: set type %s", s, set)
		}
	}
	if core.Map.IsSet() || core.Null.IsList() || core.String.SetElem() != core.String {
		t.Error("a type that is neither list nor set was taken for one")
	}
}
