package transformations

import (
	"context"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/registry"
)

func TestInputReads(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // nil: not provable
	}{
		{"subscripts", "def f(inputs):\n    return {\"x\": [a + k for a, k in zip(inputs[\"a\"], inputs[\"k\"])]}\n", []string{"a", "k"}},
		{"get with default", "def f(d):\n    return {\"x\": d.get(\"a\", [d[\"b\"]])}\n", []string{"a", "b"}},
		{"nested function and lambda", "def f(inputs):\n    def g(i):\n        return inputs[\"a\"][i]\n    h = lambda: inputs[\"b\"]\n    return {\"x\": [g(0), h()]}\n", []string{"a", "b"}},
		{"write counts as read", "def f(inputs):\n    inputs[\"a\"] = [1]\n    return {\"x\": inputs[\"a\"]}\n", []string{"a"}},
		{"helpers before the udf", "def helper(v):\n    return v * 2\n\ndef f(inputs):\n    return {\"x\": [helper(v) for v in inputs[\"a\"]]}\n", []string{"a"}},
		{"default on the parameter", "def f(inputs=None):\n    return {\"x\": inputs[\"a\"]}\n", []string{"a"}},
		{"no reads", "def f(inputs):\n    return {\"x\": [1.0]}\n", []string{}},
		{"computed key", "def f(inputs):\n    k = \"a\"\n    return {\"x\": inputs[k]}\n", nil},
		{"iteration", "def f(inputs):\n    return {\"x\": [inputs[k] for k in inputs]}\n", nil},
		{"len", "def f(inputs):\n    return {\"x\": [len(inputs)]}\n", nil},
		{"items", "def f(inputs):\n    return {k: v for k, v in inputs.items()}\n", nil},
		{"passed on", "def g(d):\n    return d[\"a\"]\n\ndef f(inputs):\n    return {\"x\": g(inputs)}\n", nil},
		{"rebound", "def f(inputs):\n    inputs = {\"a\": [1.0]}\n    return {\"x\": inputs[\"a\"]}\n", nil},
		{"shadowed by a comprehension", "def f(inputs):\n    return {\"x\": [inputs for inputs in inputs[\"a\"]]}\n", nil},
		{"aliased", "def f(inputs):\n    d = inputs\n    return {\"x\": d[\"a\"]}\n", nil},
		{"get with a computed key", "def f(inputs):\n    return {\"x\": inputs.get(\"a\" + \"\")}\n", nil},
		{"udf redefined", "def f(inputs):\n    return {\"x\": inputs[\"a\"]}\n\ndef f(inputs):\n    return {\"x\": inputs[\"b\"]}\n", nil},
		{"star args", "def f(*args):\n    return {\"x\": args[0][\"a\"]}\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := diffCase{mode: "python", body: tc.body, outputs: []registry.Field{fld("x", core.Double)}}
			odfv := c.compile(t)
			p, reason := compilePython(odfv, 1_000_000)
			if p == nil {
				t.Fatalf("not compiled: %s", reason)
			}
			var got []string
			if p.reads != nil {
				got = []string{}
				for k := range p.reads {
					got = append(got, k)
				}
				sort.Strings(got)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("reads %v, want %v", got, tc.want)
			}
		})
	}
}

// A python-mode ODFV whose source view has a bytes feature the UDF never
// reads runs natively: with no transformation service at all it answers.
// Reading the bytes feature, or reading the inputs in a way the analysis
// cannot follow, still needs the service. TestDifferentialWithFeast checks
// the native answers equal Feast's (the py_bytes_source_* cases).
func TestUnreadBytesFeatureStaysNative(t *testing.T) {
	var cases []diffCase
	for _, c := range handCases() {
		if len(c.name) > len("py_bytes_source_") && c.name[:len("py_bytes_source_")] == "py_bytes_source_" {
			cases = append(cases, c)
		}
	}
	if len(cases) != 6 {
		t.Fatalf("%d bytes-source cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			odfv := c.compile(t)
			in, _ := c.inputs()
			// Nothing listens there: a delegated request fails KindUnavailable.
			eng := New(Options{Endpoint: "127.0.0.1:1", Timeout: 5 * time.Second})
			cols, err := eng.Transform(context.Background(), odfv, c.outputFields(), in, c.rows, c.fullNames)
			if !c.native {
				if core.KindOf(err) != core.KindUnavailable {
					t.Fatalf("err = %v, cols %s: want the delegation's KindUnavailable", err, describeCols(cols))
				}
				return
			}
			if err != nil {
				t.Fatalf("not native: %v", err)
			}
			if c.fullNames {
				if len(cols) != 0 { // Feast drops python-mode outputs with full names
					t.Fatalf("cols %s", describeCols(cols))
				}
				return
			}
			if len(cols) != 2 || cols[0].Name != "x" || cols[1].Name != "y" {
				t.Fatalf("cols %s", describeCols(cols))
			}
			if c.singleton {
				if got := describeCols(cols); got != "x=double_val:2.25; y=int64_val:1" {
					t.Fatalf("cols %s", got)
				}
				return
			}
			if got := describeCols(cols); got != "x=double_val:3|double_val:-4.5|double_val:0|double_val:-1; y=int64_val:4|int64_val:-3|int64_val:3|int64_val:9" {
				t.Fatalf("cols %s", got)
			}
		})
	}
}
