package transformations

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/feastgo/feastgo/registry"
)

// A pandas-mode UDF runs natively when it has this shape:
//
//	def f(inputs: pd.DataFrame) -> pd.DataFrame:
//	    df = pd.DataFrame()
//	    x = <expr>
//	    df["name"] = <expr>
//	    return df
//
// with expressions made of inputs["col"], local names, numeric, string and
// boolean literals, + - * / ** (exponent 2 or a non-negative int), unary
// -, comparisons, & | ~, np.where, np.abs, np.sqrt, np.nan, and the Series
// methods astype, fillna and abs. This file parses that subset; the
// checks that depend on column types happen at evaluation time.

type pExpr interface{ pos() int }

type (
	pName struct {
		name string
		line int
	}
	pNum struct {
		v    pv
		line int
	}
	pStr struct {
		s    string
		line int
	}
	pConst struct {
		v    pv
		line int
	} // True, False, None
	pUnary struct {
		op   string
		x    pExpr
		line int
	}
	pBinary struct {
		op   string
		x, y pExpr
		line int
	}
	pCall struct {
		fn     pExpr
		args   []pExpr
		kwargs []pKwarg
		line   int
	}
	pKwarg struct {
		name string
		x    pExpr
	}
	pIndex struct {
		x, idx pExpr
		line   int
	}
	pAttr struct {
		x    pExpr
		name string
		line int
	}
)

func (e *pName) pos() int   { return e.line }
func (e *pNum) pos() int    { return e.line }
func (e *pStr) pos() int    { return e.line }
func (e *pConst) pos() int  { return e.line }
func (e *pUnary) pos() int  { return e.line }
func (e *pBinary) pos() int { return e.line }
func (e *pCall) pos() int   { return e.line }
func (e *pIndex) pos() int  { return e.line }
func (e *pAttr) pos() int   { return e.line }

// pStmt is one statement of the UDF body.
type pStmt struct {
	kind   int // stmtAssign, stmtSetColumn, stmtReturn
	target string
	column string // stmtSetColumn: df[column] = value
	value  pExpr
	line   int
}

const (
	stmtAssign = iota
	stmtSetColumn
	stmtReturn
)

// pandasProgram is a parsed pandas-mode UDF.
type pandasProgram struct {
	param string
	body  []pStmt
}

type pparser struct {
	toks []token
	i    int
}

func (p *pparser) peek() token { return p.toks[p.i] }
func (p *pparser) next() token { t := p.toks[p.i]; p.i++; return t }
func (p *pparser) accept(kind tokKind, text string) bool {
	if p.peek().is(kind, text) {
		p.i++
		return true
	}
	return false
}
func (p *pparser) expect(kind tokKind, text string) error {
	if !p.accept(kind, text) {
		t := p.peek()
		return fmt.Errorf("line %d: expected %q, found %q", t.line, text, t.text)
	}
	return nil
}

// compilePandas parses the UDF or returns why it must be delegated.
func compilePandas(odfv *registry.ODFV) (*pandasProgram, string) {
	if strings.TrimSpace(odfv.BodyText) == "" {
		return nil, "the registry has no body_text for the UDF"
	}
	toks, err := tokenize(stripLeadingDecorators(odfv.BodyText))
	if err != nil {
		return nil, "python source: " + err.Error()
	}
	p := &pparser{toks: toks}
	prog, err := p.file(odfv.UDFName)
	if err != nil {
		return nil, "outside the native pandas subset: " + err.Error()
	}
	if reason := checkPandas(prog); reason != "" {
		return nil, reason
	}
	return prog, ""
}

func (p *pparser) file(udfName string) (*pandasProgram, error) {
	if err := p.expect(tkName, "def"); err != nil {
		return nil, fmt.Errorf("the source must be a single function definition")
	}
	name := p.next()
	if name.kind != tkName {
		return nil, fmt.Errorf("line %d: expected a function name", name.line)
	}
	if udfName != "" && name.text != udfName {
		return nil, fmt.Errorf("the function is %s, the registry names %s", name.text, udfName)
	}
	if err := p.expect(tkOp, "("); err != nil {
		return nil, err
	}
	param := p.next()
	if param.kind != tkName {
		return nil, fmt.Errorf("line %d: expected one parameter", param.line)
	}
	if p.accept(tkOp, ":") {
		if _, err := p.expr(); err != nil {
			return nil, err
		}
	}
	p.accept(tkOp, ",")
	if err := p.expect(tkOp, ")"); err != nil {
		return nil, fmt.Errorf("the function must take exactly one parameter")
	}
	if p.accept(tkOp, "->") {
		if _, err := p.expr(); err != nil {
			return nil, err
		}
	}
	if err := p.expect(tkOp, ":"); err != nil {
		return nil, err
	}
	if err := p.expect(tkNewline, ""); err != nil {
		return nil, fmt.Errorf("line %d: the body must start on its own line", name.line)
	}
	if err := p.expect(tkIndent, ""); err != nil {
		return nil, err
	}
	prog := &pandasProgram{param: param.text}
	for !p.accept(tkDedent, "") {
		st, skip, err := p.stmt()
		if err != nil {
			return nil, err
		}
		if !skip {
			prog.body = append(prog.body, st)
		}
	}
	if p.peek().kind != tkEOF {
		return nil, fmt.Errorf("line %d: statements after the function", p.peek().line)
	}
	return prog, nil
}

func (p *pparser) stmt() (pStmt, bool, error) {
	t := p.peek()
	switch {
	case t.kind == tkString:
		// A docstring or a string expression: no effect.
		if _, err := p.expr(); err != nil {
			return pStmt{}, false, err
		}
		return pStmt{}, true, p.expect(tkNewline, "")
	case t.is(tkName, "pass"):
		p.next()
		return pStmt{}, true, p.expect(tkNewline, "")
	case t.is(tkName, "return"):
		p.next()
		v, err := p.expr()
		if err != nil {
			return pStmt{}, false, err
		}
		return pStmt{kind: stmtReturn, value: v, line: t.line}, false, p.expect(tkNewline, "")
	case t.kind == tkName && !pyKeywords[t.text]:
		p.next()
		st := pStmt{kind: stmtAssign, target: t.text, line: t.line}
		if p.accept(tkOp, "[") {
			col := p.next()
			if col.kind != tkString {
				return pStmt{}, false, fmt.Errorf("line %d: only df[\"name\"] = … assignments are supported", t.line)
			}
			s, err := parseStringLiteral(col.text)
			if err != nil {
				return pStmt{}, false, fmt.Errorf("line %d: %v", t.line, err)
			}
			if err := p.expect(tkOp, "]"); err != nil {
				return pStmt{}, false, err
			}
			st.kind, st.column = stmtSetColumn, s
		} else if p.accept(tkOp, ":") { // annotated assignment
			if _, err := p.expr(); err != nil {
				return pStmt{}, false, err
			}
		}
		if err := p.expect(tkOp, "="); err != nil {
			return pStmt{}, false, fmt.Errorf("line %d: only assignments, docstrings and return are supported", t.line)
		}
		v, err := p.expr()
		if err != nil {
			return pStmt{}, false, err
		}
		st.value = v
		return st, false, p.expect(tkNewline, "")
	}
	return pStmt{}, false, fmt.Errorf("line %d: statement %q is not supported", t.line, t.text)
}

func (p *pparser) expr() (pExpr, error) {
	t := p.peek()
	if t.is(tkName, "not") || t.is(tkName, "lambda") {
		return nil, fmt.Errorf("line %d: %q is not supported", t.line, t.text)
	}
	x, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if n := p.peek(); n.is(tkName, "if") || n.is(tkName, "and") || n.is(tkName, "or") {
		return nil, fmt.Errorf("line %d: %q is not supported", n.line, n.text)
	}
	return x, nil
}

// Binary operator precedence, loosest first (Python's grammar from
// comparisons down to the multiplicative operators).
var binaryLevels = [][]string{
	{"<", ">", "==", ">=", "<=", "!="},
	{"|"},
	{"^"},
	{"&"},
	{"<<", ">>"},
	{"+", "-"},
	{"*", "/", "//", "%", "@"},
}

func (p *pparser) binary(level int) (pExpr, error) {
	if level == len(binaryLevels) {
		return p.unary()
	}
	x, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op := ""
		if t.kind == tkOp {
			for _, o := range binaryLevels[level] {
				if t.text == o {
					op = o
				}
			}
		} else if level == 0 && t.kind == tkName && (t.text == "in" || t.text == "is" || t.text == "not") {
			return nil, fmt.Errorf("line %d: %q comparisons are not supported", t.line, t.text)
		}
		if op == "" {
			return x, nil
		}
		p.next()
		y, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		if level == 0 && isComparison(p.peek()) {
			return nil, fmt.Errorf("line %d: chained comparisons are not supported", t.line)
		}
		x = &pBinary{op: op, x: x, y: y, line: t.line}
	}
}

func isComparison(t token) bool {
	if t.kind != tkOp {
		return false
	}
	for _, o := range binaryLevels[0] {
		if t.text == o {
			return true
		}
	}
	return false
}

func (p *pparser) unary() (pExpr, error) {
	t := p.peek()
	if t.kind == tkOp && (t.text == "-" || t.text == "+" || t.text == "~") {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &pUnary{op: t.text, x: x, line: t.line}, nil
	}
	return p.power()
}

func (p *pparser) power() (pExpr, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.is(tkOp, "**") {
		p.next()
		y, err := p.unary() // right-associative, binds tighter than unary on its left
		if err != nil {
			return nil, err
		}
		return &pBinary{op: "**", x: x, y: y, line: t.line}, nil
	}
	return x, nil
}

func (p *pparser) primary() (pExpr, error) {
	x, err := p.atom()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.is(tkOp, "("):
			p.next()
			c := &pCall{fn: x, line: t.line}
			for !p.accept(tkOp, ")") {
				if n := p.peek(); n.kind == tkName && p.toks[p.i+1].is(tkOp, "=") {
					p.i += 2
					v, err := p.expr()
					if err != nil {
						return nil, err
					}
					c.kwargs = append(c.kwargs, pKwarg{name: n.text, x: v})
				} else {
					if len(c.kwargs) > 0 {
						return nil, fmt.Errorf("line %d: positional argument after keyword argument", t.line)
					}
					if n.is(tkOp, "*") || n.is(tkOp, "**") {
						return nil, fmt.Errorf("line %d: argument unpacking is not supported", t.line)
					}
					v, err := p.expr()
					if err != nil {
						return nil, err
					}
					c.args = append(c.args, v)
				}
				if !p.accept(tkOp, ",") {
					if err := p.expect(tkOp, ")"); err != nil {
						return nil, err
					}
					break
				}
			}
			x = c
		case t.is(tkOp, "["):
			p.next()
			idx, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expect(tkOp, "]"); err != nil {
				return nil, fmt.Errorf("line %d: only single-key indexing is supported", t.line)
			}
			x = &pIndex{x: x, idx: idx, line: t.line}
		case t.is(tkOp, "."):
			p.next()
			n := p.next()
			if n.kind != tkName {
				return nil, fmt.Errorf("line %d: expected an attribute name", t.line)
			}
			x = &pAttr{x: x, name: n.text, line: t.line}
		default:
			return x, nil
		}
	}
}

func (p *pparser) atom() (pExpr, error) {
	t := p.next()
	switch t.kind {
	case tkName:
		switch t.text {
		case "True":
			return &pConst{v: pyBool(true), line: t.line}, nil
		case "False":
			return &pConst{v: pyBool(false), line: t.line}, nil
		case "None":
			return &pConst{v: pyNone, line: t.line}, nil
		}
		if pyKeywords[t.text] {
			return nil, fmt.Errorf("line %d: %q is not supported", t.line, t.text)
		}
		return &pName{name: t.text, line: t.line}, nil
	case tkNumber:
		v, err := parseNumberLiteral(t.text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", t.line, err)
		}
		return &pNum{v: v, line: t.line}, nil
	case tkString:
		s, err := parseStringLiteral(t.text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", t.line, err)
		}
		for p.peek().kind == tkString { // implicit concatenation
			more, err := parseStringLiteral(p.next().text)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", t.line, err)
			}
			s += more
		}
		return &pStr{s: s, line: t.line}, nil
	case tkOp:
		if t.text == "(" {
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expect(tkOp, ")"); err != nil {
				return nil, fmt.Errorf("line %d: tuples are not supported", t.line)
			}
			return x, nil
		}
	}
	return nil, fmt.Errorf("line %d: unexpected %q", t.line, t.text)
}

// parseNumberLiteral reads a Python int or float literal.
func parseNumberLiteral(s string) (pv, error) {
	if strings.ContainsAny(s, "jJ") {
		return pv{}, fmt.Errorf("complex literals are not supported")
	}
	clean := s
	if strings.Contains(s, "_") {
		clean = strings.ReplaceAll(s, "_", "")
	}
	if len(clean) > 1 && clean[0] == '0' && (clean[1] == 'x' || clean[1] == 'X' || clean[1] == 'o' || clean[1] == 'O' || clean[1] == 'b' || clean[1] == 'B') {
		n, err := strconv.ParseInt(clean, 0, 64)
		if err != nil {
			return pv{}, fmt.Errorf("integer literal %s is out of range", s)
		}
		return pyInt(n), nil
	}
	if strings.ContainsAny(clean, ".eE") {
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil || math.IsInf(f, 0) {
			return pv{}, fmt.Errorf("float literal %s is not supported", s)
		}
		return pyFloat(f), nil
	}
	if len(clean) > 1 && clean[0] == '0' && strings.Trim(clean, "0") != "" {
		return pv{}, fmt.Errorf("invalid integer literal %s", s)
	}
	n, err := strconv.ParseInt(clean, 10, 64)
	if err != nil {
		return pv{}, fmt.Errorf("integer literal %s is out of range", s)
	}
	return pyInt(n), nil
}

// parseStringLiteral reads a plain or raw Python string literal with the
// common escapes; byte strings and f-strings are not supported.
func parseStringLiteral(lit string) (string, error) {
	raw := false
	for len(lit) > 0 && lit[0] != '\'' && lit[0] != '"' {
		switch lit[0] {
		case 'r', 'R':
			raw = true
		case 'u', 'U':
		default:
			return "", fmt.Errorf("string prefix %q is not supported", lit[0])
		}
		lit = lit[1:]
	}
	q := lit[:1]
	if strings.HasPrefix(lit, q+q+q) && len(lit) >= 6 {
		q = q + q + q
	}
	body := lit[len(q) : len(lit)-len(q)]
	if raw || !strings.Contains(body, `\`) {
		if !plainString(body) {
			return "", fmt.Errorf("non-ASCII string literals are not supported")
		}
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 >= len(body) {
			b.WriteByte(c)
			continue
		}
		i++
		switch body[i] {
		case '\\', '\'', '"':
			b.WriteByte(body[i])
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\n':
		default:
			return "", fmt.Errorf("string escape \\%c is not supported", body[i])
		}
	}
	if !plainString(b.String()) {
		return "", fmt.Errorf("non-ASCII string literals are not supported")
	}
	return b.String(), nil
}

// Names a pandas UDF may call or read besides its parameter and locals.
var (
	pandasModules  = map[string]string{"pd": "pd", "pandas": "pd", "np": "np", "numpy": "np"}
	pandasFuncs    = map[string]bool{"pd.DataFrame": true, "np.where": true, "np.abs": true, "np.sqrt": true}
	pandasConsts   = map[string]bool{"np.nan": true, "np.float64": true, "np.int64": true}
	seriesMethods  = map[string]bool{"astype": true, "fillna": true, "abs": true}
	pandasBuiltins = map[string]bool{"float": true, "int": true}
)

// checkPandas rejects programs that use anything outside the subset,
// before any data is seen.
func checkPandas(prog *pandasProgram) string {
	if len(prog.body) == 0 || prog.body[len(prog.body)-1].kind != stmtReturn {
		return "the UDF does not end with a return"
	}
	locals := map[string]bool{}
	var check func(e pExpr) string
	check = func(e pExpr) string {
		switch e := e.(type) {
		case *pName:
			if e.name == prog.param || locals[e.name] || pandasBuiltins[e.name] {
				return ""
			}
			if _, ok := pandasModules[e.name]; ok {
				return fmt.Sprintf("line %d: module %s used as a value", e.line, e.name)
			}
			return fmt.Sprintf("line %d: name %s is not defined in the UDF", e.line, e.name)
		case *pNum, *pStr, *pConst:
			return ""
		case *pUnary:
			return check(e.x)
		case *pBinary:
			switch e.op {
			case "//", "%", "@", "<<", ">>", "^":
				return fmt.Sprintf("line %d: operator %s is not supported natively", e.line, e.op)
			}
			if r := check(e.x); r != "" {
				return r
			}
			return check(e.y)
		case *pIndex:
			if r := check(e.x); r != "" {
				return r
			}
			if _, ok := e.idx.(*pStr); !ok {
				return fmt.Sprintf("line %d: only indexing by a column name is supported", e.line)
			}
			return ""
		case *pAttr:
			if full, ok := moduleAttr(e, locals, prog.param); ok {
				if !pandasConsts[full] {
					return fmt.Sprintf("line %d: %s is not supported natively", e.line, full)
				}
				return ""
			}
			return fmt.Sprintf("line %d: attribute .%s is not supported natively", e.line, e.name)
		case *pCall:
			for _, a := range e.args {
				if r := check(a); r != "" {
					return r
				}
			}
			for _, k := range e.kwargs {
				if r := check(k.x); r != "" {
					return r
				}
			}
			if a, ok := e.fn.(*pAttr); ok {
				if full, ok := moduleAttr(a, locals, prog.param); ok {
					if !pandasFuncs[full] {
						return fmt.Sprintf("line %d: %s is not supported natively", e.line, full)
					}
					return ""
				}
				if !seriesMethods[a.name] {
					return fmt.Sprintf("line %d: method .%s is not supported natively", e.line, a.name)
				}
				return check(a.x)
			}
			return fmt.Sprintf("line %d: only pandas/numpy functions and Series methods may be called", e.line)
		}
		return "unsupported expression"
	}
	for _, st := range prog.body {
		if r := check(st.value); r != "" {
			return r
		}
		switch st.kind {
		case stmtAssign:
			if st.target == prog.param {
				return fmt.Sprintf("line %d: reassigning the input frame is not supported", st.line)
			}
			if _, ok := pandasModules[st.target]; ok {
				return fmt.Sprintf("line %d: rebinding %s is not supported", st.line, st.target)
			}
			locals[st.target] = true
		case stmtSetColumn:
			if !locals[st.target] {
				return fmt.Sprintf("line %d: only columns of a pd.DataFrame() created in the UDF may be assigned", st.line)
			}
		}
	}
	return ""
}

// moduleAttr reports "pd.X" / "np.X" for an attribute of a module name
// that is not shadowed by a local.
func moduleAttr(a *pAttr, locals map[string]bool, param string) (string, bool) {
	n, ok := a.x.(*pName)
	if !ok || locals[n.name] || n.name == param {
		return "", false
	}
	m, ok := pandasModules[n.name]
	if !ok {
		return "", false
	}
	return m + "." + a.name, true
}
