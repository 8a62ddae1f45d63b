package feastjson

import (
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/feastgo/feastgo/core"
)

func TestAppendRawValueJSON(t *testing.T) {
	cases := []struct {
		name, hex, want string
	}{
		{"empty is null", "", "null"},
		{"int64", "20e907", "1001"},
		{"float widened", "350000003f", "0.5"},
		{"double", "29000000000000e03f", "0.5"},
		{"string", "1203616263", `"abc"`},
		{"bool", "3801", "true"},
		{"unix ts", "4080b3be8e06", "1640995200"},
		{"int64 list packed", "72050a03010203", "[1,2,3]"},
		{"null_val", "980100", "null"},
		{"bytes base64", "0a03010203", `"AQID"`},
		{"string list", "62070a01610a026263", `["a","bc"]`},
		{"negative int32", "18ffffffffffffffffff01", "-1"},
		{"last oneof wins", "20011203616263", `"abc"`},
		{"map", "a2010d0a0b0a01611206120478797a7a", `{"a":"xyzz"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := hex.DecodeString(c.hex)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendRawValue(nil, b)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestAppendRawValueJSONRejectsGarbage(t *testing.T) {
	for _, h := range []string{"20", "12ff", "72ff"} {
		b, _ := hex.DecodeString(h)
		if _, err := AppendRawValue(nil, b); err == nil {
			t.Errorf("%s: no error", h)
		}
	}
}

func TestAppendJSONStringLikePython(t *testing.T) {
	got := string(AppendString(nil, "a\"b\\c\n\x01é<>&\u2028"))
	want := `"a\"b\\c\n\u0001é<>&` + "\u2028" + `"`
	if got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestTimestampFormat(t *testing.T) {
	cases := []struct {
		ts   core.Timestamp
		want string
	}{
		{core.Timestamp{}, "1970-01-01T00:00:00Z"},
		{core.Timestamp{Seconds: 1640995200}, "2022-01-01T00:00:00Z"},
		{core.Timestamp{Seconds: 1640995200, Nanos: 500_000_000}, "2022-01-01T00:00:00.500Z"},
		{core.Timestamp{Seconds: 1640995200, Nanos: 123_000}, "2022-01-01T00:00:00.000123Z"},
		{core.Timestamp{Seconds: 1640995200, Nanos: 7}, "2022-01-01T00:00:00.000000007Z"},
	}
	for _, c := range cases {
		if got := string(c.ts.AppendRFC3339(nil)); got != c.want {
			t.Errorf("%+v: got %s want %s", c.ts, got, c.want)
		}
	}
}

func FuzzAppendRawValueJSON(f *testing.F) {
	for _, h := range []string{"20e907", "72050a03010203", "a2010d0a0b0a01611206120478797a7a"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := AppendRawValue(nil, b) // must not panic
		if err != nil {
			return
		}
		// Whatever the stored bytes, a value printed is JSON our own
		// parser reads back.
		if !json.Valid(out) {
			t.Fatalf("%x printed as %s: not JSON", b, out)
		}
		if _, err := parseValue(out); err != nil {
			t.Fatalf("%x printed as %s, which does not parse: %v", b, out, err)
		}
	})
}

func TestStatusJSON(t *testing.T) {
	for s := core.FieldStatus(-1); s <= core.StatusOutsideMaxAge+2; s++ {
		if got, want := statusJSON(s), `,"`+s.String()+`"`; got != want {
			t.Errorf("statusJSON(%d) = %s, want %s", s, got, want)
		}
	}
}
