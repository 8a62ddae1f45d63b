package client

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func TestParseDocument(t *testing.T) {
	got, err := parseDocument([]byte(` {"a": [1, 2.5, NaN, -Infinity, Infinity, null, "x\"\u00e9\ud83d\ude00", true, [], -0, 1e3, 12345678901234567890],
		"b": {"c": [[1], {"d": false}]}} `))
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	a := m["a"].([]any)
	if a[0] != int64(1) || a[1] != 2.5 || !math.IsNaN(a[2].(float64)) || a[3] != math.Inf(-1) || a[4] != math.Inf(1) ||
		a[5] != nil || a[6] != "x\"é😀" || a[7] != true || len(a[8].([]any)) != 0 || a[9] != int64(0) || a[10] != 1000.0 || a[11] != 1.2345678901234567e19 {
		t.Fatalf("a = %#v", a)
	}
	if want := map[string]any{"c": []any{[]any{int64(1)}, map[string]any{"d": false}}}; !reflect.DeepEqual(m["b"], want) {
		t.Fatalf("b = %#v", m["b"])
	}
	for _, bad := range []string{``, `{`, `[1,]`, `[1 2]`, `{"a":1} x`, `nan`, `01`, `1.`, `"abc`, `{"a" 1}`, `{1: 2}`, `"\x"`} {
		if _, err := parseDocument([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzParseDocument: on standard JSON it agrees with encoding/json (up to
// the integer/float split), and it never panics.
func FuzzParseDocument(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,NaN]}`, `[]`, `"\u00e9"`, `-Infinity`, `{"metadata":{"feature_names":["a"]},"results":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseDocument(b)
		var std any
		if json.Unmarshal(b, &std) != nil {
			return
		}
		if err != nil {
			t.Fatalf("%q: valid JSON refused: %v", b, err)
		}
		if !reflect.DeepEqual(normal(got), normal(std)) {
			t.Fatalf("%q: got %#v, encoding/json %#v", b, got, std)
		}
	})
}

func normal(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case []any:
		for i := range x {
			x[i] = normal(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normal(x[k])
		}
	}
	return v
}
