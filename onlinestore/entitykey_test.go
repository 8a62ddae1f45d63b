package onlinestore

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/feastgo/feastgo/core"
)

func TestAppendEntityKeyContractVectors(t *testing.T) {
	single := []KeyPart{{Name: "driver_id", Value: core.Int64Value(1001)}}
	multi := []KeyPart{{Name: "driver_id", Value: core.Int64Value(5)}, {Name: "customer_id", Value: core.StringValue("abc")}}
	SortKeyParts(multi)
	dummy := []KeyPart{{Name: "__dummy_id", Value: core.StringValue("")}}
	cases := []struct {
		name    string
		parts   []KeyPart
		version int
		want    string
	}{
		{"single v3", single, 3, "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 e903000000000000"},
		{"single v2", single, 2, "02000000 6472697665725f6964 04000000 08000000 e903000000000000"},
		{"single v1", single, 1, "02000000 6472697665725f6964 04000000 04000000 e9030000"},
		{"multi v3", multi, 3, "02000000 02000000 0b000000 637573746f6d65725f6964 02000000 09000000 6472697665725f6964 02000000 03000000 616263 04000000 08000000 0500000000000000"},
		{"multi v2", multi, 2, "02000000 637573746f6d65725f6964 02000000 6472697665725f6964 02000000 03000000 616263 04000000 08000000 0500000000000000"},
		{"dummy v3", dummy, 3, "01000000 02000000 0a000000 5f5f64756d6d795f6964 02000000 00000000"},
		{"empty v3", nil, 3, "00000000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := AppendEntityKey(nil, c.parts, c.version)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ReplaceAll(c.want, " ", ""); hex.EncodeToString(got) != want {
				t.Fatalf("got %x, want %s", got, want)
			}
		})
	}
}

func TestAppendEntityKeyRejectsUnsupportedTypes(t *testing.T) {
	for _, v := range []core.Value{core.DoubleValue(1.5), core.BoolValue(true), {}} {
		_, err := AppendEntityKey(nil, []KeyPart{{Name: "k", Value: v}}, 3)
		if err == nil || core.KindOf(err) != core.KindInvalidArgument {
			t.Fatalf("value %+v: got %v, want an invalid-argument error", v, err)
		}
	}
}

func TestParseEntityKeyV3RoundTrip(t *testing.T) {
	parts := []KeyPart{{Name: "a", Value: core.Value{Type: core.Int32, I: -7}}, {Name: "b", Value: core.Value{Type: core.UnixTimestamp, I: 1640995200}}, {Name: "c", Value: core.Value{Type: core.Bytes, S: "\x00\x01"}}}
	b, err := AppendEntityKey(nil, parts, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEntityKeyV3(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range parts {
		if got[i].Name != parts[i].Name || !got[i].Value.Equal(parts[i].Value) {
			t.Fatalf("part %d: got %+v want %+v", i, got[i], parts[i])
		}
	}
}

func FuzzParseEntityKeyV3(f *testing.F) {
	b, _ := AppendEntityKey(nil, []KeyPart{{Name: "driver_id", Value: core.Int64Value(1001)}}, 3)
	f.Add(b)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := ParseEntityKeyV3(data)
		if err != nil {
			return
		}
		again, err := AppendEntityKey(nil, parts, 3)
		if err != nil {
			t.Fatalf("parsed key does not serialize: %v", err)
		}
		if string(again) != string(data) {
			t.Fatalf("round trip changed bytes: %x -> %x", data, again)
		}
	})
}
