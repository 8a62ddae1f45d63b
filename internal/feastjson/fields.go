package feastjson

import (
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/online"
)

// stringList reads a JSON array of plain strings (no escapes, no control
// characters) with two allocations: one string holding the array's text,
// which the elements are substrings of, and the slice. For anything else
// it returns ok=false with the position unchanged, and the caller parses
// the value the general way (with its exact errors).
func (p *parser) stringList() (_ []string, ok bool) {
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

// columnObject reads an object of name → list of values, keeping key order
// (a repeated name keeps its last value, as a Python dict). field names the
// object in errors; badColumn builds the error for a column whose values
// failed to parse (fe set) or that is not a list (raw is its JSON).
func (p *parser) columnObject(field string, badColumn func(name string, fe *fieldError, raw []byte) error) ([]online.Column, error) {
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
func (p *parser) bodyObject(field func(key string) error) error {
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
func (p *parser) skip() error {
	_, err := p.value(0)
	return err
}

// boolField reads the value of body field key as a lax boolean.
func (p *parser) boolField(key string) (bool, error) {
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
