package server

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/online"
)

// jsonParser is a small JSON reader for request bodies. It keeps object key
// order (Feast answers join-key columns in request order) and types values
// the way Python's json module does: integers stay integers, NaN and
// Infinity literals are accepted.
type jsonParser struct {
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
func (p *jsonParser) clone(vs []core.Value) []core.Value {
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

// syntaxError is a malformed body; it carries the byte offset.
type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("JSON decode error at byte %d: %s", e.pos, e.msg)
}

// fieldError is a well-formed body with a field of the wrong shape.
type fieldError struct {
	loc   []any
	typ   string
	msg   string
	input []byte // the offending JSON, echoed back as pydantic does
}

func (e *fieldError) Error() string { return fmt.Sprintf("%v: %s", e.loc, e.msg) }

// fieldPath names a field of the body by its location, as our 400 errors
// do: "entities.pipeline_id", "features[2]"; "request body" for the body
// itself.
func fieldPath(loc []any) string {
	var b []byte
	for i, l := range loc {
		if i == 0 && l == "body" {
			continue
		}
		switch l := l.(type) {
		case int:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(l), 10)
			b = append(b, ']')
		default:
			if len(b) > 0 {
				b = append(b, '.')
			}
			b = fmt.Append(b, l)
		}
	}
	if len(b) == 0 {
		return "request body"
	}
	return string(b)
}

func (p *jsonParser) fail(msg string) error { return &syntaxError{pos: p.pos, msg: msg} }

func (p *jsonParser) ws() {
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) peek() byte {
	p.ws()
	if p.pos >= len(p.b) {
		return 0
	}
	return p.b[p.pos]
}

func (p *jsonParser) expect(c byte) error {
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

func (p *jsonParser) str() (string, error) {
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

func (p *jsonParser) hex4() (rune, bool) {
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

func (p *jsonParser) lit(s string) bool {
	if len(p.b)-p.pos >= len(s) && string(p.b[p.pos:p.pos+len(s)]) == s {
		p.pos += len(s)
		return true
	}
	return false
}

// value reads any JSON value as a core.Value; depth bounds nesting.
func (p *jsonParser) value(depth int) (core.Value, error) {
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
func (p *jsonParser) object(depth int) (core.Value, error) {
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
			t = e.Type + 10
			break
		}
	}
	return core.Value{Type: t, List: elems}
}

func (p *jsonParser) number() (core.Value, error) {
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
			return core.Value{}, &fieldError{typ: "int_overflow", msg: "integer " + text + " does not fit in 64 bits"}
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

// valueStacks recycles jsonParser stacks between requests.
var valueStacks = sync.Pool{New: func() any { return new([]core.Value) }}

// reqMem holds a parsed /get-online-features request and the arrays of
// its values (6.4 KB for 100 entities, most of a large read's garbage),
// reused once the answer that may point into them is written.
type reqMem struct {
	req  online.Request
	vals []core.Value
}

var reqMems = sync.Pool{New: func() any { return new(reqMem) }}

// release recycles m: nothing may use its request afterwards.
func (m *reqMem) release() {
	if cap(m.vals) > 1<<16 {
		return
	}
	clear(m.vals) // only the array in use: any earlier one is garbage
	m.vals = m.vals[:0]
	m.req = online.Request{}
	reqMems.Put(m)
}

// parseOnlineRequest decodes a /get-online-features body into m.
func parseOnlineRequest(body []byte, m *reqMem) (*online.Request, error) {
	sp := valueStacks.Get().(*[]core.Value)
	p := &jsonParser{b: body, stack: (*sp)[:0], arena: &m.vals}
	defer func() {
		if cap(p.stack) <= 1<<16 {
			*sp = p.stack[:0] // every array emptied its part on return
			valueStacks.Put(sp)
		}
	}()
	req := &m.req
	sawEntities := false
	err := p.bodyObject(func(key string) error {
		vstart := p.pos
		raw := func() []byte { return body[vstart:p.pos] }
		switch key {
		case "features":
			if p.peek() == 'n' && p.lit("null") {
				req.Features = nil
				return nil
			}
			if l, ok := p.stringList(); ok {
				req.Features = l
				return nil
			}
			v, err := p.value(0)
			if err != nil {
				return err
			}
			if !v.Type.IsList() && v.Type != core.UntypedList {
				return &fieldError{loc: []any{"body", "features"}, typ: "list_type", msg: "Input should be a valid list", input: raw()}
			}
			req.Features = make([]string, len(v.List))
			for i, e := range v.List {
				if e.Type != core.String {
					return &fieldError{loc: []any{"body", "features", i}, typ: "string_type", msg: "Input should be a valid string", input: appendTypedValueJSON(nil, e)}
				}
				req.Features[i] = e.S
			}
		case "feature_service":
			v, err := p.value(0)
			if err != nil {
				return err
			}
			if v.Type != core.String && !v.IsNull() {
				return &fieldError{loc: []any{"body", "feature_service"}, typ: "string_type", msg: "Input should be a valid string", input: raw()}
			}
			req.FeatureService = v.S
		case "full_feature_names", "include_feature_view_version_metadata":
			b, err := p.boolField(key)
			if err != nil {
				return err
			}
			if key == "full_feature_names" {
				req.FullFeatureNames = b
			} else {
				req.IncludeViewMetadata = b
			}
		case "entities":
			sawEntities = true
			cols, err := p.entities()
			if err != nil {
				return err
			}
			req.Entities = cols
		default:
			return p.skip()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !sawEntities {
		return nil, missingField("entities", body)
	}
	return req, nil
}

// stringList reads a JSON array of plain strings (no escapes, no control
// characters) with two allocations: one string holding the array's text,
// which the elements are substrings of, and the slice. For anything else
// it returns ok=false with the position unchanged, and the caller parses
// the value the general way (with its exact errors).
func (p *jsonParser) stringList() (_ []string, ok bool) {
	p.ws()
	save := p.pos
	if p.pos >= len(p.b) || p.b[p.pos] != '[' {
		return nil, false
	}
	start := p.pos
	p.pos++
	var buf [64][2]int
	spans := buf[:0]
	if p.peek() == ']' {
		p.pos++
		return []string{}, true
	}
	for {
		if p.peek() != '"' {
			p.pos = save
			return nil, false
		}
		p.pos++
		a := p.pos
		for p.pos < len(p.b) && p.b[p.pos] != '"' {
			if c := p.b[p.pos]; c == '\\' || c < 0x20 {
				p.pos = save
				return nil, false
			}
			p.pos++
		}
		if p.pos >= len(p.b) {
			p.pos = save
			return nil, false
		}
		spans = append(spans, [2]int{a - start, p.pos - start})
		p.pos++
		switch p.peek() {
		case ',':
			p.pos++
			continue
		case ']':
			p.pos++
		default:
			p.pos = save
			return nil, false
		}
		break
	}
	text := string(p.b[start:p.pos])
	out := make([]string, len(spans))
	for i, sp := range spans {
		out[i] = text[sp[0]:sp[1]]
	}
	return out, true
}

// entities reads the request's entity column map, keeping key order.
func (p *jsonParser) entities() ([]online.Column, error) {
	return p.columnObject("entities", func(name string, fe *fieldError, raw []byte) error {
		if fe != nil {
			fe.loc = []any{"body", "entities", name}
			return fe
		}
		return &fieldError{loc: []any{"body", "entities", name}, typ: "list_type", msg: "Input should be a valid list", input: raw}
	})
}

// columnObject reads an object of name → list of values, keeping key order
// (a repeated name keeps its last value, as a Python dict). field names the
// object in errors; badColumn builds the error for a column whose values
// failed to parse (fe set) or that is not a list (raw is its JSON).
func (p *jsonParser) columnObject(field string, badColumn func(name string, fe *fieldError, raw []byte) error) ([]online.Column, error) {
	if p.peek() != '{' {
		start := p.pos
		if _, err := p.value(0); err != nil {
			return nil, err
		}
		return nil, &fieldError{loc: []any{"body", field}, typ: "dict_type", msg: "Input should be a valid dictionary", input: p.b[start:p.pos]}
	}
	p.pos++
	var cols []online.Column
	if p.peek() == '}' {
		p.pos++
		return cols, nil
	}
	for {
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		if err := p.expect(':'); err != nil {
			return nil, err
		}
		p.peek()
		start := p.pos
		p.inColumn = true
		v, err := p.value(0)
		p.inColumn = false
		if err != nil {
			if fe, ok := err.(*fieldError); ok {
				return nil, badColumn(name, fe, nil)
			}
			return nil, err
		}
		if !v.Type.IsList() && v.Type != core.UntypedList {
			return nil, badColumn(name, nil, p.b[start:p.pos])
		}
		col := online.Column{Name: name, Values: v.List}
		replaced := false
		for i := range cols {
			if cols[i].Name == name {
				cols[i], replaced = col, true
			}
		}
		if !replaced {
			cols = append(cols, col)
		}
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return cols, nil
		default:
			return nil, p.fail("Expecting ',' delimiter")
		}
	}
}

// bodyObject parses a request body that must be one JSON object, with
// pydantic's errors for an empty body or another kind of value, and calls
// field for each key; field must consume the key's value (the parser is
// left just before it).
func (p *jsonParser) bodyObject(field func(key string) error) error {
	if len(p.b) == 0 {
		return &fieldError{loc: []any{"body"}, typ: "missing", msg: "Field required", input: []byte("null")}
	}
	if p.peek() != '{' {
		start := p.pos
		if _, err := p.value(0); err != nil {
			return err
		}
		if p.peek() != 0 {
			return p.fail("Extra data")
		}
		return &fieldError{loc: []any{"body"}, typ: "model_attributes_type", msg: "Input should be a valid dictionary or object to extract fields from", input: p.b[start:p.pos]}
	}
	p.pos++
	if p.peek() == '}' {
		p.pos++
	} else {
		for {
			key, err := p.str()
			if err != nil {
				return err
			}
			if err := p.expect(':'); err != nil {
				return err
			}
			p.peek()
			if err := field(key); err != nil {
				return err
			}
			if c := p.peek(); c == ',' {
				p.pos++
				continue
			} else if c == '}' {
				p.pos++
				break
			}
			return p.fail("Expecting ',' delimiter")
		}
	}
	if p.peek() != 0 {
		return p.fail("Extra data")
	}
	return nil
}

// skip reads past a value the request does not use (pydantic ignores
// unknown fields, but the body must still be valid JSON).
func (p *jsonParser) skip() error {
	_, err := p.value(0)
	return err
}

// missingField is pydantic's error for a required body field not sent.
func missingField(name string, body []byte) *fieldError {
	return &fieldError{loc: []any{"body", name}, typ: "missing", msg: "Field required", input: body}
}

// boolField reads the value of body field key as a lax boolean.
func (p *jsonParser) boolField(key string) (bool, error) {
	start := p.pos
	v, err := p.value(0)
	if err != nil {
		return false, err
	}
	return laxBoolField(key, v, p.b[start:p.pos])
}

// laxBoolField is laxBool for body field key, with pydantic's error for
// anything else; raw is the value as sent.
func laxBoolField(key string, v core.Value, raw []byte) (bool, error) {
	b, ok := laxBool(v)
	if ok {
		return b, nil
	}
	fe := &fieldError{loc: []any{"body", key}, typ: "bool_type", msg: "Input should be a valid boolean", input: raw}
	if v.Type == core.String || v.Type == core.Int64 || v.Type == core.Double {
		fe.typ, fe.msg = "bool_parsing", "Input should be a valid boolean, unable to interpret input"
	}
	return false, fe
}

// laxBool accepts what pydantic's lax bool mode accepts.
func laxBool(v core.Value) (bool, bool) {
	switch v.Type {
	case core.Bool:
		return v.I != 0, true
	case core.Int64:
		if v.I == 0 || v.I == 1 {
			return v.I == 1, true
		}
	case core.Double:
		if v.F == 0 || v.F == 1 {
			return v.F == 1, true
		}
	case core.String:
		switch v.S {
		case "true", "True", "TRUE", "1", "yes", "on", "y", "t":
			return true, true
		case "false", "False", "FALSE", "0", "no", "off", "n", "f":
			return false, true
		}
	}
	return false, false
}
