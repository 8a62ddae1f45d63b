package transformations

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/registry"
)

// Expected values in this file were checked against CPython 3.11 /
// pandas 2.3 / numpy 2.4 (the differential test does so continuously).

func TestDecisions(t *testing.T) {
	py := func(body string) diffCase { return diffCase{mode: "python", body: body} }
	pd := func(body string) diffCase { return diffCase{mode: "pandas", body: body} }
	const pdHead = "def f(inputs: pd.DataFrame) -> pd.DataFrame:\n    df = pd.DataFrame()\n"
	tests := []struct {
		name   string
		c      diffCase
		path   Path
		reason string
	}{
		{"python comprehension", py("def f(inputs: dict) -> dict:\n    return {\"x\": [v * 2 for v in inputs[\"a\"]]}\n"), PathStarlark, ""},
		{"python decorated", py(pyDecorator + "def f(inputs):\n    return {\"x\": inputs[\"a\"]}\n"), PathStarlark, ""},
		{"python annotated locals", py("def f(inputs: dict[str, list]) -> dict[str, list]:\n    out: list = []\n    total: float\n    return {\"x\": out}\n"), PathStarlark, ""},
		{"python is None", py("def f(inputs):\n    return {\"x\": [v is not None and v is True for v in inputs[\"a\"]]}\n"), PathStarlark, ""},
		{"python helper and while", py("def g(n):\n    while n > 0:\n        n -= 1\n    return n\n\ndef f(inputs):\n    return {\"x\": [g(3)]}\n"), PathStarlark, ""},
		{"python power", py("def f(inputs):\n    return {\"x\": [v ** 2 for v in inputs[\"a\"]]}\n"), PathDelegated, "Starlark"},
		{"python import", py("def f(inputs):\n    import math\n    return {\"x\": [math.sqrt(v) for v in inputs[\"a\"]]}\n"), PathDelegated, "Starlark"},
		{"python numpy", py("def f(inputs):\n    return {\"x\": np.log(inputs[\"a\"])}\n"), PathDelegated, ".log"},
		{"python isinstance", py("def f(inputs):\n    return {\"x\": [isinstance(v, int) for v in inputs[\"a\"]]}\n"), PathDelegated, "isinstance"},
		{"python type()", py("def f(inputs):\n    return {\"x\": [type(v) == int for v in inputs[\"a\"]]}\n"), PathDelegated, "type"},
		{"python f-string", py("def f(inputs):\n    return {\"x\": [f\"{v}\" for v in inputs[\"a\"]]}\n"), PathDelegated, "Starlark"},
		{"python dict unpacking", py("def f(inputs):\n    return {**inputs, \"x\": 1}\n"), PathDelegated, "Starlark"},
		{"python try", py("def f(inputs):\n    try:\n        x = 1\n    except Exception:\n        x = 2\n    return {\"x\": [x]}\n"), PathDelegated, "Starlark"},
		{"python chained comparison", py("def f(inputs):\n    return {\"x\": [0 < v < 1 for v in inputs[\"a\"]]}\n"), PathDelegated, "Starlark"},
		{"python starlark-only method", py("def f(inputs):\n    return {\"x\": [len(s.elems()) for s in inputs[\"s\"]]}\n"), PathDelegated, "elems"},
		{"python format", py("def f(inputs):\n    return {\"x\": [\"{}\".format(v) for v in inputs[\"a\"]]}\n"), PathDelegated, "format"},
		{"python print", py("def f(inputs):\n    print(inputs)\n    return {}\n"), PathDelegated, "print"},
		{"python non-ascii literal", py("def f(inputs):\n    return {\"x\": [\"é\" for v in inputs[\"a\"]]}\n"), PathDelegated, "non-ASCII"},
		{"python bitwise or", py("def f(inputs):\n    return {\"x\": [v | 1 for v in inputs[\"a\"]]}\n"), PathDelegated, "operator"},
		{"python empty body_text", py(""), PathDelegated, "body_text"},
		{"pandas arithmetic", pd(pdHead + "    df[\"x\"] = inputs[\"a\"] * 0.7 + inputs[\"b\"] ** 2 - 1\n    return df\n"), PathPandas, ""},
		{"pandas where and astype", pd(pdHead + "    x = inputs[\"a\"].astype(\"float64\")\n    df[\"x\"] = np.where(x > 0, x, 0.0)\n    return df\n"), PathPandas, ""},
		{"pandas docstring and comments", pd("def f(inputs):\n    \"\"\"Doc.\"\"\"\n    df = pd.DataFrame()  # out\n    df[\"x\"] = (\n        inputs[\"a\"]  # a\n        / 2\n    )\n    return df\n"), PathPandas, ""},
		{"pandas rolling", pd(pdHead + "    df[\"x\"] = inputs[\"a\"].rolling(2).mean()\n    return df\n"), PathDelegated, "mean"},
		{"pandas log", pd(pdHead + "    df[\"x\"] = np.log(inputs[\"a\"])\n    return df\n"), PathDelegated, "np.log"},
		{"pandas floor division", pd(pdHead + "    df[\"x\"] = inputs[\"a\"] // 2\n    return df\n"), PathDelegated, "//"},
		{"pandas returns inputs", pd("def f(inputs):\n    inputs[\"x\"] = inputs[\"a\"] + 1\n    return inputs\n"), PathDelegated, "pd.DataFrame()"},
		{"pandas apply lambda", pd(pdHead + "    df[\"x\"] = inputs[\"a\"].apply(lambda v: v + 1)\n    return df\n"), PathDelegated, "lambda"},
		{"pandas loop", pd(pdHead + "    for c in [\"a\"]:\n        df[c] = inputs[c]\n    return df\n"), PathDelegated, "for"},
		{"pandas no return", pd(pdHead + "    df[\"x\"] = inputs[\"a\"]\n"), PathDelegated, "return"},
		{"substrait", diffCase{mode: "substrait", body: "plan"}, PathDelegated, "substrait mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.outputs = []registry.Field{fld("x", core.Double)}
			d := New(Options{}).Decide(tc.c.compile(t))
			if d.Path != tc.path || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("decision %+v, want %s with a reason containing %q", d, tc.path, tc.reason)
			}
			if tc.path != PathDelegated && d.Reason != "" {
				t.Fatalf("a native decision has a reason: %q", d.Reason)
			}
		})
	}
}

// transformOne runs a case natively and returns its columns by name.
func transformOne(t *testing.T, c diffCase) (map[string][]core.Value, error) {
	t.Helper()
	if c.rows == 0 {
		c.rows = 1
	}
	odfv := c.compile(t)
	in, _ := c.inputs()
	cols, err := New(Options{Execution: Native}).Transform(context.Background(), odfv, c.outputFields(), in, c.rows, c.fullNames)
	if err != nil {
		return nil, err
	}
	out := map[string][]core.Value{}
	for _, col := range cols {
		if col.Typed == nil {
			t.Fatalf("native output %s is not typed", col.Name)
		}
		out[col.Name] = col.Typed
	}
	return out, nil
}

func dbl(f float64) core.Value { return core.DoubleValue(f) }

func TestStarlarkSemantics(t *testing.T) {
	in := []registry.Field{fld("v", core.Double), fld("i", core.Int64)}
	data := [][]core.Value{f64(2.675), i64(-7)}
	tests := []struct {
		name string
		expr string // a Python list expression over v and i
		typ  core.ValueType
		want []core.Value
	}{
		{"true division of ints", "[i / 2, 7 / 2, 100000000000000000001 / 3]", core.Double, []core.Value{dbl(-3.5), dbl(3.5), dbl(3.333333333333333e19)}},
		{"floor division", "[i // 2, 1 // 0.1, -7.5 // 2]", core.Double, []core.Value{dbl(-4), dbl(9), dbl(-4)}},
		{"modulo", "[i % 3, 7.5 % -2, 4.0 % -2.0]", core.Double, []core.Value{dbl(2), dbl(-0.5), dbl(math.Copysign(0, -1))}},
		{"banker's rounding", "[round(v, 2), round(0.125, 2), round(2.5), round(-0.5)]", core.Double, []core.Value{dbl(2.67), dbl(0.12), dbl(2), dbl(0)}},
		{"round to tens", "[round(1234.5678, -2), round(15, -1), round(25, -1)]", core.Double, []core.Value{dbl(1200), dbl(20), dbl(20)}},
		{"sum of floats left to right", "[sum([0.1] * 10), sum([1, 2.5]), sum([], 7)]", core.Double, []core.Value{dbl(0.9999999999999999), dbl(3.5), dbl(7)}},
		{"str of floats", "[str(1e16), str(1234567.0), str(1e-05), str(0.1 + 0.2)]", core.String,
			strs("1e+16", "1234567.0", "1e-05", "0.30000000000000004")},
		{"str of containers", "[str([1, 'a', None]), str({'k': 1.5}), str((1,)), str(True)]", core.String,
			strs("[1, 'a', None]", "{'k': 1.5}", "(1,)", "True")},
		{"int and float parsing", "[int(' 12 '), int(-3.9), int('1_000'), float('2.5e-1')]", core.Double, []core.Value{dbl(12), dbl(-3), dbl(1000), dbl(0.25)}},
		{"zip is single pass", "[len([p for p in z]) + len([p for p in z]) for z in [zip([1, 2], [3, 4])]]", core.Int64, i64(2)},
		{"min max sorted", "[min([3, 1, 2]), max([1.5, 2]), sorted([3, 1, 2], reverse=True)[0]]", core.Double, []core.Value{dbl(1), dbl(2), dbl(3)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Feast wants floats in a DOUBLE_LIST: convert the elements.
			conv := map[core.ValueType]string{core.Double: "float", core.Int64: "int", core.String: "str"}[tc.typ]
			c := diffCase{mode: "python", features: in, featData: data, rows: 1, outputs: []registry.Field{fld("x", tc.typ)},
				body: "def f(inputs):\n    v = inputs[\"v\"][0]\n    i = inputs[\"i\"][0]\n    return {\"x\": [[" + conv + "(e) for e in " + tc.expr + "]]}\n"}
			// Each expression is one row: wrap the list as a single list value
			// of the output's list type.
			c.outputs = []registry.Field{fld("x", tc.typ+10)}
			got, err := transformOne(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if len(got["x"]) != 1 {
				t.Fatalf("got %v", got)
			}
			list := got["x"][0].List
			if len(list) != len(tc.want) {
				t.Fatalf("got %v, want %v", list, tc.want)
			}
			for i := range list {
				w, g := tc.want[i], list[i]
				if tc.typ == core.Double {
					if g.F != w.F || math.Signbit(g.F) != math.Signbit(w.F) {
						t.Errorf("element %d: got %v, want %v", i, g.F, w.F)
					}
				} else if !g.Equal(w) {
					t.Errorf("element %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestPandasSemantics(t *testing.T) {
	src := []registry.Field{fld("a", core.Double), fld("n", core.Int64), fld("z", core.Double)}
	data := [][]core.Value{f64(1.5, missing, -2), i64(3, 4, 0), f64(missing, missing, missing)}
	nan := math.NaN()
	tests := []struct {
		name string
		expr string
		typ  core.ValueType
		want []float64 // NaN means null
		ints []int64
	}{
		{"null becomes NaN, then null", `inputs["a"] * 2`, core.Double, []float64{3, nan, -4}, nil},
		{"fillna", `inputs["a"].fillna(0) + 1`, core.Double, []float64{2.5, 1, -1}, nil},
		{"int stays int", `inputs["n"] * 2 - 1`, core.Int64, nil, []int64{5, 7, -1}},
		{"int true division", `inputs["n"] / 2`, core.Double, []float64{1.5, 2, 0}, nil},
		{"division by zero", `1 / inputs["n"]`, core.Double, []float64{1.0 / 3, 0.25, math.Inf(1)}, nil},
		{"where", `np.where(inputs["n"] > 3, inputs["n"], 0)`, core.Int64, nil, []int64{0, 4, 0}},
		{"NaN compares false", `np.where(inputs["a"] > 0, 1.0, -1.0)`, core.Double, []float64{1, -1, -1}, nil},
		{"all-null column", `inputs["z"] + inputs["n"]`, core.Double, []float64{nan, nan, nan}, nil},
		{"float to int output truncates", `inputs["a"].fillna(2.9) * 1`, core.Int64, nil, []int64{1, 2, -2}},
		{"square", `inputs["a"] ** 2`, core.Double, []float64{2.25, nan, 4}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := diffCase{mode: "pandas", features: src, featData: data, rows: 3, outputs: []registry.Field{fld("x", tc.typ)},
				body: "def f(inputs: pd.DataFrame) -> pd.DataFrame:\n    df = pd.DataFrame()\n    df[\"x\"] = " + tc.expr + "\n    return df\n"}
			got, err := transformOne(t, c)
			if err != nil {
				t.Fatal(err)
			}
			col := got["x"]
			for r := range col {
				switch {
				case tc.ints != nil:
					if col[r].Type != core.Int64 || col[r].I != tc.ints[r] {
						t.Errorf("row %d: got %+v, want %d", r, col[r], tc.ints[r])
					}
				case math.IsNaN(tc.want[r]):
					if !col[r].IsNull() {
						t.Errorf("row %d: got %+v, want null", r, col[r])
					}
				case col[r].Type != core.Double || col[r].F != tc.want[r]:
					t.Errorf("row %d: got %+v, want %v", r, col[r], tc.want[r])
				}
			}
		})
	}
}

func TestStepLimit(t *testing.T) {
	c := diffCase{mode: "python", rows: 1, outputs: []registry.Field{fld("x", core.Int64)},
		body: "def f(inputs):\n    n = 0\n    while True:\n        n += 1\n    return {\"x\": [n]}\n"}
	odfv := c.compile(t)
	in, _ := c.inputs()
	eng := New(Options{Execution: Auto, MaxSteps: 50_000, StepsPerRow: 1})
	start := time.Now()
	_, err := eng.Transform(context.Background(), odfv, c.outputs, in, 1, false)
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Kind != core.KindInternal || !strings.Contains(err.Error(), "50001 steps") {
		t.Fatalf("err = %v, want an internal error naming the step limit", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the step limit took %v to stop the loop", d)
	}
}

func TestRaisingUDF(t *testing.T) {
	c := diffCase{mode: "python", rows: 2, request: []registry.Field{fld("k", core.Int64)}, reqData: [][]any{{1, 0}},
		outputs: []registry.Field{fld("x", core.Double)},
		body:    "def f(inputs):\n    return {\"x\": [1 / k for k in inputs[\"k\"]]}\n"}
	odfv := c.compile(t)
	in, _ := c.inputs()
	eng := New(Options{})
	_, err := eng.Transform(context.Background(), odfv, c.outputs, in, 2, false)
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Kind != core.KindInternal || !strings.Contains(err.Error(), "ZeroDivisionError") {
		t.Fatalf("err = %v, want an internal error with Python's ZeroDivisionError", err)
	}
	// The engine keeps serving.
	c.reqData = [][]any{{1, 4}}
	in, _ = c.inputs()
	cols, err := eng.Transform(context.Background(), odfv, c.outputs, in, 2, false)
	if err != nil || cols[0].Typed[1].F != 0.25 {
		t.Fatalf("after a failure: %v %v", cols, err)
	}
}

func TestCancelledRequestStopsTheUDF(t *testing.T) {
	c := diffCase{mode: "python", rows: 1, outputs: []registry.Field{fld("x", core.Int64)},
		body: "def f(inputs):\n    while True:\n        pass\n"}
	odfv := c.compile(t)
	in, _ := c.inputs()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := New(Options{MaxSteps: math.MaxUint64 / 2}).Transform(ctx, odfv, c.outputs, in, 1, false)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
}

func TestUnavailableServiceIs503NamingIt(t *testing.T) {
	c := diffCase{mode: "python", rows: 1, outputs: []registry.Field{fld("x", core.Double)},
		body: "def f(inputs):\n    import math\n    return {\"x\": [math.pi]}\n"}
	odfv := c.compile(t)
	in, _ := c.inputs()
	_, err := New(Options{Endpoint: "127.0.0.1:1", Timeout: 5 * time.Second}).Transform(context.Background(), odfv, c.outputs, in, 1, false)
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Kind != core.KindUnavailable || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v, want KindUnavailable naming the endpoint", err)
	}
	_, err = New(Options{}).Transform(context.Background(), odfv, c.outputs, in, 1, false)
	if !errors.As(err, &ce) || ce.Kind != core.KindUnavailable || !strings.Contains(err.Error(), "transformation_service_endpoint") {
		t.Fatalf("err = %v, want KindUnavailable naming the setting", err)
	}
}

func TestNativeOnlyRefusesDelegatedODFV(t *testing.T) {
	c := diffCase{mode: "python", rows: 1, outputs: []registry.Field{fld("x", core.Double)},
		body: "def f(inputs):\n    return {\"x\": [2 ** 0.5]}\n"}
	odfv := c.compile(t)
	in, _ := c.inputs()
	_, err := New(Options{Execution: Native, Endpoint: "127.0.0.1:1"}).Transform(context.Background(), odfv, c.outputs, in, 1, false)
	if core.KindOf(err) != core.KindUnimplemented {
		t.Fatalf("err = %v, want KindUnimplemented", err)
	}
}

func TestUnsupportedInputIsDelegatedPerRequest(t *testing.T) {
	// The body is native, but a NaN input is not modelled: with no service
	// configured the request must fail rather than be guessed.
	c := diffCase{mode: "python", rows: 1, features: []registry.Field{fld("a", core.Double)},
		featData: [][]core.Value{f64(math.NaN())}, outputs: []registry.Field{fld("x", core.Double)},
		body: "def f(inputs):\n    return {\"x\": [a + 1 for a in inputs[\"a\"]]}\n"}
	odfv := c.compile(t)
	in, _ := c.inputs()
	eng := New(Options{Endpoint: "127.0.0.1:1", Timeout: 5 * time.Second})
	if d := eng.Decide(odfv); d.Path != PathStarlark {
		t.Fatalf("decision %+v", d)
	}
	_, err := eng.Transform(context.Background(), odfv, c.outputs, in, 1, false)
	if core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("err = %v, want the delegation's KindUnavailable", err)
	}
}

func TestDecisionCachedPerODFV(t *testing.T) {
	c := diffCase{mode: "python", rows: 1, outputs: []registry.Field{fld("x", core.Double)},
		body: "def f(inputs):\n    return {\"x\": [1.0]}\n"}
	odfv := c.compile(t)
	eng := New(Options{})
	if a, b := eng.compile(odfv), eng.compile(odfv); a != b {
		t.Fatal("the ODFV was compiled twice")
	}
	if other := eng.compile(c.compile(t)); other == eng.compile(odfv) {
		t.Fatal("a new *registry.ODFV shares the old compilation")
	}
}

// TestConcurrentTransforms shares one compiled UDF across goroutines (run
// with -race).
func TestConcurrentTransforms(t *testing.T) {
	eng := New(Options{})
	cases := handCases()
	type job struct {
		odfv *registry.ODFV
		c    diffCase
	}
	var jobs []job
	for _, c := range cases {
		if c.native {
			jobs = append(jobs, job{c.compile(t), c})
		}
	}
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 20 && err == nil; i++ {
				j := jobs[(g+i)%len(jobs)]
				in, _ := j.c.inputs()
				_, err = eng.Transform(context.Background(), j.odfv, j.c.outputFields(), in, j.c.rows, j.c.fullNames)
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// fakeWorker is a WorkerSource whose worker never starts.
type fakeWorker struct {
	calls atomic.Int32
	err   error
}

func (w *fakeWorker) Endpoint(context.Context) (string, error) {
	w.calls.Add(1)
	return "", w.err
}

func (w *fakeWorker) Replacement(ctx context.Context, _ string) (string, error) {
	return w.Endpoint(ctx)
}

func TestDelegationFallsBackToTheServersWorker(t *testing.T) {
	c := diffCase{mode: "python", rows: 1, outputs: []registry.Field{fld("x", core.Double)},
		body: "def f(inputs):\n    import math\n    return {\"x\": [math.pi]}\n"}
	odfv := c.compile(t)
	in, _ := c.inputs()
	for _, endpoint := range []string{"127.0.0.1:1", ""} {
		w := &fakeWorker{err: errors.New("no module named feast")}
		_, err := New(Options{Endpoint: endpoint, Timeout: 5 * time.Second, Worker: w}).Transform(context.Background(), odfv, c.outputs, in, 1, false)
		if w.calls.Load() != 1 {
			t.Fatalf("endpoint %q: the worker was asked %d times", endpoint, w.calls.Load())
		}
		if core.KindOf(err) != core.KindUnavailable || !strings.Contains(err.Error(), "server's Python worker") || !strings.Contains(err.Error(), "no module named feast") {
			t.Fatalf("endpoint %q: err = %v, want KindUnavailable naming the worker and why", endpoint, err)
		}
	}
	// A native ODFV never asks for the worker.
	n := diffCase{mode: "python", rows: 1, outputs: []registry.Field{fld("x", core.Double)},
		body: "def f(inputs):\n    return {\"x\": [1.5]}\n"}
	w := &fakeWorker{err: errors.New("unused")}
	nin, _ := n.inputs()
	if _, err := New(Options{Worker: w}).Transform(context.Background(), n.compile(t), n.outputs, nin, 1, false); err != nil || w.calls.Load() != 0 {
		t.Fatalf("native: err %v, worker asked %d times", err, w.calls.Load())
	}
	// --odfv-execution native never delegates.
	w = &fakeWorker{}
	if _, err := New(Options{Execution: Native, Worker: w}).Transform(context.Background(), odfv, c.outputs, in, 1, false); core.KindOf(err) != core.KindUnimplemented || w.calls.Load() != 0 {
		t.Fatalf("native only: err %v, worker asked %d times", err, w.calls.Load())
	}
}
