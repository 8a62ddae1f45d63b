package feastjson

import (
	"sync"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/online"
)

// RequestMem holds a parsed /get-online-features request and the arrays of
// its values (6.4 KB for 100 entities, most of a large read's garbage),
// reused once the answer that may point into them is written.
type RequestMem struct {
	req  online.Request
	vals []core.Value
}

var requestMems = sync.Pool{New: func() any { return new(RequestMem) }}

// AcquireRequestMem returns a RequestMem from the pool, for one request;
// give it back with Release.
func AcquireRequestMem() *RequestMem { return requestMems.Get().(*RequestMem) }

// Release recycles m: nothing may use its request afterwards (nor an
// answer that still points into the request's values).
func (m *RequestMem) Release() {
	if cap(m.vals) > 1<<16 {
		return
	}
	clear(m.vals) // only the array in use: any earlier one is garbage
	m.vals = m.vals[:0]
	m.req = online.Request{}
	requestMems.Put(m)
}

// ParseOnlineRequest decodes a /get-online-features body into m; the
// request and its values live in m until m.Release.
func ParseOnlineRequest(body []byte, m *RequestMem) (*online.Request, error) {
	sp := valueStacks.Get().(*[]core.Value)
	p := &parser{b: body, stack: (*sp)[:0], arena: &m.vals}
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
					return &fieldError{loc: []any{"body", "features", i}, typ: "string_type", msg: "Input should be a valid string", input: AppendValue(nil, e)}
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

// entities reads the request's entity column map, keeping key order. An
// integer over 64 bits is Feast's 400 naming the column; any other bad
// column is pydantic's 422.
func (p *parser) entities() ([]online.Column, error) {
	return p.columnObject("entities", func(name string, fe *fieldError, raw []byte) error {
		if fe != nil && fe.typ == typIntOverflow {
			return core.Invalidf("entities.%s: %s", name, fe.msg)
		}
		if fe != nil {
			fe.loc = []any{"body", "entities", name}
			return fe
		}
		return &fieldError{loc: []any{"body", "entities", name}, typ: "list_type", msg: "Input should be a valid list", input: raw}
	})
}
