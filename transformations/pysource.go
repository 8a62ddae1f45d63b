package transformations

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds a small Python 3 tokenizer and the source-to-source steps
// that turn an ODFV's body_text into something the native evaluators parse:
// Feast's own decorator stripping, and (for Starlark) removal of type
// annotations and translation of "is None"-style comparisons.

type tokKind uint8

const (
	tkName tokKind = iota
	tkNumber
	tkString
	tkOp
	tkNewline // end of a logical line
	tkIndent
	tkDedent
	tkEOF
)

type token struct {
	kind       tokKind
	text       string // the exact source text
	start, end int    // byte offsets in the source
	line       int
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

var pyKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true, "async": true,
	"await": true, "break": true, "class": true, "continue": true, "def": true, "del": true, "elif": true,
	"else": true, "except": true, "finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true, "not": true, "or": true,
	"pass": true, "raise": true, "return": true, "try": true, "while": true, "with": true, "yield": true,
}

// Longest operators first.
var pyOps = []string{
	"**=", "//=", ">>=", "<<=", "...", "->", ":=", "**", "//", "<<", ">>", "<=", ">=", "==", "!=",
	"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=",
	"+", "-", "*", "/", "%", "@", "&", "|", "^", "~", "<", ">", "(", ")", "[", "]", "{", "}",
	",", ":", ".", ";", "=",
}

// tokenize splits Python source into tokens. Comments and blank lines are
// dropped; NEWLINE, INDENT and DEDENT follow Python's rules (no NEWLINE
// inside brackets, backslash continuation joins lines).
func tokenize(src string) ([]token, error) {
	lx := &lexer{src: src, line: 1, indents: []int{0}, atLineStart: true}
	for lx.i < len(src) {
		if lx.atLineStart && lx.depth == 0 {
			skipped, err := lx.indentation()
			if err != nil {
				return nil, err
			}
			if skipped {
				continue
			}
		}
		if err := lx.next(); err != nil {
			return nil, err
		}
	}
	return lx.finish()
}

// lexer is tokenize's state: the position, the bracket depth and the
// indentation stack.
type lexer struct {
	src         string
	i, line     int
	depth       int
	indents     []int
	atLineStart bool
	toks        []token
}

func (lx *lexer) emit(kind tokKind, text string, start, end int) {
	lx.toks = append(lx.toks, token{kind: kind, text: text, start: start, end: end, line: lx.line})
}

// indentation measures a logical line's indentation and emits INDENT or
// DEDENTs; a blank or comment-only line (or the end of the source) is
// skipped whole and reported as skipped.
func (lx *lexer) indentation() (skipped bool, err error) {
	src := lx.src
	col, j := 0, lx.i
	for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\f') {
		switch src[j] {
		case ' ':
			col++
		case '\t':
			col = (col/8 + 1) * 8
		case '\f':
			col = 0
		}
		j++
	}
	if j >= len(src) {
		lx.i = j
		return true, nil
	}
	if src[j] == '#' || src[j] == '\n' || src[j] == '\r' || (src[j] == '\\' && j+1 < len(src) && src[j+1] == '\n') {
		for j < len(src) && src[j] != '\n' {
			j++
		}
		if j < len(src) {
			j++
			lx.line++
		}
		lx.i = j
		return true, nil
	}
	switch top := lx.indents[len(lx.indents)-1]; {
	case col > top:
		lx.indents = append(lx.indents, col)
		lx.emit(tkIndent, "", j, j)
	case col < top:
		for col < lx.indents[len(lx.indents)-1] {
			lx.indents = lx.indents[:len(lx.indents)-1]
			lx.emit(tkDedent, "", j, j)
		}
		if col != lx.indents[len(lx.indents)-1] {
			return false, fmt.Errorf("line %d: unindent does not match any outer indentation level", lx.line)
		}
	}
	lx.i = j
	lx.atLineStart = false
	return false, nil
}

// next consumes one token, or the white space, comment or line
// continuation before one.
func (lx *lexer) next() error {
	src, i := lx.src, lx.i
	c := src[i]
	switch {
	case c == ' ' || c == '\t' || c == '\f' || c == '\r':
		lx.i++
	case c == '#':
		for i < len(src) && src[i] != '\n' {
			i++
		}
		lx.i = i
	case c == '\\':
		switch {
		case i+1 < len(src) && src[i+1] == '\n':
			lx.i += 2
		case i+2 < len(src) && src[i+1] == '\r' && src[i+2] == '\n':
			lx.i += 3
		default:
			return fmt.Errorf("line %d: unexpected character after line continuation", lx.line)
		}
		lx.line++
	case c == '\n':
		if lx.depth == 0 && len(lx.toks) > 0 && lx.toks[len(lx.toks)-1].kind != tkNewline {
			lx.emit(tkNewline, "", i, i+1)
		}
		lx.i++
		lx.line++
		lx.atLineStart = lx.depth == 0
	case isStringStart(src, i):
		end, lines, err := scanString(src, i)
		if err != nil {
			return fmt.Errorf("line %d: %v", lx.line, err)
		}
		lx.emit(tkString, src[i:end], i, end)
		lx.line += lines
		lx.i = end
	case isIdentStart(src, i):
		j := i
		for j < len(src) {
			r, n := utf8.DecodeRuneInString(src[j:])
			if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				break
			}
			j += n
		}
		lx.emit(tkName, src[i:j], i, j)
		lx.i = j
	case c >= '0' && c <= '9' || (c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9'):
		j := scanNumber(src, i)
		lx.emit(tkNumber, src[i:j], i, j)
		lx.i = j
	default:
		return lx.operator()
	}
	return nil
}

// operator consumes the longest operator or delimiter at the position,
// tracking bracket depth.
func (lx *lexer) operator() error {
	i := lx.i
	op := ""
	for _, o := range pyOps {
		if strings.HasPrefix(lx.src[i:], o) {
			op = o
			break
		}
	}
	if op == "" {
		return fmt.Errorf("line %d: unexpected character %q", lx.line, lx.src[i])
	}
	switch op {
	case "(", "[", "{":
		lx.depth++
	case ")", "]", "}":
		if lx.depth == 0 {
			return fmt.Errorf("line %d: unmatched %q", lx.line, op)
		}
		lx.depth--
	}
	lx.emit(tkOp, op, i, i+len(op))
	lx.i += len(op)
	return nil
}

// finish closes the token list: a last NEWLINE, the open INDENTs' DEDENTs
// and EOF.
func (lx *lexer) finish() ([]token, error) {
	if lx.depth != 0 {
		return nil, fmt.Errorf("unexpected end of source inside brackets")
	}
	n := len(lx.src)
	if len(lx.toks) > 0 && lx.toks[len(lx.toks)-1].kind != tkNewline {
		lx.emit(tkNewline, "", n, n)
	}
	for len(lx.indents) > 1 {
		lx.indents = lx.indents[:len(lx.indents)-1]
		lx.emit(tkDedent, "", n, n)
	}
	lx.emit(tkEOF, "", n, n)
	return lx.toks, nil
}

func isIdentStart(src string, i int) bool {
	r, _ := utf8.DecodeRuneInString(src[i:])
	return r == '_' || unicode.IsLetter(r)
}

// isStringStart reports whether a string literal (with an optional prefix
// such as r, b, f, rb) starts at i.
func isStringStart(src string, i int) bool {
	j := i
	for j < len(src) && j-i < 2 && strings.IndexByte("rRbBuUfF", src[j]) >= 0 {
		j++
	}
	return j < len(src) && (src[j] == '\'' || src[j] == '"')
}

// scanString returns the end offset of the string literal at i and the
// number of newlines inside it.
func scanString(src string, i int) (end, lines int, err error) {
	for src[i] != '\'' && src[i] != '"' {
		i++
	}
	q := src[i : i+1]
	if strings.HasPrefix(src[i:], q+q+q) {
		q = q + q + q
	}
	i += len(q)
	for i < len(src) {
		switch {
		case src[i] == '\\' && i+1 < len(src):
			if src[i+1] == '\n' {
				lines++
			}
			i += 2
		case strings.HasPrefix(src[i:], q):
			return i + len(q), lines, nil
		case src[i] == '\n':
			if len(q) == 1 {
				return 0, 0, fmt.Errorf("unterminated string literal")
			}
			lines++
			i++
		default:
			i++
		}
	}
	return 0, 0, fmt.Errorf("unterminated string literal")
}

func scanNumber(src string, i int) int {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' || c == '_' }
	if src[i] == '0' && i+1 < len(src) && strings.IndexByte("xXoObB", src[i+1]) >= 0 {
		i += 2
		for i < len(src) && (isDigit(src[i]) || strings.IndexByte("abcdefABCDEF", src[i]) >= 0) {
			i++
		}
		return i
	}
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	if i < len(src) && src[i] == '.' {
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j < len(src) && src[j] >= '0' && src[j] <= '9' {
			i = j
			for i < len(src) && isDigit(src[i]) {
				i++
			}
		}
	}
	if i < len(src) && (src[i] == 'j' || src[i] == 'J') {
		i++
	}
	return i
}

// stripLeadingDecorators is Feast's udf_rehydrate._strip_leading_decorators:
// the source Python actually executes. It returns the text starting at the
// first "def" when leading "@decorator" lines (with balanced parentheses
// and strings) precede it, the left-trimmed text when there is no
// decorator, and the original text when nothing but decorators remains.
func stripLeadingDecorators(udf string) string {
	text := strings.TrimLeft(udf, " \t\n\r\x0b\x0c")
	if !strings.HasPrefix(text, "@") {
		return text
	}
	i, n := 0, len(text)
	for i < n {
		for i < n && strings.IndexByte(" \t\r\n", text[i]) >= 0 {
			i++
		}
		if i >= n {
			break
		}
		if text[i] == '#' {
			for i < n && text[i] != '\n' {
				i++
			}
			continue
		}
		rest := text[i:]
		if strings.HasPrefix(rest, "async def ") || strings.HasPrefix(rest, "def ") {
			break
		}
		if text[i] != '@' {
			break
		}
		i++
		for i < n && (isAlnumByte(text[i]) || text[i] == '.' || text[i] == '_') {
			i++
		}
		for i < n && (text[i] == ' ' || text[i] == '\t') {
			i++
		}
		if i < n && text[i] == '(' {
			depth := 0
			inStr := ""
			for i < n {
				ch := text[i]
				if inStr != "" {
					if ch == '\\' && i+1 < n {
						i += 2
						continue
					}
					if strings.HasPrefix(text[i:], inStr) {
						i += len(inStr)
						inStr = ""
						continue
					}
					i++
					continue
				}
				if strings.HasPrefix(text[i:], `"""`) || strings.HasPrefix(text[i:], `'''`) {
					inStr = text[i : i+3]
					i += 3
					continue
				}
				if ch == '\'' || ch == '"' {
					inStr = string(ch)
					i++
					continue
				}
				if ch == '(' {
					depth++
				} else if ch == ')' {
					depth--
					i++
					if depth == 0 {
						break
					}
					continue
				}
				i++
			}
			for i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r') {
				i++
			}
			if i < n && text[i] == '\n' {
				i++
			}
		} else {
			for i < n && text[i] != '\n' {
				i++
			}
			if i < n && text[i] == '\n' {
				i++
			}
		}
	}
	stripped := text[min(i, n):]
	if strings.TrimSpace(stripped) == "" {
		return udf
	}
	return stripped
}

// isAlnumByte approximates str.isalnum for the ASCII bytes decorator names
// are made of; a non-ASCII decorator name ends the scan early, which can
// only make the stripped source fail to parse (and so be delegated).
func isAlnumByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

func applyEdits(src string, edits []edit) string {
	var b strings.Builder
	last := 0
	for _, e := range edits {
		b.WriteString(src[last:e.start])
		b.WriteString(e.text)
		last = e.end
	}
	b.WriteString(src[last:])
	return b.String()
}

// toStarlarkSource rewrites Python source into Starlark source with the
// same meaning: parameter and return annotations and annotated assignments
// ("x: int = 1") are removed, and "is None", "is not None", "is True",
// "is False" become == / != (exact for the values a UDF sees: no custom
// __eq__, and Starlark's == never equates a bool with an int). Anything it
// cannot translate safely is left alone, so Starlark's parser rejects it
// and the ODFV is delegated.
func toStarlarkSource(src string) (string, error) {
	toks, err := tokenize(src)
	if err != nil {
		return "", err
	}
	var edits []edit
	lineStart := true
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		startOfStmt := lineStart
		lineStart = t.kind == tkNewline || t.kind == tkIndent || t.kind == tkDedent || t.is(tkOp, ";")
		switch {
		case t.is(tkName, "def") && i+2 < len(toks) && toks[i+1].kind == tkName && toks[i+2].is(tkOp, "("):
			j, e := stripDefAnnotations(toks, i+2)
			if j < 0 {
				return "", fmt.Errorf("line %d: cannot read the parameters of %s", t.line, toks[i+1].text)
			}
			edits = append(edits, e...)
			i = j
		case startOfStmt && t.kind == tkName && !pyKeywords[t.text] && i+1 < len(toks) && toks[i+1].is(tkOp, ":"):
			// Annotated assignment: NAME ":" annotation ["=" value].
			j := i + 2
			depth := 0
			for ; j < len(toks); j++ {
				tj := toks[j]
				if tj.kind == tkOp {
					switch tj.text {
					case "(", "[", "{":
						depth++
					case ")", "]", "}":
						depth--
					}
				}
				if depth == 0 && (tj.is(tkOp, "=") || tj.kind == tkNewline || tj.is(tkOp, ";")) {
					break
				}
			}
			if j >= len(toks) {
				return "", fmt.Errorf("line %d: unterminated annotation", t.line)
			}
			if toks[j].is(tkOp, "=") {
				edits = append(edits, edit{toks[i+1].start, toks[j].start, " "})
			} else {
				// A bare annotation declares without assigning.
				edits = append(edits, edit{t.start, toks[j-1].end, "pass"})
			}
			i = j - 1
		case t.is(tkName, "is") && i+1 < len(toks):
			next := toks[i+1]
			if next.is(tkName, "not") && i+2 < len(toks) && isSingletonName(toks[i+2]) {
				edits = append(edits, edit{t.start, next.end, "!="})
				i++
			} else if isSingletonName(next) {
				edits = append(edits, edit{t.start, t.end, "=="})
			}
		}
	}
	return applyEdits(src, edits), nil
}

func isSingletonName(t token) bool {
	return t.kind == tkName && (t.text == "None" || t.text == "True" || t.text == "False")
}

// stripDefAnnotations removes the annotations of the parameter list that
// opens at toks[open] ("(") and the "-> type" that may follow it. It returns
// the index of the ":" ending the def header, or -1.
func stripDefAnnotations(toks []token, open int) (int, []edit) {
	var edits []edit
	depth := 0
	inDefault := false
	i := open
	for ; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tkEOF {
			return -1, nil
		}
		if t.kind != tkOp {
			continue
		}
		switch t.text {
		case "(", "[", "{":
			depth++
			continue
		case ")", "]", "}":
			depth--
			if depth == 0 {
				goto params
			}
			continue
		}
		if depth != 1 {
			continue
		}
		switch t.text {
		case ",":
			inDefault = false
		case "=":
			inDefault = true
		case ":":
			if inDefault {
				continue // a lambda inside a default value
			}
			// The annotation runs to the next "," or "=" at this depth, or ")".
			j, d := i+1, 0
			for ; j < len(toks); j++ {
				tj := toks[j]
				if tj.kind == tkEOF {
					return -1, nil
				}
				if tj.kind != tkOp {
					continue
				}
				if d == 0 && (tj.text == "," || tj.text == "=" || tj.text == ")") {
					break
				}
				switch tj.text {
				case "(", "[", "{":
					d++
				case ")", "]", "}":
					d--
				}
			}
			edits = append(edits, edit{t.start, toks[j].start, ""})
			i = j - 1
		}
	}
	return -1, nil
params:
	// toks[i] is the closing ")".
	j := i + 1
	if j < len(toks) && toks[j].is(tkOp, "->") {
		k, d := j+1, 0
		for ; k < len(toks); k++ {
			tk := toks[k]
			if tk.kind == tkEOF {
				return -1, nil
			}
			if tk.kind != tkOp {
				continue
			}
			if d == 0 && tk.text == ":" {
				break
			}
			switch tk.text {
			case "(", "[", "{":
				d++
			case ")", "]", "}":
				d--
			}
		}
		edits = append(edits, edit{toks[j].start, toks[k].start, ""})
		j = k
	}
	if j >= len(toks) || !toks[j].is(tkOp, ":") {
		return -1, nil
	}
	return j, edits
}
