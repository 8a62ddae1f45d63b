package transformations

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/registry"
)

func f64(vs ...float64) []core.Value {
	out := make([]core.Value, len(vs))
	for i, v := range vs {
		if math.IsNaN(v) && math.Signbit(v) { // -NaN marks a missing row
			continue
		}
		out[i] = core.DoubleValue(v)
	}
	return out
}

func f32(vs ...float64) []core.Value {
	out := make([]core.Value, len(vs))
	for i, v := range vs {
		out[i] = core.Value{Type: core.Float, F: float64(float32(v))}
	}
	return out
}

func i64(vs ...int64) []core.Value {
	out := make([]core.Value, len(vs))
	for i, v := range vs {
		out[i] = core.Int64Value(v)
	}
	return out
}

func strs(vs ...string) []core.Value {
	out := make([]core.Value, len(vs))
	for i, v := range vs {
		out[i] = core.StringValue(v)
	}
	return out
}

var missing = math.Copysign(math.NaN(), -1)

func fld(name string, t core.ValueType) registry.Field { return registry.Field{Name: name, Type: t} }

const pyDecorator = "@on_demand_feature_view(\n    sources=[src, req],\n    schema=[Field(name=\"x\", dtype=Float64)],\n    mode=\"python\",\n)\n"

// handCases exercise the semantics where Python, pandas and naive Go
// disagree: float floor division and modulo, banker's rounding, float
// repr, int/float mixing, NaN and nulls, Feast's output conversions and
// its full_feature_names behaviour.
func handCases() []diffCase {
	src2 := []registry.Field{fld("a", core.Double), fld("n", core.Int64)}
	data2 := [][]core.Value{f64(1.5, -2.25, 0, missing), i64(3, -7, 0, 10)}
	reqTimes := []registry.Field{fld("times", core.DoubleList), fld("k", core.Int64)}
	reqData := [][]any{{[]any{10.0, 20.0}, []any{}, []any{1.0, 2.0, 4.0}, []any{0.1, 0.2}}, {2, -3, 0, 7}}
	py := func(name, body string, outs []registry.Field, native bool) diffCase {
		return diffCase{name: name, mode: "python", body: body, outputs: outs, request: reqTimes, features: src2,
			reqData: reqData, featData: data2, rows: 4, native: native}
	}
	pd := func(name, body string, outs []registry.Field, native bool) diffCase {
		return diffCase{name: name, mode: "pandas", body: body, outputs: outs, request: reqTimes[1:], features: src2,
			reqData: reqData[1:], featData: data2, rows: 4, native: native}
	}
	cases := []diffCase{
		py("py_demo_shape", pyDecorator+`def f(inputs: dict) -> dict:
    return {
        "x": [sum(t) / len(t) if t else (a if a is not None else 0.0) for t, a in zip(inputs["times"], inputs["a"])],
        "m": [max(t) if t else 0 for t in inputs["times"]],
    }
`, []registry.Field{fld("x", core.Double), fld("m", core.Double)}, true),
		py("py_floor_div_mod", `def f(inputs):
    out = []
    for k, n in zip(inputs["k"], inputs["n"]):
        out.append(k // 3 + n % -4)
    return {"x": out, "y": [(n if n else 1) / 0.1 for n in inputs["n"]], "z": [1 // 0.1, -7.5 // 2, 7.5 % -2, -7.5 % 2]}
`, []registry.Field{fld("x", core.Int64), fld("y", core.Double), fld("z", core.Double)}, true),
		py("py_float_mod_zero_sign", `def f(inputs):
    return {"x": [4.0 % -2.0, -4.0 % 2.0, 0.0 // -1.0, -0.0 // 1.0]}
`, []registry.Field{fld("x", core.Double)}, true),
		py("py_round", `def f(inputs):
    v = [2.675, 0.125, -0.5, 1e20]
    return {"r2": [round(x, 2) for x in v], "r0": [round(x) for x in [2.5, 3.5, -2.5, 0.49999999999999994]],
            "rn": [round(1234.5678, -2), round(-0.04, 1), round(5, -1), round(15, -1)]}
`, []registry.Field{fld("r2", core.Double), fld("r0", core.Int64), fld("rn", core.Double)}, true),
		py("py_str_repr", `def f(inputs):
    v = [1e16, 1234567.0, 0.1, 1e-05]
    return {"s": [str(x) for x in v], "t": [str([1, 2.5, "a"]), str(True), str(None), str((1,))]}
`, []registry.Field{fld("s", core.String), fld("t", core.String)}, true),
		py("py_int_float_builtins", `def f(inputs):
    return {"i": [int("12"), int(-3.9), int(True), int(" 7 ")], "g": [float("1.5"), float(2), float("1e3"), float(" -0.25")]}
`, []registry.Field{fld("i", core.Int64), fld("g", core.Double)}, true),
		py("py_null_features", `def f(inputs):
    return {"x": [a * 2 if a is not None else None for a in inputs["a"]], "y": [a is None for a in inputs["a"]]}
`, []registry.Field{fld("x", core.Double), fld("y", core.Bool)}, true),
		py("py_ints_for_double", `def f(inputs):
    return {"x": [0, 5, -1, 2**3 if False else 8]}
`, []registry.Field{fld("x", core.Double)}, false),
		py("py_ints_for_double_native", `def f(inputs):
    return {"x": [0, 5, -1, 8], "y": [5, 0, 1, 2]}
`, []registry.Field{fld("x", core.Double), fld("y", core.Double)}, true),
		py("py_floats_for_int", `def f(inputs):
    return {"x": [1.9, -1.9, 0.0, 3.5], "y": ["12", "-3", " 4 ", "5"]}
`, []registry.Field{fld("x", core.Int64), fld("y", core.Int64)}, true),
		py("py_bool_for_double_fails", `def f(inputs):
    return {"x": [True, False, True, False]}
`, []registry.Field{fld("x", core.Double)}, false),
		py("py_float32_output", `def f(inputs):
    return {"x": [0.1, 1e300, -2.5, 3]}
`, []registry.Field{fld("x", core.Float)}, true),
		py("py_lists", `def f(inputs):
    return {"l": [[x * 2 for x in t] for t in inputs["times"]], "c": [[k, k] for k in inputs["k"]],
            "s": [["a", None] for k in inputs["k"]]}
`, []registry.Field{fld("l", core.DoubleList), fld("c", core.Int64List), fld("s", core.StringList)}, true),
		py("py_list_of_ints_as_doubles_fails", `def f(inputs):
    return {"l": [[1, 2] for k in inputs["k"]]}
`, []registry.Field{fld("l", core.DoubleList)}, false),
		py("py_single_pass_zip", `def f(inputs):
    z = zip(inputs["k"], inputs["n"])
    first = [a + b for a, b in z]
    second = [a for a, b in z]
    e = enumerate(inputs["k"], 10)
    return {"x": first, "y": [len(second)] * len(first), "z": [i for i, _ in e]}
`, []registry.Field{fld("x", core.Int64), fld("y", core.Int64), fld("z", core.Int64)}, true),
		py("py_sorted_min_max", `def f(inputs):
    ks = inputs["k"]
    s = sorted(ks, key=lambda v: -v)
    return {"x": s, "y": [min(ks), max(ks), min(ks, key=abs), max([3, 1], key=lambda v: v)], "z": sorted(ks, reverse=True)}
`, []registry.Field{fld("x", core.Int64), fld("y", core.Int64), fld("z", core.Int64)}, true),
		py("py_passthrough_input_name", `def f(inputs):
    return {"other": [1, 2, 3, 4]}
`, []registry.Field{fld("k", core.Double), fld("other", core.Int64)}, true),
		py("py_full_names_dropped", `def f(inputs):
    return {"x": [1.0, 2.0, 3.0, 4.0]}
`, []registry.Field{fld("x", core.Double)}, true),
		py("py_full_names_prefixed_keys", `def f(inputs):
    return {"o__x": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0]}
`, []registry.Field{fld("x", core.Double)}, true),
		py("py_bool_arithmetic", `def f(inputs):
    return {"x": [sum([True, k > 0]) for k in inputs["k"]]}
`, []registry.Field{fld("x", core.Int64)}, false),
		py("py_raises", `def f(inputs):
    return {"x": [1 / 0 for k in inputs["k"]]}
`, []registry.Field{fld("x", core.Double)}, false),
		py("py_string_methods", `def f(inputs):
    return {"x": [("a-" + str(k)).upper().split("-")[0] for k in inputs["k"]], "y": ["-".join(["x", "y"]) for k in inputs["k"]]}
`, []registry.Field{fld("x", core.String), fld("y", core.String)}, true),
		py("py_while_and_helpers", `def helper(v):
    total = 0
    while v > 0:
        total += v
        v -= 1
    return total

def f(inputs):
    return {"x": [helper(k) for k in inputs["k"]]}
`, []registry.Field{fld("x", core.Int64)}, true),
		py("py_big_int_true_division", `def f(inputs):
    return {"x": [(10**20 + 1) / 3 if False else (100000000000000000001 / 3), 2**53 + 1 + 0.0 if False else 9007199254740993 / 1, 7 / 2, -7 / 2]}
`, []registry.Field{fld("x", core.Double)}, false),
		py("py_big_int_true_division_native", `def f(inputs):
    return {"x": [100000000000000000001 / 3, 9007199254740993 / 1, 7 / 2, -7 / 2]}
`, []registry.Field{fld("x", core.Double)}, true),
	}
	// Full feature names variants.
	for i := range cases {
		if strings.HasPrefix(cases[i].name, "py_full_names") {
			cases[i].fullNames = true
		}
	}
	single := py("py_singleton", `def f(inputs):
    return {"x": inputs["k"] * 2, "y": len(inputs["times"])}
`, []registry.Field{fld("x", core.Int64), fld("y", core.Int64)}, true)
	single.singleton, single.rows = true, 1
	single.reqData = [][]any{{[]any{1.0, 2.0}}, {5}}
	single.featData = [][]core.Value{f64(1.5), i64(3)}
	cases = append(cases, single)

	pdCases := []diffCase{
		pd("pd_demo_shape", `@on_demand_feature_view(sources=[src, req], schema=[Field(name="r", dtype=Float64)], mode="pandas")
def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    errors = inputs["n"].astype("float64")
    df["r"] = (
        inputs["a"].astype("float64") * 0.7
        + (errors / (errors + 10)) * 0.3
        + inputs["k"].astype("float64") * 0.01
    )
    return df
`, []registry.Field{fld("r", core.Double)}, true),
		pd("pd_int_arith", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["n"] * 2 + inputs["k"] - 1
    df["y"] = inputs["n"] ** 2
    df["z"] = -inputs["k"]
    return df
`, []registry.Field{fld("x", core.Int64), fld("y", core.Int64), fld("z", core.Int64)}, true),
		pd("pd_division_by_zero", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["n"] / inputs["k"]
    df["y"] = inputs["a"] / 0
    df["z"] = inputs["k"] / 0.0
    return df
`, []registry.Field{fld("x", core.Double), fld("y", core.Double), fld("z", core.Double)}, true),
		pd("pd_nan_and_fillna", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["a"] * 2
    df["y"] = inputs["a"].fillna(-1) + 1
    df["z"] = inputs["a"].fillna(0).abs()
    return df
`, []registry.Field{fld("x", core.Double), fld("y", core.Double), fld("z", core.Double)}, true),
		pd("pd_where_cmp", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = np.where(inputs["a"] > 0, inputs["a"], 0)
    df["y"] = np.where((inputs["k"] >= 0) & (inputs["n"] != 0), 1, 0)
    df["b"] = inputs["a"] < inputs["k"]
    df["c"] = ~(inputs["k"] == 0) | (inputs["n"] > 5)
    return df
`, []registry.Field{fld("x", core.Double), fld("y", core.Int64), fld("b", core.Bool), fld("c", core.Bool)}, true),
		pd("pd_output_conversions", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["i"] = inputs["a"].fillna(2.7) * 3
    df["f"] = inputs["a"] / 3
    df["s"] = inputs["a"] * 1.5
    df["d"] = inputs["k"] * 2
    return df
`, []registry.Field{fld("i", core.Int64), fld("f", core.Float), fld("s", core.String), fld("d", core.Double)}, true),
		pd("pd_astype_int", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["a"].fillna(-9.99).astype("int64")
    df["y"] = (inputs["k"] > 0).astype(float)
    return df
`, []registry.Field{fld("x", core.Int64), fld("y", core.Double)}, true),
		pd("pd_astype_int_nan", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["a"].astype("int64")
    return df
`, []registry.Field{fld("x", core.Int64)}, false),
		pd("pd_sqrt_square", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = np.sqrt(inputs["a"] ** 2 + inputs["n"] ** 2)
    df["y"] = np.abs(inputs["k"]) + np.sqrt(2)
    return df
`, []registry.Field{fld("x", core.Double), fld("y", core.Double)}, true),
		pd("pd_rolling_delegated", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["a"].rolling(2).mean()
    return df
`, []registry.Field{fld("x", core.Double)}, false),
		pd("pd_scalar_broadcast", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["k"] * 1
    df["c"] = 7
    df["s"] = "on"
    return df
`, []registry.Field{fld("x", core.Int64), fld("c", core.Int64), fld("s", core.String)}, true),
	}
	full := pd("pd_full_names_inferred", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["k"] * 2
    df["y"] = inputs["a"] + 1
    return df
`, []registry.Field{fld("x", core.Double), fld("y", core.Int64)}, true)
	full.fullNames = true
	pdCases = append(pdCases, full)
	strCase := pd("pd_strings", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["s"] == "b"
    df["y"] = inputs["s"]
    df["z"] = inputs["s"].fillna("none")
    return df
`, []registry.Field{fld("x", core.Bool), fld("y", core.String), fld("z", core.String)}, true)
	strCase.features = []registry.Field{fld("s", core.String)}
	strCase.featData = [][]core.Value{{core.StringValue("a"), core.StringValue("b"), {}, core.StringValue("b")}}
	allNull := pd("pd_all_null_source", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["a"].astype("float64") * 2 + inputs["k"]
    return df
`, []registry.Field{fld("x", core.Double)}, true)
	allNull.featData = [][]core.Value{f64(missing, missing, missing, missing), i64(1, 2, 3, 4)}
	nullArith := pd("pd_all_null_arith", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["a"] + inputs["k"]
    df["y"] = inputs["a"] * 0.5 + 1
    df["c"] = inputs["a"] > 1
    df["d"] = inputs["a"] != inputs["k"]
    df["e"] = inputs["k"] == inputs["a"]
    return df
`, []registry.Field{fld("x", core.Double), fld("y", core.Int64), fld("c", core.Bool), fld("d", core.Bool), fld("e", core.Bool)}, true)
	nullArith.featData = [][]core.Value{f64(missing, missing, missing, missing), i64(1, 2, 3, 4)}
	nullFull := nullArith
	nullFull.name, nullFull.fullNames = "pd_all_null_arith_full_names", true
	nullCmp := pd("pd_all_null_numeric_left_order", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["c"] = inputs["k"] > inputs["a"]
    return df
`, []registry.Field{fld("c", core.Bool)}, false)
	nullCmp.featData = nullArith.featData
	pdCases = append(pdCases, nullArith, nullFull, nullCmp)
	f32Case := pd("pd_float32_source", `def f(inputs: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame()
    df["x"] = inputs["a"] * 0.7
    return df
`, []registry.Field{fld("x", core.Double)}, true)
	f32Case.features = []registry.Field{fld("a", core.Float)}
	f32Case.featData = [][]core.Value{f32(0.8944, 0.1, 3.3, 1e-3)}
	return append(append(append(cases, pdCases...), strCase, allNull, f32Case), bytesSourceCases(py)...)
}

// bytesSourceCases are python-mode UDFs over a source that also has a
// bytes feature, which the native path does not model: a UDF that
// provably never reads it runs natively; one that reads it, or reads its
// input dict in a way the analysis cannot follow, is refused (delegated).
func bytesSourceCases(py func(name, body string, outs []registry.Field, native bool) diffCase) []diffCase {
	blob := func(c diffCase) diffCase {
		c.features = append(append([]registry.Field(nil), c.features...), fld("blob", core.Bytes))
		c.featData = append(append([][]core.Value(nil), c.featData...),
			[]core.Value{{Type: core.Bytes, S: "\x00\xffraw"}, {Type: core.Bytes, S: ""}, {}, {Type: core.Bytes, S: "é"}})
		return c
	}
	outs := []registry.Field{fld("x", core.Double), fld("y", core.Int64)}
	unread := blob(py("py_bytes_source_unread", `def f(inputs):
    return {
        "x": [a * 2 if a is not None else -1.0 for a in inputs["a"]],
        "y": [k + len(t) for k, t in zip(inputs.get("k"), inputs["times"])],
    }
`, outs, true))
	unreadFull := unread
	unreadFull.name, unreadFull.fullNames = "py_bytes_source_unread_full_names", true
	unreadSingleton := blob(py("py_bytes_source_unread_singleton", `def f(inputs):
    return {"x": inputs["a"] * 1.5, "y": inputs["k"] - 1}
`, outs, true))
	unreadSingleton.singleton, unreadSingleton.rows = true, 1
	for i := range unreadSingleton.featData {
		unreadSingleton.featData[i] = unreadSingleton.featData[i][:1]
	}
	unreadSingleton.reqData = append([][]any(nil), unreadSingleton.reqData...) // the cases share it
	for i := range unreadSingleton.reqData {
		unreadSingleton.reqData[i] = unreadSingleton.reqData[i][:1]
	}
	return []diffCase{
		unread, unreadFull, unreadSingleton,
		blob(py("py_bytes_source_read", `def f(inputs):
    return {"x": [a for a in inputs["a"]], "y": [len(b) if b is not None else 0 for b in inputs["blob"]]}
`, outs, false)),
		blob(py("py_bytes_source_dynamic_key", `def f(inputs):
    key = "bl" + "ob"
    return {"x": inputs["a"], "y": [0 if b is None else 1 for b in inputs[key]]}
`, outs, false)),
		blob(py("py_bytes_source_iterated", `def f(inputs):
    return {"x": inputs["a"], "y": [len(inputs) for _ in inputs["k"]]}
`, outs, false)),
	}
}

// generatedCases are random arithmetic UDFs in both modes over random
// inputs with zeros, negatives, nulls and large magnitudes.
func generatedCases(n int) []diffCase {
	rng := rand.New(rand.NewPCG(4, 2))
	src := []registry.Field{fld("a", core.Double), fld("b", core.Double), fld("n", core.Int64), fld("m", core.Int32)}
	req := []registry.Field{fld("k", core.Int64), fld("q", core.Double)}
	const rows = 5
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 2.5, -3.75, 1e-7, 123456.789, 1e15, -2.675, 7}
	ints := []int64{0, 1, -1, 2, -3, 7, 10, -12, 1000, 1 << 40}
	randFloat := func() float64 {
		if rng.IntN(3) == 0 {
			return floats[rng.IntN(len(floats))]
		}
		return math.Round((rng.Float64()*200-100)*1000) / 1000
	}
	var out []diffCase
	for i := 0; i < n; i++ {
		c := diffCase{request: req, features: src, rows: rows}
		c.featData = make([][]core.Value, len(src))
		for fi, f := range src {
			col := make([]core.Value, rows)
			for r := range col {
				switch f.Type {
				case core.Double:
					col[r] = core.DoubleValue(randFloat())
				case core.Int64:
					col[r] = core.Int64Value(ints[rng.IntN(len(ints))])
				case core.Int32:
					col[r] = core.Value{Type: core.Int32, I: ints[rng.IntN(len(ints)-1)]}
				}
			}
			c.featData[fi] = col
		}
		kv, qv := make([]any, rows), make([]any, rows)
		for r := 0; r < rows; r++ {
			kv[r] = int(ints[rng.IntN(len(ints))])
			qv[r] = randFloat()
		}
		c.reqData = [][]any{kv, qv}
		if i%2 == 0 {
			expr := randPyExpr(rng, 3)
			c.name = fmt.Sprintf("gen_py_%03d", i)
			c.mode = "python"
			c.body = fmt.Sprintf("def f(inputs):\n    return {\"x\": [%s for a, b, n, m, k, q in zip(inputs[\"a\"], inputs[\"b\"], inputs[\"n\"], inputs[\"m\"], inputs[\"k\"], inputs[\"q\"])]}\n", expr)
			c.outputs = []registry.Field{fld("x", []core.ValueType{core.Double, core.Int64, core.Float, core.String}[rng.IntN(4)])}
		} else {
			expr := randPdExpr(rng, 3)
			c.name = fmt.Sprintf("gen_pd_%03d", i)
			c.mode = "pandas"
			c.body = fmt.Sprintf("def f(inputs: pd.DataFrame) -> pd.DataFrame:\n    df = pd.DataFrame()\n    df[\"x\"] = %s\n    return df\n", expr)
			c.outputs = []registry.Field{fld("x", []core.ValueType{core.Double, core.Int64, core.Float, core.Bool}[rng.IntN(4)])}
			for fi := range c.featData {
				for r := range c.featData[fi] {
					if rng.IntN(8) == 0 {
						c.featData[fi][r] = core.Value{}
					}
				}
			}
		}
		c.fullNames = rng.IntN(6) == 0
		out = append(out, c)
	}
	return out
}

func randPyExpr(rng *rand.Rand, depth int) string {
	leaves := []string{"a", "b", "n", "m", "k", "q", "2", "0.5", "3", "-1", "0.1", "10"}
	if depth == 0 || rng.IntN(4) == 0 {
		return leaves[rng.IntN(len(leaves))]
	}
	switch rng.IntN(10) {
	case 0:
		return fmt.Sprintf("round(%s, %d)", randPyExpr(rng, depth-1), rng.IntN(4))
	case 1:
		return fmt.Sprintf("abs(%s)", randPyExpr(rng, depth-1))
	case 2:
		return fmt.Sprintf("max(%s, %s)", randPyExpr(rng, depth-1), randPyExpr(rng, depth-1))
	case 3:
		return fmt.Sprintf("(%s if %s > %s else %s)", randPyExpr(rng, depth-1), randPyExpr(rng, depth-1), randPyExpr(rng, depth-1), randPyExpr(rng, depth-1))
	}
	ops := []string{"+", "-", "*", "/", "//", "%"}
	return fmt.Sprintf("(%s %s %s)", randPyExpr(rng, depth-1), ops[rng.IntN(len(ops))], randPyExpr(rng, depth-1))
}

func randPdExpr(rng *rand.Rand, depth int) string {
	cols := []string{`inputs["a"]`, `inputs["b"]`, `inputs["n"]`, `inputs["m"]`, `inputs["k"]`, `inputs["q"]`}
	consts := []string{"2", "0.5", "3", "-1", "0.1", "10", "0"}
	if depth == 0 || rng.IntN(5) == 0 {
		if rng.IntN(3) == 0 {
			return consts[rng.IntN(len(consts))]
		}
		return cols[rng.IntN(len(cols))]
	}
	switch rng.IntN(12) {
	case 0:
		return fmt.Sprintf("np.where(%s > %s, %s, %s)", randPdExpr(rng, depth-1), randPdExpr(rng, depth-1), randPdExpr(rng, depth-1), randPdExpr(rng, depth-1))
	case 1:
		return fmt.Sprintf("(%s).fillna(%s)", randPdExpr(rng, depth-1), consts[rng.IntN(len(consts))])
	case 2:
		return fmt.Sprintf("(%s).astype(\"float64\")", randPdExpr(rng, depth-1))
	case 3:
		return fmt.Sprintf("(%s) ** 2", randPdExpr(rng, depth-1))
	case 4:
		return fmt.Sprintf("np.sqrt(np.abs(%s))", randPdExpr(rng, depth-1))
	case 5:
		return fmt.Sprintf("-(%s)", randPdExpr(rng, depth-1))
	}
	ops := []string{"+", "-", "*", "/", "<", ">=", "=="}
	return fmt.Sprintf("(%s %s %s)", randPdExpr(rng, depth-1), ops[rng.IntN(len(ops))], randPdExpr(rng, depth-1))
}
