package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// parseDocument reads a JSON document as Python's json module writes it
// (Feast's answers print NaN, Infinity and -Infinity as bare words, which
// encoding/json refuses) into nil, int64, float64, string, bool, []any and
// map[string]any. Strings are decoded by encoding/json.
func parseDocument(b []byte) (any, error) {
	d := &docReader{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.ws(); d.pos != len(d.b) {
		return nil, d.fail("extra data")
	}
	return v, nil
}

type docReader struct {
	b   []byte
	pos int
}

func (d *docReader) fail(msg string) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", d.pos, msg)
}

func (d *docReader) ws() {
	for d.pos < len(d.b) && (d.b[d.pos] == ' ' || d.b[d.pos] == '\t' || d.b[d.pos] == '\n' || d.b[d.pos] == '\r') {
		d.pos++
	}
}

func (d *docReader) word(w string) bool {
	if len(d.b)-d.pos >= len(w) && string(d.b[d.pos:d.pos+len(w)]) == w {
		d.pos += len(w)
		return true
	}
	return false
}

func (d *docReader) value(depth int) (any, error) {
	if depth > 10000 { // encoding/json's own bound
		return nil, d.fail("nesting too deep")
	}
	d.ws()
	if d.pos >= len(d.b) {
		return nil, d.fail("expecting a value")
	}
	switch c := d.b[d.pos]; {
	case c == '"':
		return d.str()
	case c == '[':
		return d.array(depth)
	case c == '{':
		return d.object(depth)
	case d.word("null"):
		return nil, nil
	case d.word("true"):
		return true, nil
	case d.word("false"):
		return false, nil
	case d.word("NaN"):
		return math.NaN(), nil
	case d.word("Infinity"):
		return math.Inf(1), nil
	case d.word("-Infinity"):
		return math.Inf(-1), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, d.fail("expecting a value")
}

func (d *docReader) str() (string, error) {
	start := d.pos
	for d.pos++; d.pos < len(d.b); d.pos++ {
		switch d.b[d.pos] {
		case '\\':
			d.pos++
		case '"':
			d.pos++
			var s string
			if err := json.Unmarshal(d.b[start:d.pos], &s); err != nil {
				return "", d.fail(err.Error())
			}
			return s, nil
		}
	}
	return "", d.fail("unterminated string")
}

func (d *docReader) number() (any, error) {
	start, isFloat := d.pos, false
	for ; d.pos < len(d.b); d.pos++ {
		c := d.b[d.pos]
		if c == '.' || c == 'e' || c == 'E' {
			isFloat = true
		} else if (c < '0' || c > '9') && c != '-' && c != '+' {
			break
		}
	}
	text := string(d.b[start:d.pos])
	if !json.Valid(d.b[start:d.pos]) {
		return nil, d.fail("bad number " + strconv.Quote(text))
	}
	if !isFloat {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, d.fail(err.Error())
	}
	return f, nil
}

func (d *docReader) array(depth int) (any, error) {
	d.pos++
	out := []any{}
	if d.ws(); d.pos < len(d.b) && d.b[d.pos] == ']' {
		d.pos++
		return out, nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if d.ws(); d.pos < len(d.b) && d.b[d.pos] == ',' {
			d.pos++
			continue
		}
		if d.pos < len(d.b) && d.b[d.pos] == ']' {
			d.pos++
			return out, nil
		}
		return nil, d.fail("expecting ',' or ']'")
	}
}

func (d *docReader) object(depth int) (any, error) {
	d.pos++
	out := map[string]any{}
	if d.ws(); d.pos < len(d.b) && d.b[d.pos] == '}' {
		d.pos++
		return out, nil
	}
	for {
		if d.ws(); d.pos >= len(d.b) || d.b[d.pos] != '"' {
			return nil, d.fail("expecting a key")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		if d.ws(); d.pos >= len(d.b) || d.b[d.pos] != ':' {
			return nil, d.fail("expecting ':'")
		}
		d.pos++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[k] = v
		if d.ws(); d.pos < len(d.b) && d.b[d.pos] == ',' {
			d.pos++
			continue
		}
		if d.pos < len(d.b) && d.b[d.pos] == '}' {
			d.pos++
			return out, nil
		}
		return nil, d.fail("expecting ',' or '}'")
	}
}
