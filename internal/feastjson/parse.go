package feastjson

import (
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/ingest"
)

// parser is a small JSON reader for request bodies. It keeps object key
// order (Feast answers join-key columns in request order) and types values
// the way Python's json module does: integers stay integers, NaN and
// Infinity literals are accepted.
type parser struct {
	b   []byte
	pos int
	// stack holds the elements of the arrays being read (nested ones on
	// top), so each array is allocated once at its final length.
	stack []core.Value
	// arena, when set, is where finished arrays are copied to instead of
	// new allocations (see reqMem).
	arena *[]core.Value
	// inColumn is set while a column's values are read (entities, df,
	// request data): there an integer must fit in 64 bits, as the value
	// becomes an INT64. Anywhere else Python's json reads any integer and
	// pydantic only checks its type, so an over-large one is read as a
	// float: a number all the same, refused as one where a number is not
	// wanted and ignored with the field it belongs to.
	inColumn bool
}

// clone copies a finished array off the stack.
func (p *parser) clone(vs []core.Value) []core.Value {
	if p.arena == nil {
		return slices.Clone(vs)
	}
	a := *p.arena
	if cap(a)-len(a) < len(vs) {
		// Arrays already handed out keep the old backing array.
		a = make([]core.Value, 0, max(2*cap(a), len(vs), 64))
	}
	start := len(a)
	a = append(a, vs...)
	*p.arena = a
	return a[start:len(a):len(a)]
}

func (p *parser) fail(msg string) error { return &syntaxError{pos: p.pos, msg: msg} }

func (p *parser) ws() {
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	p.ws()
	if p.pos >= len(p.b) {
		return 0
	}
	return p.b[p.pos]
}

func (p *parser) expect(c byte) error {
	if p.peek() != c {
		switch c {
		case ':':
			return p.fail("Expecting ':' delimiter")
		case '"':
			return p.fail("Expecting property name enclosed in double quotes")
		}
		return p.fail("Expecting value")
	}
	p.pos++
	return nil
}

func (p *parser) str() (string, error) {
	if err := p.expect('"'); err != nil {
		return "", err
	}
	start := p.pos
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		if c == '"' {
			s := string(p.b[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.fail("Invalid control character at")
		}
		p.pos++
	}
	buf := append([]byte(nil), p.b[start:p.pos]...)
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", p.fail("Invalid control character at")
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.b) {
			break
		}
		e := p.b[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("Invalid \\uXXXX escape")
			}
			if utf16.IsSurrogate(r) && p.pos+1 < len(p.b) && p.b[p.pos] == '\\' && p.b[p.pos+1] == 'u' {
				save := p.pos
				p.pos += 2
				if r2, ok := p.hex4(); ok && utf16.DecodeRune(r, r2) != utf8.RuneError {
					r = utf16.DecodeRune(r, r2)
				} else {
					p.pos = save
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.pos -= 2
			return "", p.fail("Invalid \\escape")
		}
	}
	p.pos = start - 1
	return "", p.fail("Unterminated string starting at")
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(v), true
}

func (p *parser) lit(s string) bool {
	if len(p.b)-p.pos >= len(s) && string(p.b[p.pos:p.pos+len(s)]) == s {
		p.pos += len(s)
		return true
	}
	return false
}

// value reads any JSON value as a core.Value; depth bounds nesting.
func (p *parser) value(depth int) (core.Value, error) {
	if depth > 64 {
		return core.Value{}, p.fail("nesting too deep")
	}
	switch c := p.peek(); {
	case c == '"':
		s, err := p.str()
		return core.StringValue(s), err
	case c == 'n':
		if p.lit("null") {
			return core.Value{}, nil
		}
	case c == 't':
		if p.lit("true") {
			return core.BoolValue(true), nil
		}
	case c == 'f':
		if p.lit("false") {
			return core.BoolValue(false), nil
		}
	case c == 'N':
		if p.lit("NaN") {
			return core.DoubleValue(math.NaN()), nil
		}
	case c == 'I':
		if p.lit("Infinity") {
			return core.DoubleValue(math.Inf(1)), nil
		}
	case c == '-' || (c >= '0' && c <= '9'):
		if c == '-' && p.lit("-Infinity") {
			return core.DoubleValue(math.Inf(-1)), nil
		}
		return p.number()
	case c == '[':
		p.pos++
		if p.peek() == ']' {
			p.pos++
			return core.Value{Type: core.UntypedList}, nil
		}
		mark := len(p.stack)
		defer func() {
			clear(p.stack[mark:])
			p.stack = p.stack[:mark]
		}()
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return v, err
			}
			p.stack = append(p.stack, v)
			switch p.peek() {
			case ',':
				p.pos++
			case ']':
				p.pos++
				return listValue(p.clone(p.stack[mark:])), nil
			default:
				return core.Value{}, p.fail("Expecting ',' delimiter")
			}
		}
	case c == '{':
		return p.object(depth + 1)
	}
	return core.Value{}, p.fail("Expecting value")
}

// objectType is the type of a JSON object value (ingest.ObjectValue): List
// holds its keys and values alternately, in the order of the text. Such
// values can be written as MAP, STRUCT and JSON features; as entity keys
// they are rejected by coercion.
const objectType = ingest.ObjectValue

// object reads a JSON object into an objectType value. A repeated key keeps
// its first place and its last value, as in the Python dict Feast builds.
func (p *parser) object(depth int) (core.Value, error) {
	if depth > 64 {
		return core.Value{}, p.fail("nesting too deep")
	}
	p.pos++
	if p.peek() == '}' {
		p.pos++
		return core.Value{Type: objectType}, nil
	}
	mark := len(p.stack)
	defer func() {
		clear(p.stack[mark:])
		p.stack = p.stack[:mark]
	}()
	for {
		key, err := p.str()
		if err != nil {
			return core.Value{}, err
		}
		if err := p.expect(':'); err != nil {
			return core.Value{}, err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return core.Value{}, err
		}
		replaced := false
		for i := mark; i < len(p.stack); i += 2 {
			if p.stack[i].S == key {
				p.stack[i+1], replaced = v, true
				break
			}
		}
		if !replaced {
			p.stack = append(p.stack, core.StringValue(key), v)
		}
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return core.Value{Type: objectType, List: p.clone(p.stack[mark:])}, nil
		default:
			return core.Value{}, p.fail("Expecting ',' delimiter")
		}
	}
}

func listValue(elems []core.Value) core.Value {
	// Like Feast's type inference: the list type follows the first element.
	t := core.UntypedList
	for _, e := range elems {
		if !e.IsNull() && e.Type < core.BytesList {
			t = e.Type.ListOf()
			break
		}
	}
	return core.Value{Type: t, List: elems}
}

func (p *parser) number() (core.Value, error) {
	// Python's NUMBER_RE: -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.b) && p.b[p.pos] >= '0' && p.b[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.b[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.b) && p.b[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		p.pos = start
		return core.Value{}, p.fail("Expecting value")
	}
	isFloat := false
	if p.pos+1 < len(p.b) && p.b[p.pos] == '.' && p.b[p.pos+1] >= '0' && p.b[p.pos+1] <= '9' {
		p.pos++
		digits()
		isFloat = true
	}
	if p.pos < len(p.b) && (p.b[p.pos] == 'e' || p.b[p.pos] == 'E') {
		save := p.pos
		p.pos++
		if p.pos < len(p.b) && (p.b[p.pos] == '+' || p.b[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			p.pos = save
		} else {
			isFloat = true
		}
	}
	text := string(p.b[start:p.pos])
	if !isFloat {
		i, err := strconv.ParseInt(text, 10, 64)
		if err == nil {
			return core.Int64Value(i), nil
		}
		if p.inColumn {
			// The caller gives the error its location.
			return core.Value{}, &fieldError{typ: typIntOverflow, msg: "integer " + text + " does not fit in 64 bits"}
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !isRangeErr(err) {
		return core.Value{}, p.fail("Expecting value")
	}
	return core.DoubleValue(f), nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// valueStacks recycles parser stacks between requests.
var valueStacks = sync.Pool{New: func() any { return new([]core.Value) }}
