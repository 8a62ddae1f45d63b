package transformations

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/registry"
)

// Python-mode UDFs run in Starlark, a Python dialect made for embedding,
// after three kinds of changes that keep Python's meaning:
//
//   - source level (pysource.go): decorators and type annotations removed,
//     "is None" and friends turned into == / !=;
//   - syntax tree: /, // and % (and /=, //=, %=) become calls to builtins
//     with Python's numeric semantics (Starlark's float // and % differ,
//     and its int / int rounds twice for big ints);
//   - names: only a fixed set of builtins resolves; sum, round, str, float,
//     int, zip and enumerate are reimplemented with Python's semantics
//     (zip and enumerate as single-pass iterators).
//
// Values Starlark models differently from Python never reach the UDF as
// plain values: NaN and infinities (Starlark orders NaN above +inf and
// makes it equal to itself), non-ASCII or control-character strings
// (Starlark strings are bytes), bytes and datetimes arrive as opaque
// values, and any use of one fails; the request is then delegated.

const (
	fnTrueDiv  = "_feastgo_truediv"
	fnFloorDiv = "_feastgo_floordiv"
	fnMod      = "_feastgo_mod"
)

// starlarkUniversal are Starlark's own builtins whose semantics match
// Python's for the values a UDF sees here.
var starlarkUniversal = map[string]bool{
	"None": true, "True": true, "False": true, "len": true, "range": true, "bool": true,
	"list": true, "dict": true, "any": true, "all": true, "min": true, "max": true,
	"sorted": true, "abs": true,
}

// allowedMethods are the attribute names a UDF may use: methods that exist
// in Python and behave the same in Starlark on plain values. Starlark-only
// methods (elems, codepoints, …) and ones that differ (format, title,
// capitalize, splitlines) are not here.
var allowedMethods = map[string]bool{
	"append": true, "extend": true, "insert": true, "pop": true, "remove": true, "index": true,
	"clear": true, "get": true, "items": true, "keys": true, "values": true, "update": true,
	"setdefault": true, "popitem": true, "lower": true, "upper": true, "strip": true,
	"lstrip": true, "rstrip": true, "split": true, "rsplit": true, "startswith": true,
	"endswith": true, "replace": true, "join": true, "find": true, "rfind": true, "count": true,
	"isdigit": true, "isalpha": true, "isalnum": true, "isspace": true, "islower": true,
	"isupper": true, "removeprefix": true, "removesuffix": true, "partition": true,
	"rpartition": true,
}

var starlarkFileOptions = &syntax.FileOptions{While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}

// pyProgram is a python-mode UDF compiled for Starlark.
type pyProgram struct {
	fn        *starlark.Function
	singleton bool
	// reads are the input keys the UDF can read (inputReads); nil when
	// that cannot be proved, and then every input counts.
	reads map[string]bool
}

// compilePython returns the compiled UDF, or a reason why it must be
// delegated.
func compilePython(odfv *registry.ODFV, initSteps uint64) (*pyProgram, string) {
	if strings.TrimSpace(odfv.BodyText) == "" {
		return nil, "the registry has no body_text for the UDF"
	}
	src, err := toStarlarkSource(stripLeadingDecorators(odfv.BodyText))
	if err != nil {
		return nil, "python source: " + err.Error()
	}
	check, err := starlarkFileOptions.Parse(odfv.Name+".py", src, 0)
	if err != nil {
		return nil, "not in the Starlark subset of Python: " + err.Error()
	}
	if reason := rewriteAndCheck(check); reason != "" {
		return nil, reason
	}
	if err := resolve.File(check, isPredeclared, func(n string) bool { return starlarkUniversal[n] }); err != nil {
		return nil, "uses a name outside the native builtins: " + err.Error()
	}
	f, err := starlarkFileOptions.Parse(odfv.Name+".py", src, 0)
	if err != nil {
		return nil, "not in the Starlark subset of Python: " + err.Error()
	}
	rewriteAndCheck(f)
	prog, err := starlark.FileProgram(f, isPredeclared)
	if err != nil {
		return nil, "does not compile: " + err.Error()
	}
	thread := &starlark.Thread{Name: odfv.Name + " (module)"}
	thread.SetMaxExecutionSteps(initSteps)
	globals, err := prog.Init(thread, predeclared)
	if err != nil {
		return nil, "module body fails: " + err.Error()
	}
	globals.Freeze()
	name := odfv.UDFName
	if _, ok := globals[name].(*starlark.Function); !ok || name == "" {
		name = ""
		for _, st := range f.Stmts {
			if d, ok := st.(*syntax.DefStmt); ok {
				name = d.Name.Name
				break
			}
		}
	}
	fn, ok := globals[name].(*starlark.Function)
	if !ok {
		return nil, fmt.Sprintf("no function %q in the UDF source", odfv.UDFName)
	}
	if fn.NumParams() < 1 || (fn.NumParams()-fn.NumKwonlyParams() < 1) {
		return nil, "the UDF does not take one positional argument"
	}
	return &pyProgram{fn: fn, singleton: odfv.Singleton, reads: inputReads(f, name)}, ""
}

func isPredeclared(name string) bool { _, ok := predeclared[name]; return ok }

// rewriteAndCheck replaces /, //, % by Python-semantics builtins and
// rejects constructs whose Starlark meaning differs from Python's. It
// returns a reason when the file must be delegated.
func rewriteAndCheck(f *syntax.File) string {
	var w rewriter
	w.stmts(f.Stmts)
	return w.reason
}

// rewriter walks a file for rewriteAndCheck; reason is the first construct
// found that must be delegated.
type rewriter struct{ reason string }

func (w *rewriter) fail(format string, args ...any) {
	if w.reason == "" {
		w.reason = fmt.Sprintf(format, args...)
	}
}

// pyCall is fn(x, y), positioned at x.
func pyCall(fn string, x, y syntax.Expr) *syntax.CallExpr {
	return &syntax.CallExpr{Fn: &syntax.Ident{Name: fn, NamePos: syntax.Start(x)}, Args: []syntax.Expr{x, y}}
}

func (w *rewriter) exprs(es []syntax.Expr) {
	for i := range es {
		es[i] = w.expr(es[i])
	}
}

// expr rewrites e's operators and checks what it uses.
func (w *rewriter) expr(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case nil:
		return nil
	case *syntax.BinaryExpr:
		e.X, e.Y = w.expr(e.X), w.expr(e.Y)
		switch e.Op {
		case syntax.SLASH:
			return pyCall(fnTrueDiv, e.X, e.Y)
		case syntax.SLASHSLASH:
			return pyCall(fnFloorDiv, e.X, e.Y)
		case syntax.PERCENT:
			return pyCall(fnMod, e.X, e.Y)
		case syntax.AMP, syntax.PIPE, syntax.CIRCUMFLEX, syntax.LTLT, syntax.GTGT:
			// Starlark's int bit operations match Python's, but | and &
			// also mean set and dict union in Python: keep it simple.
			w.fail("uses the operator %s", e.Op)
		}
		return e
	case *syntax.UnaryExpr:
		e.X = w.expr(e.X)
		if e.Op == syntax.TILDE {
			w.fail("uses the operator ~")
		}
		return e
	case *syntax.CallExpr:
		e.Fn = w.expr(e.Fn)
		w.exprs(e.Args)
		return e
	case *syntax.DotExpr:
		e.X = w.expr(e.X)
		if !allowedMethods[e.Name.Name] {
			w.fail("uses .%s, which is not among the natively supported methods", e.Name.Name)
		}
		return e
	case *syntax.IndexExpr:
		e.X, e.Y = w.expr(e.X), w.expr(e.Y)
		return e
	case *syntax.SliceExpr:
		e.X, e.Lo, e.Hi, e.Step = w.expr(e.X), w.expr(e.Lo), w.expr(e.Hi), w.expr(e.Step)
		return e
	case *syntax.ParenExpr:
		e.X = w.expr(e.X)
		return e
	case *syntax.CondExpr:
		e.Cond, e.True, e.False = w.expr(e.Cond), w.expr(e.True), w.expr(e.False)
		return e
	case *syntax.ListExpr:
		w.exprs(e.List)
		return e
	case *syntax.TupleExpr:
		w.exprs(e.List)
		return e
	case *syntax.DictExpr:
		w.exprs(e.List)
		return e
	case *syntax.DictEntry:
		e.Key, e.Value = w.expr(e.Key), w.expr(e.Value)
		return e
	case *syntax.Comprehension:
		e.Body = w.expr(e.Body)
		for _, c := range e.Clauses {
			switch c := c.(type) {
			case *syntax.ForClause:
				c.Vars, c.X = w.expr(c.Vars), w.expr(c.X)
			case *syntax.IfClause:
				c.Cond = w.expr(c.Cond)
			}
		}
		return e
	case *syntax.LambdaExpr:
		for i := range e.Params {
			e.Params[i] = w.expr(e.Params[i])
		}
		e.Body = w.expr(e.Body)
		return e
	case *syntax.Literal:
		w.literal(e)
		return e
	case *syntax.Ident:
		return e
	}
	w.fail("uses an expression of type %T", e)
	return e
}

// literal rejects literals whose Starlark value differs from Python's.
func (w *rewriter) literal(e *syntax.Literal) {
	switch e.Token {
	case syntax.BYTES:
		w.fail("uses a bytes literal")
	case syntax.STRING:
		if s, _ := e.Value.(string); !plainString(s) {
			w.fail("uses a string literal with non-ASCII or control characters")
		}
	case syntax.FLOAT:
		if f, _ := e.Value.(float64); math.IsInf(f, 0) {
			w.fail("uses a float literal outside the float range")
		}
	}
}

// stmts rewrites and checks a statement list in place.
func (w *rewriter) stmts(stmts []syntax.Stmt) {
	for _, s := range stmts {
		switch s := s.(type) {
		case *syntax.AssignStmt:
			s.LHS, s.RHS = w.expr(s.LHS), w.expr(s.RHS)
			var fn string
			switch s.Op {
			case syntax.SLASH_EQ:
				fn = fnTrueDiv
			case syntax.SLASHSLASH_EQ:
				fn = fnFloorDiv
			case syntax.PERCENT_EQ:
				fn = fnMod
			case syntax.AMP_EQ, syntax.PIPE_EQ, syntax.CIRCUMFLEX_EQ, syntax.LTLT_EQ, syntax.GTGT_EQ:
				w.fail("uses the operator %s", s.Op)
			}
			if fn != "" {
				id, ok := s.LHS.(*syntax.Ident)
				if !ok {
					w.fail("uses %s on something other than a variable", s.Op)
					continue
				}
				s.Op = syntax.EQ
				s.RHS = pyCall(fn, &syntax.Ident{Name: id.Name, NamePos: id.NamePos}, s.RHS)
			}
		case *syntax.ExprStmt:
			s.X = w.expr(s.X)
		case *syntax.IfStmt:
			s.Cond = w.expr(s.Cond)
			w.stmts(s.True)
			w.stmts(s.False)
		case *syntax.ForStmt:
			s.Vars, s.X = w.expr(s.Vars), w.expr(s.X)
			w.stmts(s.Body)
		case *syntax.WhileStmt:
			s.Cond = w.expr(s.Cond)
			w.stmts(s.Body)
		case *syntax.DefStmt:
			for i := range s.Params {
				s.Params[i] = w.expr(s.Params[i])
			}
			w.stmts(s.Body)
		case *syntax.ReturnStmt:
			s.Result = w.expr(s.Result)
		case *syntax.BranchStmt:
		case *syntax.LoadStmt:
			w.fail("calls load()")
		default:
			w.fail("uses a statement of type %T", s)
		}
	}
}

// plainString reports whether s has only printable ASCII, tab, newline and
// carriage return: strings whose Starlark byte semantics equal Python's
// code-point semantics and whose whitespace rules agree.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c > 0x7e {
			return false
		}
	}
	return true
}

// stepLimitError is a UDF that ran out of execution steps.
type stepLimitError struct {
	odfv  string
	limit uint64
}

func (e *stepLimitError) Error() string {
	return fmt.Sprintf("on-demand feature view %s: the UDF exceeded the native execution limit of %d steps (an endless loop, or work too large to run inline)", e.odfv, e.limit)
}

// runPython evaluates the UDF over the frame and returns the output
// columns Feast selects, in Feast's order.
func runPython(ctx context.Context, p *pyProgram, odfv *registry.ODFV, fr *frame, requested nameSet, maxSteps uint64) ([]core.Column, error) {
	in, opaques, err := pythonInputs(p, fr, requested)
	if err != nil {
		return nil, err
	}
	res, err := callUDF(ctx, p, odfv, in, opaques, maxSteps)
	if err != nil {
		return nil, err
	}
	return pythonOutputs(res, in, odfv, fr, requested)
}

// pythonInputs builds the UDF's input dict, column name -> list of values
// (one value in singleton mode); opaques counts the values Starlark does
// not model.
func pythonInputs(p *pyProgram, fr *frame, requested nameSet) (in *starlark.Dict, opaques int, err error) {
	in = starlark.NewDict(len(fr.cols))
	toStarlark := func(v pv) (starlark.Value, error) {
		x, err := toStarlark(v)
		if _, ok := x.(*opaque); ok {
			opaques++
		} else if l, ok := x.(*starlark.List); ok {
			for i := 0; i < l.Len(); i++ {
				if _, ok := l.Index(i).(*opaque); ok {
					opaques++
				}
			}
		}
		return x, err
	}
	for _, c := range fr.cols {
		if p.reads != nil && !p.reads[c.name] && !requested.has(c.name) {
			// The UDF provably never reads this column and Feast does not
			// return it as is: its values cannot change the answer, so
			// ones the native path does not model (bytes, say) need not
			// send the request to Python, and it is not even decoded.
			if err := in.SetKey(starlark.String(c.name), unreadInput); err != nil {
				return nil, 0, err
			}
			continue
		}
		vals, err := c.values()
		if err != nil {
			return nil, 0, err
		}
		var v starlark.Value
		if p.singleton {
			if len(vals) == 0 {
				return nil, 0, unsupportedf("singleton mode with no rows")
			}
			if v, err = toStarlark(vals[0]); err != nil {
				return nil, 0, err
			}
		} else {
			elems := make([]starlark.Value, len(vals))
			for i, x := range vals {
				if elems[i], err = toStarlark(x); err != nil {
					return nil, 0, err
				}
			}
			v = starlark.NewList(elems)
		}
		if err := in.SetKey(starlark.String(c.name), v); err != nil {
			return nil, 0, err
		}
	}
	return in, opaques, nil
}

// callUDF runs the UDF within maxSteps, cancelled with ctx; a failure that
// may come from an unmodelled value is errUnsupported (Python decides).
func callUDF(ctx context.Context, p *pyProgram, odfv *registry.ODFV, in *starlark.Dict, opaques int, maxSteps uint64) (starlark.Value, error) {
	thread := &starlark.Thread{Name: odfv.Name}
	thread.SetMaxExecutionSteps(maxSteps)
	thread.OnMaxSteps = func(t *starlark.Thread) { t.Cancel(fmt.Sprintf("more than %d steps", maxSteps)) }
	stop := func() bool { return false }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { thread.Cancel("request cancelled") })
	}
	res, err := starlark.Call(thread, p.fn, starlark.Tuple{in}, nil)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if thread.ExecutionSteps() >= maxSteps {
			return nil, &stepLimitError{odfv: odfv.Name, limit: maxSteps}
		}
		if errors.Is(err, errUnsupported) {
			return nil, err
		}
		if opaques > 0 {
			// The failure may come from touching a value Starlark does not
			// model; only Python can tell.
			return nil, unsupportedf("the UDF failed with inputs the native path does not model: %v", err)
		}
		var ee *starlark.EvalError
		if errors.As(err, &ee) {
			return nil, &udfError{class: "Exception", msg: ee.Msg}
		}
		return nil, &udfError{class: "Exception", msg: err.Error()}
	}
	return res, nil
}

// pythonOutputs converts the UDF's returned dict into the columns Feast
// keeps.
func pythonOutputs(res starlark.Value, in *starlark.Dict, odfv *registry.ODFV, fr *frame, requested nameSet) ([]core.Column, error) {
	out, ok := res.(*starlark.Dict)
	if !ok {
		return nil, unsupportedf("the UDF returned a %s, not a dict", res.Type())
	}
	// Feast returns {**inputs, **outputs} minus the aliases it added, and
	// keeps the names that were requested, in that dict's order: input keys
	// first (with the UDF's value when it returned the same key), then the
	// UDF's new keys.
	var cols []core.Column
	emit := func(name string, v starlark.Value) error {
		if c, ok := fr.by[name]; ok && c.alias {
			return nil
		}
		x, err := fromStarlark(v, 0)
		if err != nil {
			return err
		}
		vector := []pv{x}
		if x.k == kList {
			vector = x.list
		}
		if len(vector) != fr.rows {
			return &udfError{class: "ValueError", msg: fmt.Sprintf("the UDF returned %d values for %s, expected %d (one per row)", len(vector), name, fr.rows)}
		}
		typed, err := pyValuesToCore(vector, outputType(odfv, name))
		if err != nil {
			return err
		}
		cols = append(cols, core.Column{Name: name, Typed: typed})
		return nil
	}
	for _, k := range dictKeys(in) {
		if !requested.has(k) {
			continue
		}
		v, found, _ := out.Get(starlark.String(k))
		if !found {
			v, _, _ = in.Get(starlark.String(k))
		}
		if err := emit(k, v); err != nil {
			return nil, err
		}
	}
	for _, k := range dictKeys(out) {
		if !requested.has(k) {
			continue
		}
		if _, found, _ := in.Get(starlark.String(k)); found {
			continue
		}
		v, _, _ := out.Get(starlark.String(k))
		if err := emit(k, v); err != nil {
			return nil, err
		}
	}
	return cols, nil
}

// dictKeys lists a dict's string keys in insertion order.
func dictKeys(d *starlark.Dict) []string {
	keys := make([]string, 0, d.Len())
	it := d.Iterate()
	defer it.Done()
	var k starlark.Value
	for it.Next(&k) {
		if s, ok := k.(starlark.String); ok {
			keys = append(keys, string(s))
		}
	}
	return keys
}

// toStarlark converts an input value; values Starlark would treat
// differently from Python become opaque.
func toStarlark(v pv) (starlark.Value, error) {
	switch v.k {
	case kNone:
		return starlark.None, nil
	case kBool:
		return starlark.Bool(v.i != 0), nil
	case kInt:
		if v.big != nil {
			return starlark.MakeBigInt(v.big), nil
		}
		return starlark.MakeInt64(v.i), nil
	case kFloat, kFloat32:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return &opaque{v: v, truth: true}, nil
		}
		return starlark.Float(v.f), nil
	case kStr:
		if !plainString(v.s) {
			return &opaque{v: v, truth: v.s != ""}, nil
		}
		return starlark.String(v.s), nil
	case kList:
		elems := make([]starlark.Value, len(v.list))
		for i, e := range v.list {
			x, err := toStarlark(e)
			if err != nil {
				return nil, err
			}
			elems[i] = x
		}
		return starlark.NewList(elems), nil
	case kOpaque:
		switch v.s {
		case "bytes", "datetime", "list":
			// Truth of bytes and lists depends on their length, which the
			// decoder does not keep; datetimes are always true.
			if v.s != "datetime" {
				return nil, unsupportedf("a %s input", v.s)
			}
			return &opaque{v: v, truth: true}, nil
		}
		return nil, unsupportedf("a %s input", v.s)
	}
	return nil, unsupportedf("a %s input", v.typeName())
}

// fromStarlark converts a UDF result into a Python value.
func fromStarlark(x starlark.Value, depth int) (pv, error) {
	if depth > 32 {
		return pv{}, unsupportedf("output nested too deeply")
	}
	switch x := x.(type) {
	case starlark.NoneType:
		return pyNone, nil
	case starlark.Bool:
		return pyBool(bool(x)), nil
	case starlark.Int:
		if i, ok := x.Int64(); ok {
			return pyInt(i), nil
		}
		return pv{k: kInt, big: x.BigInt()}, nil
	case starlark.Float:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// Reached through float overflow; Starlark's comparisons on
			// the way may not have been Python's.
			return pv{}, unsupportedf("a non-finite float computed natively")
		}
		return pyFloat(f), nil
	case starlark.String:
		return pyStr(string(x)), nil
	case *starlark.List:
		out := make([]pv, x.Len())
		for i := range out {
			e, err := fromStarlark(x.Index(i), depth+1)
			if err != nil {
				return pv{}, err
			}
			out[i] = e
		}
		return pv{k: kList, list: out}, nil
	case *starlark.Dict:
		return pv{k: kDict, n: x.Len()}, nil
	case *opaque:
		return x.v, nil
	}
	return pv{}, unsupportedf("a %s output", x.Type())
}

// unreadInput stands for a column the UDF never reads (see runPython).
var unreadInput = &opaque{v: pyOpaque("unread input"), truth: true}

// opaque carries an input value the native path does not model. Any
// operation on it fails, which sends the request to Python.
type opaque struct {
	v     pv
	truth bool
}

var (
	_ starlark.Value      = (*opaque)(nil)
	_ starlark.Comparable = (*opaque)(nil)
)

func (o *opaque) String() string        { return "<" + o.v.typeName() + ">" }
func (o *opaque) Type() string          { return "opaque " + o.v.typeName() }
func (o *opaque) Freeze()               {}
func (o *opaque) Truth() starlark.Bool  { return starlark.Bool(o.truth) }
func (o *opaque) Hash() (uint32, error) { return 0, unsupportedf("hashing a %s", o.v.typeName()) }
func (o *opaque) CompareSameType(syntax.Token, starlark.Value, int) (bool, error) {
	return false, unsupportedf("comparing %s values", o.v.typeName())
}
