package feastjson

import (
	"errors"
	"unicode/utf8"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/online"
)

// ParseOnDemandRequest decodes an on-demand body. The endpoint is ours,
// not Feast's, so every mistake is a core invalid-argument error (400)
// naming the field, unknown keys included.
func ParseOnDemandRequest(body []byte) (*online.OnDemandRequest, error) {
	if !utf8.Valid(body) {
		return nil, core.Invalidf("request body: not valid UTF-8")
	}
	p := &parser{b: body}
	req := &online.OnDemandRequest{}
	bad := func(err error) error {
		var fe *fieldError
		if errors.As(err, &fe) {
			return core.Invalidf("%s: %s", fieldPath(fe.loc), fe.msg)
		}
		return core.Invalidf("request body: %v", err)
	}
	if p.peek() != '{' {
		return nil, core.Invalidf("request body: expected a JSON object")
	}
	p.pos++
	for p.peek() != '}' {
		key, err := p.str()
		if err != nil {
			return nil, bad(err)
		}
		if err := p.expect(':'); err != nil {
			return nil, bad(err)
		}
		switch key {
		case "request_data", "features", "entities":
			cols, err := p.columnObject(key, func(name string, fe *fieldError, _ []byte) error {
				if fe != nil {
					return core.Invalidf("%s.%s: %s", key, name, fe.msg)
				}
				return core.Invalidf("%s.%s: must be a list of values, one per row", key, name)
			})
			var fe *fieldError
			if errors.As(err, &fe) && fe.typ == "dict_type" {
				return nil, core.Invalidf("%s: must be an object of column names to lists of values", key)
			}
			if err != nil {
				return nil, bad(err)
			}
			switch key {
			case "request_data":
				req.RequestData = cols
			case "features":
				req.Features = cols
			default:
				req.Entities = cols
			}
		case "full_feature_names":
			v, err := p.value(0)
			if err != nil {
				return nil, bad(err)
			}
			b, ok := laxBool(v)
			if !ok {
				return nil, core.Invalidf("full_feature_names: must be a boolean")
			}
			req.FullFeatureNames = b
		default:
			return nil, core.Invalidf("%s: unknown field (expected request_data, features, entities, full_feature_names)", key)
		}
		if p.peek() == ',' {
			p.pos++
		} else if p.peek() != '}' {
			return nil, bad(p.fail("Expecting ',' delimiter"))
		}
	}
	p.pos++
	if p.peek() != 0 {
		return nil, bad(p.fail("Extra data"))
	}
	return req, nil
}
