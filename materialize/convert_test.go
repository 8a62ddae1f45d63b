package materialize

import (
	"encoding/hex"
	"math"
	"testing"

	"github.com/feastgo/feastgo/core"
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
