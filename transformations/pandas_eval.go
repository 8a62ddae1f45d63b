package transformations

import (
	"fmt"
	"math"
	"math/big"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/registry"
)

// The evaluator follows what pandas 2 / numpy 2 do to the frame Feast
// builds (OnlineResponse.to_arrow().to_pandas()): int columns are int64,
// or float64 with NaN when a row is null; float columns (FLOAT widened) are
// float64; bool columns without nulls are bool; strings are objects; an
// all-null column is an object column of None. Arithmetic is numpy's:
// int64 wraps, true division converts to float64, IEEE float64 everywhere
// (division by zero gives inf or NaN, NaN propagates), comparisons with NaN
// are false, and Python scalars are "weak" (NEP 50). Anything else —
// other dtypes, nullable bools, a NaN cast to int, an exponent other than
// 2 on floats — is reported as unsupported and the request is delegated.

type dtype uint8

const (
	dtF64 dtype = iota
	dtI64
	dtBool
	dtObjStr  // str or None
	dtObjNone // every row None
)

func (d dtype) String() string {
	return [...]string{"float64", "int64", "bool", "object", "object"}[d]
}

type series struct {
	dt dtype
	// arr marks a numpy ndarray (np.where's result) rather than a pandas
	// Series: same arithmetic, but no .fillna or .abs.
	arr bool
	f   []float64
	i   []int64
	b   []bool
	o   []pv
}

func (s *series) len() int {
	switch s.dt {
	case dtF64:
		return len(s.f)
	case dtI64:
		return len(s.i)
	case dtBool:
		return len(s.b)
	}
	return len(s.o)
}

// numeric returns the values as float64 (int64 converted like numpy).
func (s *series) floats() []float64 {
	switch s.dt {
	case dtF64:
		return s.f
	case dtI64:
		out := make([]float64, len(s.i))
		for r, v := range s.i {
			out[r] = float64(v)
		}
		return out
	case dtBool:
		out := make([]float64, len(s.b))
		for r, v := range s.b {
			if v {
				out[r] = 1
			}
		}
		return out
	}
	return nil
}

// pythonValues is the column as ChunkedArray.to_numpy() hands it to Feast.
func (s *series) pythonValues() []pv {
	out := make([]pv, s.len())
	for r := range out {
		switch s.dt {
		case dtF64:
			out[r] = pyFloat(s.f[r])
		case dtI64:
			out[r] = pyInt(s.i[r])
		case dtBool:
			out[r] = pyBool(s.b[r])
		default:
			out[r] = s.o[r]
		}
	}
	return out
}

// seriesFromValues builds the pandas column of an input column.
func seriesFromValues(vals []pv) (*series, error) {
	hasInt, hasFloat, hasBool, hasStr, hasNone := false, false, false, false, false
	for _, v := range vals {
		switch v.k {
		case kNone:
			hasNone = true
		case kInt:
			if v.big != nil {
				return nil, unsupportedf("an integer outside int64")
			}
			hasInt = true
		case kFloat, kFloat32:
			hasFloat = true
		case kBool:
			hasBool = true
		case kStr:
			hasStr = true
		default:
			return nil, unsupportedf("a %s column in a pandas UDF", v.typeName())
		}
	}
	n := len(vals)
	switch {
	case hasStr && !hasInt && !hasFloat && !hasBool:
		return &series{dt: dtObjStr, o: vals}, nil
	case hasBool && !hasInt && !hasFloat && !hasStr:
		if hasNone {
			return nil, unsupportedf("a bool column with nulls (object dtype)")
		}
		s := &series{dt: dtBool, b: make([]bool, n)}
		for r, v := range vals {
			s.b[r] = v.i != 0
		}
		return s, nil
	case (hasInt || hasFloat) && !hasBool && !hasStr:
		if hasInt && !hasFloat && !hasNone {
			s := &series{dt: dtI64, i: make([]int64, n)}
			for r, v := range vals {
				s.i[r] = v.i
			}
			return s, nil
		}
		s := &series{dt: dtF64, f: make([]float64, n)}
		for r, v := range vals {
			switch v.k {
			case kNone:
				s.f[r] = math.NaN()
			case kInt:
				s.f[r] = float64(v.i)
			default:
				s.f[r] = v.f
			}
		}
		return s, nil
	case !hasInt && !hasFloat && !hasBool && !hasStr:
		return &series{dt: dtObjNone, o: make([]pv, n)}, nil
	}
	return nil, unsupportedf("a column of mixed types")
}

type valKind uint8

const (
	vScalar valKind = iota
	vSeries
	vFrame
	vInputs
	vDtype // a dtype given to astype: "float64" or "int64"
)

type pval struct {
	kind valKind
	sc   pv // vScalar: kInt, kFloat, kBool, kStr, kNone; vDtype: kStr
	s    *series
	fr   *outFrame
}

type outFrame struct {
	names []string
	cols  map[string]*series
	rows  int // -1 while empty
}

type pandasEval struct {
	prog   *pandasProgram
	in     *frame
	rows   int
	locals map[string]pval
	inCols map[string]*series
}

// runPandas evaluates the UDF and returns its output frame's columns in
// order.
func runPandas(prog *pandasProgram, fr *frame) ([]namedValues, error) {
	ev := &pandasEval{prog: prog, in: fr, rows: fr.rows, locals: map[string]pval{}, inCols: map[string]*series{}}
	for _, st := range prog.body {
		v, err := ev.eval(st.value)
		if err != nil {
			return nil, err
		}
		switch st.kind {
		case stmtAssign:
			ev.locals[st.target] = v
		case stmtSetColumn:
			df := ev.locals[st.target]
			if df.kind != vFrame {
				return nil, unsupportedf("line %d: assigning a column of something that is not a pd.DataFrame()", st.line)
			}
			if err := df.fr.set(st.column, v); err != nil {
				return nil, err
			}
		case stmtReturn:
			if v.kind != vFrame {
				return nil, unsupportedf("line %d: the UDF returns something other than a pd.DataFrame()", st.line)
			}
			out := make([]namedValues, len(v.fr.names))
			for i, n := range v.fr.names {
				out[i] = namedValues{name: n, values: v.fr.cols[n].pythonValues()}
			}
			return out, nil
		}
	}
	return nil, unsupportedf("the UDF does not return")
}

// namedValues is one output column as Python values.
type namedValues struct {
	name   string
	values []pv
}

func (f *outFrame) set(name string, v pval) error {
	var s *series
	switch v.kind {
	case vSeries:
		if f.rows >= 0 && v.s.len() != f.rows {
			return unsupportedf("a column of %d rows assigned to a frame of %d", v.s.len(), f.rows)
		}
		f.rows, s = v.s.len(), v.s
	case vScalar:
		if f.rows < 0 {
			return unsupportedf("a scalar assigned to an empty DataFrame")
		}
		var err error
		if s, err = broadcast(v.sc, f.rows); err != nil {
			return err
		}
	default:
		return unsupportedf("assigning a non-column value")
	}
	if _, ok := f.cols[name]; !ok {
		f.names = append(f.names, name)
	}
	f.cols[name] = s
	return nil
}

func broadcast(sc pv, n int) (*series, error) {
	switch sc.k {
	case kInt:
		s := &series{dt: dtI64, i: make([]int64, n)}
		for r := range s.i {
			s.i[r] = sc.i
		}
		return s, nil
	case kFloat:
		s := &series{dt: dtF64, f: make([]float64, n)}
		for r := range s.f {
			s.f[r] = sc.f
		}
		return s, nil
	case kBool:
		s := &series{dt: dtBool, b: make([]bool, n)}
		for r := range s.b {
			s.b[r] = sc.i != 0
		}
		return s, nil
	case kStr:
		s := &series{dt: dtObjStr, o: make([]pv, n)}
		for r := range s.o {
			s.o[r] = sc
		}
		return s, nil
	case kNone:
		return &series{dt: dtObjNone, o: make([]pv, n)}, nil
	}
	return nil, unsupportedf("broadcasting a %s", sc.typeName())
}

func (ev *pandasEval) eval(e pExpr) (pval, error) {
	switch e := e.(type) {
	case *pNum:
		return pval{kind: vScalar, sc: e.v}, nil
	case *pStr:
		return pval{kind: vScalar, sc: pyStr(e.s)}, nil
	case *pConst:
		return pval{kind: vScalar, sc: e.v}, nil
	case *pName:
		if v, ok := ev.locals[e.name]; ok {
			return v, nil
		}
		switch e.name {
		case ev.prog.param:
			return pval{kind: vInputs}, nil
		case "float":
			return pval{kind: vDtype, sc: pyStr("float64")}, nil
		case "int":
			return pval{kind: vDtype, sc: pyStr("int64")}, nil
		}
		return pval{}, unsupportedf("line %d: name %s", e.line, e.name)
	case *pAttr:
		full, ok := moduleAttr(e, localSet(ev.locals), ev.prog.param)
		switch {
		case ok && full == "np.nan":
			return pval{kind: vScalar, sc: pyFloat(math.NaN())}, nil
		case ok && full == "np.float64":
			return pval{kind: vDtype, sc: pyStr("float64")}, nil
		case ok && full == "np.int64":
			return pval{kind: vDtype, sc: pyStr("int64")}, nil
		}
		return pval{}, unsupportedf("line %d: attribute %s", e.line, e.name)
	case *pIndex:
		x, err := ev.eval(e.x)
		if err != nil {
			return pval{}, err
		}
		key := e.idx.(*pStr).s
		switch x.kind {
		case vInputs:
			return ev.inputColumn(key)
		case vFrame:
			s, ok := x.fr.cols[key]
			if !ok {
				return pval{}, unsupportedf("line %d: the frame has no column %q", e.line, key)
			}
			return pval{kind: vSeries, s: s}, nil
		}
		return pval{}, unsupportedf("line %d: indexing a non-frame", e.line)
	case *pUnary:
		x, err := ev.eval(e.x)
		if err != nil {
			return pval{}, err
		}
		v, err := unaryOp(e.op, x)
		if err == nil && v.kind == vSeries && x.kind == vSeries {
			v.s.arr = x.s.arr
		}
		return v, err
	case *pBinary:
		x, err := ev.eval(e.x)
		if err != nil {
			return pval{}, err
		}
		y, err := ev.eval(e.y)
		if err != nil {
			return pval{}, err
		}
		v, err := binaryOp(e.op, x, y, ev.rows)
		if err == nil && v.kind == vSeries {
			// ndarray op ndarray (or scalar) stays an ndarray; a Series wins.
			v.s.arr = (x.kind != vSeries || x.s.arr) && (y.kind != vSeries || y.s.arr)
		}
		return v, err
	case *pCall:
		return ev.call(e)
	}
	return pval{}, unsupportedf("expression %T", e)
}

func localSet(m map[string]pval) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func (ev *pandasEval) inputColumn(name string) (pval, error) {
	if s, ok := ev.inCols[name]; ok {
		return pval{kind: vSeries, s: s}, nil
	}
	c, ok := ev.in.by[name]
	if !ok {
		return pval{}, unsupportedf("the input frame has no column %q", name)
	}
	vals, err := c.values()
	if err != nil {
		return pval{}, err
	}
	s, err := seriesFromValues(vals)
	if err != nil {
		return pval{}, err
	}
	ev.inCols[name] = s
	return pval{kind: vSeries, s: s}, nil
}

func (ev *pandasEval) call(e *pCall) (pval, error) {
	args := make([]pval, len(e.args))
	for i, a := range e.args {
		v, err := ev.eval(a)
		if err != nil {
			return pval{}, err
		}
		args[i] = v
	}
	kw := map[string]pval{}
	for _, k := range e.kwargs {
		v, err := ev.eval(k.x)
		if err != nil {
			return pval{}, err
		}
		kw[k.name] = v
	}
	a := e.fn.(*pAttr)
	if full, ok := moduleAttr(a, localSet(ev.locals), ev.prog.param); ok {
		switch {
		case full == "pd.DataFrame" && len(args) == 0 && len(kw) == 0:
			return pval{kind: vFrame, fr: &outFrame{cols: map[string]*series{}, rows: -1}}, nil
		case full == "np.where" && len(args) == 3 && len(kw) == 0:
			return where(args[0], args[1], args[2], ev.rows)
		case (full == "np.abs" || full == "np.sqrt") && len(args) == 1 && len(kw) == 0:
			v, err := mathFunc(full, args[0])
			if err == nil && v.kind == vSeries {
				v.s.arr = args[0].s.arr
			}
			return v, err
		}
		return pval{}, unsupportedf("line %d: this call of %s", e.line, full)
	}
	recv, err := ev.eval(a.x)
	if err != nil {
		return pval{}, err
	}
	if recv.kind != vSeries {
		return pval{}, unsupportedf("line %d: .%s on a non-column", e.line, a.name)
	}
	if recv.s.arr && a.name != "astype" {
		return pval{}, unsupportedf("line %d: .%s on a numpy array", e.line, a.name)
	}
	arg := func(name string) (pval, bool) {
		if len(args) == 1 && len(kw) == 0 {
			return args[0], true
		}
		if v, ok := kw[name]; ok && len(args) == 0 && len(kw) == 1 {
			return v, true
		}
		return pval{}, false
	}
	switch a.name {
	case "astype":
		t, ok := arg("dtype")
		if !ok {
			return pval{}, unsupportedf("line %d: this call of astype", e.line)
		}
		v, err := astype(recv.s, t)
		if err == nil {
			v.s.arr = recv.s.arr
		}
		return v, err
	case "fillna":
		v, ok := arg("value")
		if !ok || v.kind != vScalar {
			return pval{}, unsupportedf("line %d: this call of fillna", e.line)
		}
		return fillna(recv.s, v.sc)
	case "abs":
		if len(args) != 0 || len(kw) != 0 {
			return pval{}, unsupportedf("line %d: abs() with arguments", e.line)
		}
		return mathFunc("np.abs", recv)
	}
	return pval{}, unsupportedf("line %d: method %s", e.line, a.name)
}

func astype(s *series, t pval) (pval, error) {
	target := ""
	switch {
	case t.kind == vDtype:
		target = t.sc.s
	case t.kind == vScalar && t.sc.k == kStr:
		switch t.sc.s {
		case "float64", "float":
			target = "float64"
		case "int64", "int":
			target = "int64"
		}
	}
	n := s.len()
	switch target {
	case "float64":
		switch s.dt {
		case dtF64, dtI64, dtBool:
			f := s.floats()
			if s.dt == dtF64 {
				f = append([]float64(nil), f...)
			}
			return pval{kind: vSeries, s: &series{dt: dtF64, f: f}}, nil
		case dtObjNone:
			out := &series{dt: dtF64, f: make([]float64, n)}
			for r := range out.f {
				out.f[r] = math.NaN()
			}
			return pval{kind: vSeries, s: out}, nil
		}
	case "int64":
		out := &series{dt: dtI64, i: make([]int64, n)}
		switch s.dt {
		case dtI64:
			copy(out.i, s.i)
			return pval{kind: vSeries, s: out}, nil
		case dtBool:
			for r, b := range s.b {
				if b {
					out.i[r] = 1
				}
			}
			return pval{kind: vSeries, s: out}, nil
		case dtF64:
			for r, f := range s.f {
				n, ok := pyconv.FloatToInt64(f)
				if !ok {
					return pval{}, unsupportedf("casting NaN, inf or an out-of-range float to int64")
				}
				out.i[r] = n
			}
			return pval{kind: vSeries, s: out}, nil
		}
	}
	return pval{}, unsupportedf("astype to %v from %s", t.sc.s, s.dt)
}

func fillna(s *series, v pv) (pval, error) {
	switch s.dt {
	case dtI64, dtBool:
		if v.k == kInt || v.k == kFloat {
			return pval{kind: vSeries, s: s}, nil
		}
	case dtF64:
		if v.k == kInt || v.k == kFloat {
			fill := v.f
			if v.k == kInt {
				fill = float64(v.i)
			}
			out := &series{dt: dtF64, f: make([]float64, len(s.f))}
			for r, f := range s.f {
				if math.IsNaN(f) {
					f = fill
				}
				out.f[r] = f
			}
			return pval{kind: vSeries, s: out}, nil
		}
	case dtObjStr:
		if v.k == kStr {
			out := &series{dt: dtObjStr, o: make([]pv, len(s.o))}
			for r, x := range s.o {
				if x.k == kNone {
					x = v
				}
				out.o[r] = x
			}
			return pval{kind: vSeries, s: out}, nil
		}
	}
	return pval{}, unsupportedf("fillna(%s) on a %s column", v.typeName(), s.dt)
}

func mathFunc(name string, x pval) (pval, error) {
	sqrt := name == "np.sqrt"
	switch x.kind {
	case vScalar:
		switch x.sc.k {
		case kInt:
			if sqrt {
				return pval{kind: vScalar, sc: pyFloat(math.Sqrt(float64(x.sc.i)))}, nil
			}
			if x.sc.i == math.MinInt64 {
				return pval{}, unsupportedf("abs() overflow")
			}
			if x.sc.i < 0 {
				return pval{kind: vScalar, sc: pyInt(-x.sc.i)}, nil
			}
			return x, nil
		case kFloat:
			if sqrt {
				return pval{kind: vScalar, sc: pyFloat(math.Sqrt(x.sc.f))}, nil
			}
			return pval{kind: vScalar, sc: pyFloat(math.Abs(x.sc.f))}, nil
		}
	case vSeries:
		s := x.s
		switch {
		case sqrt && (s.dt == dtF64 || s.dt == dtI64):
			f := s.floats()
			out := &series{dt: dtF64, f: make([]float64, len(f))}
			for r, v := range f {
				out.f[r] = math.Sqrt(v)
			}
			return pval{kind: vSeries, s: out}, nil
		case !sqrt && s.dt == dtF64:
			out := &series{dt: dtF64, f: make([]float64, len(s.f))}
			for r, v := range s.f {
				out.f[r] = math.Abs(v)
			}
			return pval{kind: vSeries, s: out}, nil
		case !sqrt && s.dt == dtI64:
			out := &series{dt: dtI64, i: make([]int64, len(s.i))}
			for r, v := range s.i {
				if v < 0 {
					v = -v // numpy wraps: abs(MinInt64) stays negative
				}
				out.i[r] = v
			}
			return pval{kind: vSeries, s: out}, nil
		}
	}
	return pval{}, unsupportedf("%s of this value", name)
}

func unaryOp(op string, x pval) (pval, error) {
	switch x.kind {
	case vScalar:
		switch {
		case op == "+" && (x.sc.k == kInt || x.sc.k == kFloat):
			return x, nil
		case op == "-" && x.sc.k == kFloat:
			return pval{kind: vScalar, sc: pyFloat(-x.sc.f)}, nil
		case op == "-" && x.sc.k == kInt && x.sc.i != math.MinInt64:
			return pval{kind: vScalar, sc: pyInt(-x.sc.i)}, nil
		}
	case vSeries:
		s := x.s
		switch {
		case op == "+" && (s.dt == dtF64 || s.dt == dtI64):
			return x, nil
		case op == "-" && s.dt == dtF64:
			out := &series{dt: dtF64, f: make([]float64, len(s.f))}
			for r, v := range s.f {
				out.f[r] = -v
			}
			return pval{kind: vSeries, s: out}, nil
		case op == "-" && s.dt == dtI64:
			out := &series{dt: dtI64, i: make([]int64, len(s.i))}
			for r, v := range s.i {
				out.i[r] = -v
			}
			return pval{kind: vSeries, s: out}, nil
		case op == "~" && s.dt == dtBool:
			out := &series{dt: dtBool, b: make([]bool, len(s.b))}
			for r, v := range s.b {
				out.b[r] = !v
			}
			return pval{kind: vSeries, s: out}, nil
		}
	}
	return pval{}, unsupportedf("unary %s on this value", op)
}

// operand is one side of an element-wise operation.
type operand struct {
	dt     dtype // of the series, or the scalar's natural dtype
	scalar bool
	sc     pv
	s      *series
}

func operandOf(v pval) (operand, error) {
	switch v.kind {
	case vSeries:
		return operand{dt: v.s.dt, s: v.s}, nil
	case vScalar:
		switch v.sc.k {
		case kInt:
			return operand{dt: dtI64, scalar: true, sc: v.sc}, nil
		case kFloat:
			return operand{dt: dtF64, scalar: true, sc: v.sc}, nil
		case kBool:
			return operand{dt: dtBool, scalar: true, sc: v.sc}, nil
		case kStr:
			return operand{dt: dtObjStr, scalar: true, sc: v.sc}, nil
		}
	}
	return operand{}, unsupportedf("an operand of this kind")
}

func (o operand) f(r int) float64 {
	if o.scalar {
		if o.sc.k == kFloat {
			return o.sc.f
		}
		return float64(o.sc.i)
	}
	switch o.dt {
	case dtF64:
		return o.s.f[r]
	case dtI64:
		return float64(o.s.i[r])
	case dtBool:
		if o.s.b[r] {
			return 1
		}
	}
	return 0
}

func (o operand) i(r int) int64 {
	if o.scalar {
		return o.sc.i
	}
	if o.dt == dtBool {
		if o.s.b[r] {
			return 1
		}
		return 0
	}
	return o.s.i[r]
}

func (o operand) b(r int) bool {
	if o.scalar {
		return o.sc.i != 0
	}
	return o.s.b[r]
}

// binaryOp evaluates x op y over rows as pandas does, or reports the
// combination unsupported (Python decides).
func binaryOp(op string, x, y pval, rows int) (pval, error) {
	a, err := operandOf(x)
	if err != nil {
		return pval{}, err
	}
	b, err := operandOf(y)
	if err != nil {
		return pval{}, err
	}
	if a.scalar && b.scalar {
		return scalarOp(op, a.sc, b.sc)
	}
	if (a.dt == dtObjNone || b.dt == dtObjNone) && (a.numeric() || a.dt == dtObjNone) && (b.numeric() || b.dt == dtObjNone) {
		if s := nullOp(op, a, rows); s != nil {
			return pval{kind: vSeries, s: s}, nil
		}
		return pval{}, unsupportedf("%s %s %s with an all-null column", a.dt, op, b.dt)
	}
	var out *series
	switch op {
	case "+", "-", "*", "/":
		out = arithOp(op, a, b, rows)
	case "**":
		out = powOp(a, b, rows)
	case "<", ">", "<=", ">=", "==", "!=":
		if out = compareOp(op, a, b, rows); out == nil {
			return pval{}, unsupportedf("comparing %s with %s", a.dt, b.dt)
		}
	case "&", "|":
		out = logicalOp(op, a, b, rows)
	}
	if out == nil {
		return pval{}, unsupportedf("%s %s %s", a.dt, op, b.dt)
	}
	return pval{kind: vSeries, s: out}, nil
}

func (o operand) numeric() bool { return o.dt == dtF64 || o.dt == dtI64 }

// nullOp is op with an all-null operand (nil: unsupported). An all-null
// column is an object column of None. numpy fails on None, and pandas then
// computes only where both sides are non-null (_masked_arith_op): every row
// is NaN. Object comparisons with a null are False, except != which is
// True.
func nullOp(op string, a operand, n int) *series {
	switch op {
	case "+", "-", "*", "/", "**":
		return &series{dt: dtObjNone, o: make([]pv, n)}
	case "<", ">", "<=", ">=", "==", "!=":
		// Ordering with a numeric column on the left goes through numpy,
		// which raises on None; leave that to pandas itself.
		if op != "==" && op != "!=" && !(a.dt == dtObjNone || a.scalar) {
			return nil
		}
		out := &series{dt: dtBool, b: make([]bool, n)}
		for r := range out.b {
			out.b[r] = op == "!="
		}
		return out
	}
	return nil
}

// arithOp is + - * / of numeric operands (nil: unsupported): int64 stays
// int64 except for /, as numpy does.
func arithOp(op string, a, b operand, n int) *series {
	if !a.numeric() || !b.numeric() {
		return nil
	}
	if op != "/" && a.dt == dtI64 && b.dt == dtI64 {
		out := &series{dt: dtI64, i: make([]int64, n)}
		for r := range out.i {
			p, q := a.i(r), b.i(r)
			switch op {
			case "+":
				out.i[r] = p + q
			case "-":
				out.i[r] = p - q
			default:
				out.i[r] = p * q
			}
		}
		return out
	}
	out := &series{dt: dtF64, f: make([]float64, n)}
	for r := range out.f {
		p, q := a.f(r), b.f(r)
		// Each result is rounded on its own (no fused multiply-add).
		switch op {
		case "+":
			out.f[r] = float64(p + q)
		case "-":
			out.f[r] = float64(p - q)
		case "*":
			out.f[r] = float64(p * q)
		default:
			out.f[r] = float64(p / q)
		}
	}
	return out
}

// powOp is a numeric column ** a scalar, for the exponents whose numpy
// result is exact here (nil: unsupported).
func powOp(a, b operand, n int) *series {
	if a.scalar || !b.scalar || !a.numeric() {
		return nil
	}
	switch {
	case a.dt == dtF64 && ((b.sc.k == kInt && b.sc.i == 2) || (b.sc.k == kFloat && b.sc.f == 2)):
		out := &series{dt: dtF64, f: make([]float64, n)}
		for r := range out.f {
			v := a.f(r)
			out.f[r] = float64(v * v)
		}
		return out
	case a.dt == dtI64 && b.sc.k == kInt && b.sc.i >= 0:
		out := &series{dt: dtI64, i: make([]int64, n)}
		for r := range out.i {
			out.i[r] = ipow(a.i(r), b.sc.i)
		}
		return out
	}
	return nil
}

// compareOp is a comparison giving a bool column (nil: unsupported).
func compareOp(op string, a, b operand, n int) *series {
	out := &series{dt: dtBool, b: make([]bool, n)}
	switch {
	case a.numeric() && b.numeric() && a.dt == dtI64 && b.dt == dtI64:
		for r := range out.b {
			out.b[r] = cmpOrdered(op, a.i(r), b.i(r))
		}
	case a.numeric() && b.numeric():
		for r := range out.b {
			out.b[r] = cmpFloat(op, a.f(r), b.f(r))
		}
	case a.dt == dtBool && b.dt == dtBool && (op == "==" || op == "!="):
		for r := range out.b {
			out.b[r] = (a.b(r) == b.b(r)) == (op == "==")
		}
	case a.dt == dtObjStr && b.dt == dtObjStr && (op == "==" || op == "!=") && (a.scalar || b.scalar):
		for r := range out.b {
			p, q := strAt(a, r), strAt(b, r)
			eq := p.k == kStr && q.k == kStr && p.s == q.s
			out.b[r] = eq == (op == "==")
		}
	default:
		return nil
	}
	return out
}

// logicalOp is & | of bool columns (nil: unsupported).
func logicalOp(op string, a, b operand, n int) *series {
	if a.dt != dtBool || b.dt != dtBool {
		return nil
	}
	out := &series{dt: dtBool, b: make([]bool, n)}
	for r := range out.b {
		if op == "&" {
			out.b[r] = a.b(r) && b.b(r)
		} else {
			out.b[r] = a.b(r) || b.b(r)
		}
	}
	return out
}

func strAt(o operand, r int) pv {
	if o.scalar {
		return o.sc
	}
	return o.s.o[r]
}

func cmpOrdered[T int64 | float64](op string, p, q T) bool {
	switch op {
	case "<":
		return p < q
	case ">":
		return p > q
	case "<=":
		return p <= q
	case ">=":
		return p >= q
	case "==":
		return p == q
	}
	return p != q
}

// cmpFloat is IEEE comparison: NaN is unequal to everything.
func cmpFloat(op string, p, q float64) bool { return cmpOrdered(op, p, q) }

// ipow is numpy's int64 power: wrapping multiplication.
func ipow(base, exp int64) int64 {
	result := int64(1)
	for exp > 0 {
		if exp&1 == 1 {
			result *= base
		}
		exp >>= 1
		base *= base
	}
	return result
}

// scalarOp is Python arithmetic on two scalars, for the cases whose
// result is exact in float64/int64 terms.
func scalarOp(op string, a, b pv) (pval, error) {
	isNum := func(v pv) bool { return v.k == kInt || v.k == kFloat }
	if !isNum(a) || !isNum(b) {
		if (op == "==" || op == "!=") && a.k == kStr && b.k == kStr {
			return pval{kind: vScalar, sc: pyBool((a.s == b.s) == (op == "=="))}, nil
		}
		return pval{}, unsupportedf("%s %s %s on scalars", a.typeName(), op, b.typeName())
	}
	bothInt := a.k == kInt && b.k == kInt
	af, bf := a.f, b.f
	if a.k == kInt {
		af = float64(a.i)
	}
	if b.k == kInt {
		bf = float64(b.i)
	}
	const exact = 1 << 53
	inRange := func(v pv) bool { return v.k == kFloat || (v.i <= exact && v.i >= -exact) }
	switch op {
	case "+", "-", "*":
		if bothInt {
			var r int64
			var ok bool
			switch op {
			case "+":
				r = a.i + b.i
				ok = (r > a.i) == (b.i > 0)
			case "-":
				r = a.i - b.i
				ok = (r < a.i) == (b.i > 0)
			default:
				r = a.i * b.i
				ok = a.i == 0 || (r/a.i == b.i && !(a.i == -1 && b.i == math.MinInt64))
			}
			if !ok {
				return pval{}, unsupportedf("integer overflow")
			}
			return pval{kind: vScalar, sc: pyInt(r)}, nil
		}
		if !inRange(a) || !inRange(b) {
			return pval{}, unsupportedf("large integers in float arithmetic")
		}
		var r float64
		switch op {
		case "+":
			r = float64(af + bf)
		case "-":
			r = float64(af - bf)
		default:
			r = float64(af * bf)
		}
		return pval{kind: vScalar, sc: pyFloat(r)}, nil
	case "/":
		if !inRange(a) || !inRange(b) {
			return pval{}, unsupportedf("large integers in division")
		}
		if bf == 0 {
			return pval{}, unsupportedf("division by zero")
		}
		return pval{kind: vScalar, sc: pyFloat(af / bf)}, nil
	case "**":
		switch {
		case bothInt && b.i >= 0:
			if b.i > 64 && a.i != 0 && a.i != 1 && a.i != -1 {
				return pval{}, unsupportedf("integer overflow")
			}
			r := new(big.Int).Exp(big.NewInt(a.i), big.NewInt(b.i), nil)
			if !r.IsInt64() {
				return pval{}, unsupportedf("integer overflow")
			}
			return pval{kind: vScalar, sc: pyInt(r.Int64())}, nil
		case (b.k == kInt && b.i == 2) || (b.k == kFloat && b.f == 2):
			if !inRange(a) {
				return pval{}, unsupportedf("large integers in float arithmetic")
			}
			if a.k == kInt && b.k == kInt {
				break
			}
			return pval{kind: vScalar, sc: pyFloat(float64(af * af))}, nil
		}
	case "<", ">", "<=", ">=", "==", "!=":
		if bothInt {
			return pval{kind: vScalar, sc: pyBool(cmpOrdered(op, a.i, b.i))}, nil
		}
		if !inRange(a) || !inRange(b) {
			return pval{}, unsupportedf("comparing large integers with floats")
		}
		return pval{kind: vScalar, sc: pyBool(cmpFloat(op, af, bf))}, nil
	}
	return pval{}, unsupportedf("%s on scalars", op)
}

func where(c, x, y pval, rows int) (pval, error) {
	if c.kind != vSeries || c.s.dt != dtBool {
		return pval{}, unsupportedf("np.where with a condition that is not a bool column")
	}
	a, err := operandOf(x)
	if err != nil {
		return pval{}, err
	}
	b, err := operandOf(y)
	if err != nil {
		return pval{}, err
	}
	if a.dt == dtObjStr || b.dt == dtObjStr || a.dt == dtObjNone || b.dt == dtObjNone {
		return pval{}, unsupportedf("np.where over object values")
	}
	var out *series
	switch {
	case a.dt == dtF64 || b.dt == dtF64:
		out = &series{dt: dtF64, f: make([]float64, rows)}
		for r := range out.f {
			if c.s.b[r] {
				out.f[r] = a.f(r)
			} else {
				out.f[r] = b.f(r)
			}
		}
	case a.dt == dtI64 || b.dt == dtI64:
		out = &series{dt: dtI64, i: make([]int64, rows)}
		for r := range out.i {
			if c.s.b[r] {
				out.i[r] = a.i(r)
			} else {
				out.i[r] = b.i(r)
			}
		}
	default:
		out = &series{dt: dtBool, b: make([]bool, rows)}
		for r := range out.b {
			if c.s.b[r] {
				out.b[r] = a.b(r)
			} else {
				out.b[r] = b.b(r)
			}
		}
	}
	out.arr = true
	return pval{kind: vSeries, s: out}, nil
}

// selectFrameOutputs applies Feast's _postprocess_arrow_table and output
// selection to a pandas UDF's result columns: drop the aliases added before
// the UDF, rename schema features to plain or "<odfv>__" names, keep the
// requested ones in frame order and convert them to Values.
func selectFrameOutputs(odfv *registry.ODFV, cols []namedValues, fr *frame, requested nameSet, fullNames bool) ([]core.Column, error) {
	present := make(map[string]bool, len(cols))
	for _, c := range cols {
		present[c.name] = true
	}
	rename := map[string]string{}
	for _, f := range odfv.Features {
		short, long := f.Name, odfv.Name+"__"+f.Name
		if present[short] && fullNames {
			rename[short] = long
		} else if present[long] && !fullNames {
			rename[long] = short
		}
	}
	var out []core.Column
	for _, c := range cols {
		if in, ok := fr.by[c.name]; ok && in.alias {
			continue
		}
		name := c.name
		if r, ok := rename[name]; ok {
			name = r
		}
		if !requested.has(name) {
			continue
		}
		if len(c.values) != fr.rows {
			return nil, &udfError{class: "ValueError", msg: fmt.Sprintf("the UDF returned %d values for %s, expected %d (one per row)", len(c.values), name, fr.rows)}
		}
		typed, err := pyValuesToCore(c.values, outputType(odfv, name))
		if err != nil {
			return nil, err
		}
		out = append(out, core.Column{Name: name, Typed: typed})
	}
	return out, nil
}
