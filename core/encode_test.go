package core

import (
	"encoding/hex"
	"testing"
)

// Vectors from the contract (section 1.5), checked there with protoc.
func TestAppendValueProtoContractVectors(t *testing.T) {
	cases := []struct {
		v    Value
		want string
	}{
		{Int64Value(1001), "20e907"},
		{Int64Value(308), "20b402"},
		{Value{Type: Float, F: 0.5}, "350000003f"},
		{DoubleValue(0.5), "29000000000000e03f"},
		{StringValue("abc"), "1203616263"},
		{BoolValue(true), "3801"},
		{Value{Type: UnixTimestamp, I: 1640995200}, "4080b3be8e06"},
		{Value{Type: Int64List, List: []Value{Int64Value(1), Int64Value(2), Int64Value(3)}}, "72050a03010203"},
		{Value{Type: StringList, List: []Value{StringValue("a"), StringValue("bc")}}, "62070a01610a026263"},
		{Value{Type: Int64List}, "7200"},
		{Value{}, ""},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(AppendValueProto(nil, c.v)); got != c.want {
			t.Errorf("%+v: got %s want %s", c.v, got, c.want)
		}
	}
}
