package ingest

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/core"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/typemap"
)

// complexGolden is one case of testdata/complex_golden.json, written by
// testdata/gen_complex_golden.py from Feast 0.67's own conversion.
type complexGolden struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	TypeNumber int      `json:"type_number"`
	Column     string   `json:"column"`
	Values     []string `json:"values"`
	Error      string   `json:"error"`
}

// canonical parses a serialized Value and sorts the elements of sets:
// Feast writes them in Python's hash order, we in the order of the data
// (readers get the same set). Map entries compare unordered in proto.Equal.
func canonical(t *testing.T, b []byte) *typespb.Value {
	t.Helper()
	v := &typespb.Value{}
	if err := proto.Unmarshal(b, v); err != nil {
		t.Fatalf("%x: %v", b, err)
	}
	switch s := v.GetVal().(type) {
	case *typespb.Value_StringSetVal:
		slices.Sort(s.StringSetVal.Val)
	case *typespb.Value_Int64SetVal:
		slices.Sort(s.Int64SetVal.Val)
	case *typespb.Value_Int32SetVal:
		slices.Sort(s.Int32SetVal.Val)
	case *typespb.Value_DoubleSetVal:
		slices.Sort(s.DoubleSetVal.Val)
	case *typespb.Value_BoolSetVal:
		slices.SortFunc(s.BoolSetVal.Val, func(a, b bool) int {
			if a == b {
				return 0
			}
			if !a {
				return -1
			}
			return 1
		})
	}
	return v
}

// Request columns of MAP, STRUCT, JSON, their lists, UUIDs, decimals and
// sets are stored as Feast stores them, and refused where Feast fails.
func TestComplexColumnsMatchFeast(t *testing.T) {
	b, err := os.ReadFile("testdata/complex_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []complexGolden
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			tc, err := typeColumn(orderedColumn(t, c.Column))
			var vals []core.Value
			if err == nil {
				vals, err = convertColumn(&tc, core.ValueType(c.TypeNumber), false, "feature c")
			}
			if c.Error != "" {
				if err == nil || core.KindOf(err) != core.KindInvalidArgument {
					t.Fatalf("Feast fails (%s); we: %v, %v, want an invalid-argument error", c.Error, vals, err)
				}
				if !strings.Contains(err.Error(), "df.c") {
					t.Fatalf("the error does not name the column: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(vals) != len(c.Values) {
				t.Fatalf("%d values, want %d", len(vals), len(c.Values))
			}
			for i, want := range c.Values {
				got := typemap.AppendValue(nil, vals[i])
				wb, _ := hex.DecodeString(want)
				if len(got) != len(wb) || !proto.Equal(canonical(t, got), canonical(t, wb)) {
					t.Errorf("row %d: got %x, Feast stores %s", i, got, want)
				}
			}
		})
	}
}

// orderedColumn parses a JSON column as the request parser does: objects
// keep their keys in order (a repeated key: first place, last value).
func orderedColumn(t *testing.T, js string) Column {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(js))
	d.UseNumber()
	var val func() core.Value
	val = func() core.Value {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		switch x := tok.(type) {
		case json.Delim:
			switch x {
			case '[':
				l := core.Value{Type: core.UntypedList}
				for d.More() {
					l.List = append(l.List, val())
				}
				_, _ = d.Token()
				return l
			case '{':
				o := core.Value{Type: ObjectValue}
			keys:
				for d.More() {
					k, _ := d.Token()
					v := val()
					for i := 0; i < len(o.List); i += 2 {
						if o.List[i].S == k.(string) {
							o.List[i+1] = v
							continue keys
						}
					}
					o.List = append(o.List, core.StringValue(k.(string)), v)
				}
				_, _ = d.Token()
				return o
			}
		case nil, bool, string, json.Number:
			return jsonValue(t, x)
		}
		t.Fatalf("unexpected JSON token %v", tok)
		return core.Value{}
	}
	all := val()
	return Column{Name: "c", Values: all.List}
}
