package transformations

import (
	"math"
	"testing"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyfmt"
	"github.com/feastgo/feastgo/registry"
)

func TestStripLeadingDecorators(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"none", "\n  def f(x):\n    return x\n", "def f(x):\n    return x\n"},
		{"one line", "@deco\ndef f(x): pass\n", "def f(x): pass\n"},
		{"call over lines with strings", "@on_demand_feature_view(\n    sources=[a, b],  # ')'\n    schema=[Field(name=\")\", dtype=Float64)],\n    mode='''py)thon''',\n)\ndef f(x): pass\n", "def f(x): pass\n"},
		{"two decorators and a comment", "@a.b\n# note\n@c(1)\nasync def f(x): pass\n", "async def f(x): pass\n"},
		{"only a decorator", "@a\n", "@a\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stripLeadingDecorators(tc.in); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestToStarlarkSource(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"annotations", "def f(inputs: dict[str, list], k: int = 3, *a: str, **kw: dict) -> dict[str, list]:\n    pass\n",
			"def f(inputs, k= 3, *a, **kw) :\n    pass\n"},
		{"lambda default kept", "def f(x, g=lambda y: y):\n    pass\n", "def f(x, g=lambda y: y):\n    pass\n"},
		{"annotated assignment", "def f(x):\n    out: list[float] = []\n    n: int\n    return out\n", "def f(x):\n    out = []\n    pass\n    return out\n"},
		{"is None", "x = a is None or b is not None and c is True\n", "x = a == None or b != None and c == True\n"},
		{"dict literal untouched", "d = {\n    a: 1,\n}\n", "d = {\n    a: 1,\n}\n"},
		{"is other left for Starlark to reject", "x = a is b\n", "x = a is b\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toStarlarkSource(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestPyFloatRepr(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1, "1.0"}, {0.1, "0.1"}, {1e16, "1e+16"},
		{1e15, "1000000000000000.0"}, {1.5e-5, "1.5e-05"}, {0.0001, "0.0001"}, {123456789.125, "123456789.125"},
		{math.Inf(-1), "-inf"}, {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
	}
	for _, tc := range tests {
		if got := pyfmt.Float(tc.f); got != tc.want {
			t.Errorf("pyfmt.Float(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestRoundFloat(t *testing.T) {
	tests := []struct {
		x    float64
		nd   int64
		want float64
	}{
		{2.675, 2, 2.67}, {0.125, 2, 0.12}, {0.375, 2, 0.38}, {1.5, 0, 2}, {2.5, 0, 2}, {-0.5, 0, math.Copysign(0, -1)},
		{1234.5678, -2, 1200}, {1250, -2, 1200}, {1350, -2, 1400}, {0.5, -1, 0}, {9.99, 1, 10}, {1e-320, 400, 1e-320},
		{123.456, -400, 0},
	}
	for _, tc := range tests {
		got, err := roundFloat(tc.x, tc.nd)
		if err != nil || got != tc.want || math.Signbit(got) != math.Signbit(tc.want) {
			t.Errorf("round(%v, %d) = %v (%v), want %v", tc.x, tc.nd, got, err, tc.want)
		}
	}
	if _, err := roundFloat(1.7976931348623157e308, -308); err == nil {
		t.Error("rounding past the float range must overflow")
	}
}

func TestPyValuesToCore(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name    string
		in      []pv
		typ     core.ValueType
		want    []core.Value
		wantErr string
	}{
		{"NaN is null", []pv{pyFloat(1), pyFloat(nan), pyNone}, core.Double, []core.Value{dbl(1), {}, {}}, ""},
		{"ints for DOUBLE", []pv{pyInt(0), pyInt(3)}, core.Double, []core.Value{dbl(0), dbl(3)}, ""},
		{"bool for DOUBLE fails", []pv{pyBool(true)}, core.Double, nil, "AssertionError"},
		{"False for DOUBLE fails", []pv{pyBool(false)}, core.Double, nil, "AssertionError"},
		{"float to INT64 truncates", []pv{pyFloat(-1.9), pyStr(" 12 ")}, core.Int64, i64(-1, 12), ""},
		{"INT32 range", []pv{pyInt(1 << 40)}, core.Int32, nil, "out of range"},
		{"FLOAT rounds to float32", []pv{pyFloat(0.1), pyFloat(1e300)}, core.Float,
			[]core.Value{{Type: core.Float, F: float64(float32(0.1))}, {Type: core.Float, F: math.Inf(1)}}, ""},
		{"STRING uses repr", []pv{pyFloat(1e16), pyBool(true), pyInt(-3)}, core.String, strs("1e+16", "True", "-3"), ""},
		{"a list in a scalar column is null", []pv{pyFloat(1), {k: kList, list: []pv{pyInt(1)}}}, core.Double, []core.Value{dbl(1), {}}, ""},
		{"inferred INT64", []pv{pyNone, pyInt(4)}, core.Invalid, []core.Value{{}, core.Int64Value(4)}, ""},
		{"inferred from empty only", []pv{{k: kList}}, core.Invalid, nil, "Couldn't infer"},
		{"all None inferred", []pv{pyNone, pyNone}, core.Invalid, []core.Value{{}, {}}, ""},
		{"ints in DOUBLE_LIST sample fail", []pv{{k: kList, list: []pv{pyInt(1)}}}, core.DoubleList, nil, "TypeError"},
		{"None in a list becomes the default", []pv{{k: kList, list: []pv{pyStr("a"), pyNone}}}, core.StringList,
			[]core.Value{{Type: core.StringList, List: strs("a", "")}}, ""},
		{"opaque is not modelled", []pv{pyOpaque("datetime")}, core.UnixTimestamp, nil, "modelled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pyValuesToCore(tc.in, tc.typ)
			if tc.wantErr != "" {
				if err == nil || !containsStr(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Errorf("row %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// FuzzAnalyse feeds arbitrary body_text (registry content is untrusted
// input) to both analysers: they may reject it, never panic or hang.
func FuzzAnalyse(f *testing.F) {
	f.Add("def f(inputs):\n    return {\"x\": [v for v in inputs[\"a\"]]}\n", true)
	f.Add("def f(inputs: pd.DataFrame) -> pd.DataFrame:\n    df = pd.DataFrame()\n    df[\"x\"] = np.where(inputs[\"a\"] > 0, 1, 0) ** 2\n    return df\n", false)
	f.Add("@d(\n'''\n)\ndef f(x: int = (lambda y: {y: [1,\n2]})) -> dict:\n    x: int = 1\n    return x is not None\n", true)
	f.Fuzz(func(t *testing.T, body string, python bool) {
		mode := "pandas"
		if python {
			mode = "python"
		}
		odfv := &registry.ODFV{Name: "o", Mode: mode, BodyText: body, Features: []registry.Field{fld("x", core.Double)}}
		c := analyse(odfv, 10_000)
		if c.decision.Path == PathDelegated && c.decision.Reason == "" {
			t.Fatal("a delegated decision without a reason")
		}
	})
}

// A float32 column of a delegated answer converted to a String feature is
// str(numpy.float32): numpy's layout, positional only below 1e6 (strings
// printed by numpy 2.4.6 in the Feast 0.67 venv).
func TestPyStrOfFloat32IsNumpys(t *testing.T) {
	for _, tc := range []struct {
		f    float32
		want string
	}{{1234567, "1.234567e+06"}, {999999, "999999.0"}, {1e-4, "1e-04"}, {0.1, "0.1"}, {12345.678, "12345.678"}} {
		got, err := pyStrOf(pv{k: kFloat32, f: float64(tc.f)})
		if err != nil || got != tc.want {
			t.Errorf("pyStrOf(float32 %v) = %q, %v; want %q", tc.f, got, err, tc.want)
		}
	}
}
