package materialize

import (
	"encoding/hex"
	"math"
	"testing"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/typemap"
)

// Expected bytes are what Feast 0.67.0's python_values_to_proto_values
// produced for the same Arrow cells (pyarrow → to_numpy → proto), printed
// with SerializeToString().hex().
func TestConvertMatchesFeast(t *testing.T) {
	d := func(f float64) core.Value { return core.Value{Type: core.Double, F: f} }
	f32 := func(f float32) core.Value { return core.Value{Type: core.Float, F: float64(f)} }
	i64 := func(i int64) core.Value { return core.Value{Type: core.Int64, I: i} }
	ts := func(s int64) core.Value { return core.Value{Type: core.UnixTimestamp, I: s} }
	null := core.Value{}
	list := func(t core.ValueType, es ...core.Value) core.Value { return core.Value{Type: t, List: es} }
	cases := []struct {
		name string
		in   core.Value
		want core.ValueType
		hex  string
	}{
		{"timestamp", ts(1735689601), core.UnixTimestamp, "40818bd2bb06"},
		{"null timestamp is NaT", null, core.UnixTimestamp, "4080808080808080808001"},
		{"pre-epoch timestamp", ts(-1), core.UnixTimestamp, "40ffffffffffffffffff01"},
		{"int64", i64(1), core.Int64, "2001"},
		{"null int64", null, core.Int64, ""},
		{"int32", core.Value{Type: core.Int32, I: 1}, core.Int32, "1801"},
		{"big int64", i64(1<<53 + 1), core.Int64, "208180808080808010"},
		{"double", d(1.5), core.Double, "29000000000000f83f"},
		{"NaN double is null", d(math.NaN()), core.Double, ""},
		{"inf double", d(math.Inf(1)), core.Double, "29000000000000f07f"},
		{"float", f32(1.5), core.Float, "350000c03f"},
		{"NaN float is null", f32(float32(math.NaN())), core.Float, ""},
		{"double rounded to float", d(0.1), core.Float, "35cdcccc3d"},
		{"bool", core.BoolValue(true), core.Bool, "3801"},
		{"int as bool", i64(0), core.Bool, "3800"},
		{"string", core.StringValue("a"), core.String, "120161"},
		{"int as string", i64(1), core.String, "120131"},
		{"float as string", d(2), core.String, "1203322e30"},
		{"int as double", i64(2), core.Double, "290000000000000040"},
		{"int as float", i64(1), core.Float, "350000803f"},
		{"double truncated to int", d(-1.7), core.Int64, "20ffffffffffffffffff01"},
		{"bytes", core.Value{Type: core.Bytes, S: "x"}, core.Bytes, "0a0178"},
		{"double list with null", list(core.DoubleList, d(1.5), null), core.DoubleList, "7a120a10000000000000f83f000000000000f87f"},
		{"empty double list", list(core.DoubleList), core.DoubleList, "7a00"},
		{"null list", null, core.DoubleList, ""},
		{"float list with null", list(core.FloatList, f32(1.5), null), core.FloatList, "82010a0a080000c03f0000c07f"},
		{"int64 list", list(core.Int64List, i64(1), i64(2)), core.Int64List, "72040a020102"},
		{"int32 list", list(core.Int32List, core.Value{Type: core.Int32, I: 1}, core.Value{Type: core.Int32, I: 2}), core.Int32List, "6a040a020102"},
		{"string list with null", list(core.StringList, core.StringValue("a"), null), core.StringList, "62050a01610a00"},
		{"bool list with null", list(core.BoolList, core.BoolValue(true), null), core.BoolList, "8a01040a020100"},
		{"timestamp list with null", list(core.UnixTimestampList, ts(1735689601), null), core.UnixTimestampList, "9201110a0f818bd2bb0680808080808080808001"},
		{"bytes list with null", list(core.BytesList, core.Value{Type: core.Bytes, S: "a"}, null), core.BytesList, "5a050a01610a00"},
		{"empty bool list", list(core.BoolList), core.BoolList, "8a0100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.List = append([]core.Value(nil), c.in.List...)
			v, err := convert(in, c.want)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(core.AppendValueProto(nil, v)); got != c.hex {
				t.Errorf("got %s, want %s", got, c.hex)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	cases := []struct {
		name string
		in   core.Value
		want core.ValueType
	}{
		{"int32 overflow", core.Value{Type: core.Int64, I: 1 << 40}, core.Int32},
		{"infinite to int", core.Value{Type: core.Double, F: math.Inf(1)}, core.Int64},
		{"string to double", core.StringValue("x"), core.Double},
		{"timestamp to string", core.Value{Type: core.UnixTimestamp, I: 5}, core.String},
		{"scalar to list", core.Value{Type: core.Int64, I: 1}, core.Int64List},
		{"map type", core.Value{Type: core.Int64, I: 1}, core.ValueType(20)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if v, err := convert(c.in, c.want); err == nil {
				t.Errorf("want an error, got %+v", v)
			}
		})
	}
}

// Expected bytes are Feast 0.67.0's for the same cells (where Feast's own
// order is deterministic: one map entry, sets whose Python hash order is
// their order here).
func TestComplexMatchesFeast(t *testing.T) {
	s := core.StringValue
	i64 := func(i int64) core.Value { return core.Value{Type: core.Int64, I: i} }
	list := func(t core.ValueType, es ...core.Value) core.Value { return core.Value{Type: t, List: es} }
	cases := []struct {
		name string
		in   core.Value
		want core.ValueType
		hex  string
	}{
		{"map with a null", s(`{"": null}`), core.Map, "a201060a040a001200"},
		{"map with an int list", s(`{"k": [1, 2]}`), core.Map, "a2010d0a0b0a016b120672040a020102"},
		{"map with a float list", s(`{"k": [1.5]}`), core.Map, "a201130a110a016b120c7a0a0a08000000000000f83f"},
		{"nested map", s(`{"n": {"x": true}}`), core.Map, "a201130a110a016e120ca201090a070a017812023801"},
		{"empty map", s(`{}`), core.Map, "a20100"},
		{"map list", s(`[{"a": "1"}, {}]`), core.MapList, "aa010e0a0a0a080a016112031201310a00"},
		{"empty map list", s(`[]`), core.MapList, "aa0100"},
		{"value list", list(offlinestore.NestedListCell, list(core.Int64List, i64(1), i64(2)), list(core.Int64List, i64(3))), core.ValueList, "d2020f0a0672040a0201020a0572030a0103"},
		{"empty value list", list(offlinestore.NestedListCell), core.ValueList, "d20200"},
		{"value list of an empty list", list(offlinestore.NestedListCell, list(core.Int64List)), core.ValueList, "d202020a00"},
		{"value set", list(offlinestore.NestedListCell, list(core.Int64List, i64(1), i64(2)), list(core.Int64List, i64(3))), core.ValueSet, "da020f0a0672040a0201020a0572030a0103"},
		{"uuid", s("12-ab"), core.UUID, "a2020531322d6162"},
		{"pdf bytes", core.Value{Type: core.Bytes, S: "%P"}, core.PdfBytes, "0a022550"},
		{"decimal", s("1E+3"), core.Decimal, "e2020431452b33"},
		{"json", s("[1, 2]"), core.JSON, "8202065b312c20325d"},
		{"uuid list", list(core.StringList, s("a"), s("b")), core.UUIDList, "b202060a01610a0162"},
		{"empty uuid list", list(core.StringList), core.UUIDList, "b20200"},
		{"json list", list(core.StringList, s(`{"a": 1}`), s("[1]")), core.JSONList, "8a020f0a087b2261223a20317d0a035b315d"},
		{"int32 set", list(core.Int32List, core.Value{Type: core.Int32, I: 1}, core.Value{Type: core.Int32, I: 3}, core.Value{Type: core.Int32, I: 1}), 24, "c201040a020103"},
		{"float set", list(core.FloatList, core.Value{Type: core.Float, F: 1.5}, core.Value{Type: core.Float, F: 1.5}, core.Value{Type: core.Float, F: 2.5}), 27, "da010a0a080000c03f00002040"},
		{"bool set", list(core.BoolList, core.BoolValue(false), core.BoolValue(true), core.BoolValue(false)), 28, "e201040a020001"},
		{"struct of one field", list(offlinestore.StructCell, s("age"), core.Value{Type: core.Int32, I: 30}), core.Struct, "92020b0a090a036167651202201e"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := convert(c.in, c.want)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(typemap.AppendValue(nil, v)); got != c.hex {
				t.Errorf("got %s, want %s", got, c.hex)
			}
		})
	}
	for _, bad := range []struct {
		in   core.Value
		want core.ValueType
	}{
		{s("not json"), core.JSON},
		{s(`[1, 2]`), core.Map},
		{s(`{"k": []}`), core.Map},
		{s(`{"k": [1, "two"]}`), core.Map},
		{s(`[1]`), core.MapList},
		{i64(1), core.UUID},
	} {
		if v, err := convert(bad.in, bad.want); err == nil {
			t.Errorf("%v as %s: want an error, got %+v", bad.in, bad.want, v)
		}
	}
}

// A string cell declared INT64 is Python's int() of it, as Feast's int(x)
// does: " 12 " and "1_000" used to be refused (strconv's grammar).
func TestConvertStringToIntIsPythons(t *testing.T) {
	for s, want := range map[string]int64{" 12 ": 12, "1_000": 1000, "-3": -3} {
		v, err := convert(core.StringValue(s), core.Int64)
		if err != nil || v.Type != core.Int64 || v.I != want {
			t.Errorf("convert(%q) = %+v, %v; want INT64 %d", s, v, err, want)
		}
	}
	for _, s := range []string{"1__0", "1.0", "", "9223372036854775808"} {
		if v, err := convert(core.StringValue(s), core.Int64); err == nil {
			t.Errorf("convert(%q) = %+v, want an error", s, v)
		}
	}
}
