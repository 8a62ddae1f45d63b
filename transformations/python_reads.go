package transformations

import "go.starlark.net/syntax"

// inputReads returns the keys of its input dict that the UDF def name in f
// can read: every use of the function's first parameter, anywhere in its
// body (nested functions and lambdas included), must be inputs["key"] or
// inputs.get("key"[, default]) with a string literal key. Any other use —
// a computed key, iteration, len(), .items(), passing the dict on,
// rebinding or shadowing the name — means the set cannot be proved, and
// inputReads returns nil: every input counts as read. Writes such as
// inputs["key"] = v count as reads, which only makes the set larger.
//
// Only the UDF's own body can see its parameter: other top-level functions
// reach the dict only when the UDF passes it on, which is a use that
// gives up.
func inputReads(f *syntax.File, name string) map[string]bool {
	var def *syntax.DefStmt
	for _, st := range f.Stmts {
		switch st := st.(type) {
		case *syntax.DefStmt:
			if st.Name.Name == name {
				if def != nil {
					return nil // redefined: which one runs is not worth proving
				}
				def = st
			}
		case *syntax.AssignStmt:
			if id, ok := st.LHS.(*syntax.Ident); ok && id.Name == name {
				return nil
			}
		}
	}
	if def == nil || len(def.Params) == 0 {
		return nil
	}
	var param string
	switch p := def.Params[0].(type) {
	case *syntax.Ident:
		param = p.Name
	case *syntax.BinaryExpr: // a default: inputs=None
		if id, ok := p.X.(*syntax.Ident); ok && p.Op == syntax.EQ {
			param = id.Name
		}
	}
	if param == "" {
		return nil // *args or **kwargs
	}
	isParam := func(e syntax.Expr) bool {
		id, ok := e.(*syntax.Ident)
		return ok && id.Name == param
	}
	reads := map[string]bool{}
	proved := true
	var visit func(n syntax.Node) bool
	visit = func(n syntax.Node) bool {
		if !proved || n == nil {
			return false
		}
		switch n := n.(type) {
		case *syntax.IndexExpr:
			if isParam(n.X) {
				key, ok := stringLiteral(n.Y)
				if !ok {
					proved = false
					return false
				}
				reads[key] = true
				return false
			}
		case *syntax.CallExpr:
			if d, ok := n.Fn.(*syntax.DotExpr); ok && isParam(d.X) && d.Name.Name == "get" && len(n.Args) >= 1 && len(n.Args) <= 2 {
				key, ok := stringLiteral(n.Args[0])
				if !ok {
					proved = false
					return false
				}
				reads[key] = true
				for _, a := range n.Args[1:] {
					syntax.Walk(a, visit)
				}
				return false
			}
		case *syntax.Ident:
			if n.Name == param {
				proved = false
				return false
			}
		}
		return true
	}
	for _, st := range def.Body {
		syntax.Walk(st, visit)
	}
	if !proved {
		return nil
	}
	return reads
}

func stringLiteral(e syntax.Expr) (string, bool) {
	lit, ok := e.(*syntax.Literal)
	if !ok || lit.Token != syntax.STRING {
		return "", false
	}
	s, ok := lit.Value.(string)
	return s, ok
}
