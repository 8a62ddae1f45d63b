package feastjson

import (
	"testing"

	"github.com/feastgo/feastgo/ingest"
)

// JSON objects in a write's df keep their keys in order (a repeated key:
// first place, last value, as the Python dict Feast builds) and their
// values, nested ones too, so MAP, STRUCT and JSON features can be written
// from them.
func TestWriteRequestKeepsObjects(t *testing.T) {
	req, err := ParseWriteRequest([]byte(`{"feature_view_name": "v", "df": {
		"m": [{"b": 1, "a": {"x": [1, 2], "y": {}}, "b": "last"}, null],
		"l": [[[1], [{"k": true}]]]}}`), "feature_view_name", false)
	if err != nil {
		t.Fatal(err)
	}
	cols := req.Frame.Columns
	if len(cols) != 2 || cols[0].Name != "m" || cols[1].Name != "l" {
		t.Fatalf("columns %+v", cols)
	}
	obj := cols[0].Values[0]
	if obj.Type != ingest.ObjectValue || len(obj.List) != 4 ||
		obj.List[0].S != "b" || obj.List[1].S != "last" || obj.List[2].S != "a" {
		t.Fatalf("object %+v", obj)
	}
	inner := obj.List[3]
	if inner.Type != ingest.ObjectValue || len(inner.List) != 4 || inner.List[0].S != "x" ||
		len(inner.List[1].List) != 2 || inner.List[1].List[1].I != 2 ||
		inner.List[3].Type != ingest.ObjectValue || len(inner.List[3].List) != 0 {
		t.Fatalf("nested object %+v", inner)
	}
	if !cols[0].Values[1].IsNull() {
		t.Fatalf("null row %+v", cols[0].Values[1])
	}
	l := cols[1].Values[0]
	if len(l.List) != 2 || l.List[1].List[0].Type != ingest.ObjectValue || l.List[1].List[0].List[0].S != "k" {
		t.Fatalf("list of lists %+v", l)
	}
	for _, bad := range []string{`{"a" 1}`, `{"a": 1,}`, `{1: 2}`, `{"a": 1`} {
		_, err := ParseWriteRequest([]byte(`{"feature_view_name": "v", "df": {"m": [`+bad+`]}}`), "feature_view_name", false)
		if _, ok := err.(*syntaxError); !ok {
			t.Errorf("%s: %v, want a JSON syntax error", bad, err)
		}
	}
}
