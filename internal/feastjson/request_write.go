package feastjson

import (
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/ingest"
)

// WriteRequest is the body of POST /push (PushFeaturesRequest) and POST
// /write-to-online-store (WriteToFeatureStoreRequest).
type WriteRequest struct {
	Name  string // push_source_name or feature_view_name
	Frame ingest.Frame
	To    string // push only: "online", "offline" or "online_and_offline"
	Opts  ingest.WriteOptions
}

// ParseWriteRequest decodes a write body with pydantic's rules for Feast's
// models: nameField is the required string field, df a required object of
// columns; allow_registry_cache and transform_on_write are lax booleans
// (both true when absent, as in Feast's models), "to" (push only, withTo)
// a string. A df column that is not a list of values is a core
// invalid-argument error naming it.
func ParseWriteRequest(body []byte, nameField string, withTo bool) (*WriteRequest, error) {
	p := &parser{b: body}
	req := &WriteRequest{To: "online", Opts: ingest.WriteOptions{Transform: true, AllowRegistryCache: true}}
	sawName, sawDF := false, false
	err := p.bodyObject(func(key string) error {
		vstart := p.pos
		raw := func() []byte { return body[vstart:p.pos] }
		switch {
		case key == nameField || (key == "to" && withTo):
			v, err := p.value(0)
			if err != nil {
				return err
			}
			if v.Type != core.String {
				return &fieldError{loc: []any{"body", key}, typ: "string_type", msg: "Input should be a valid string", input: raw()}
			}
			if key == nameField {
				req.Name, sawName = v.S, true
			} else {
				req.To = v.S
			}
		case key == "df":
			cols, err := p.frameColumns()
			if err != nil {
				return err
			}
			req.Frame.Columns, sawDF = cols, true
		case key == "allow_registry_cache" || key == "transform_on_write":
			b, err := p.boolField(key)
			if err != nil {
				return err
			}
			if key == "transform_on_write" {
				req.Opts.Transform = b
			} else {
				req.Opts.AllowRegistryCache = b
			}
		default:
			return p.skip()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !sawName {
		return nil, missingField(nameField, body)
	}
	if !sawDF {
		return nil, missingField("df", body)
	}
	return req, nil
}

// frameColumns reads the df object: column name -> list of values, in
// request order (a repeated name keeps its last value, as a Python dict).
func (p *parser) frameColumns() ([]ingest.Column, error) {
	cols, err := p.columnObject("df", func(name string, fe *fieldError, _ []byte) error {
		if fe != nil {
			return core.Invalidf("df.%s: %s", name, fe.msg)
		}
		return core.Invalidf("df.%s: each column must be a list of values, one per row", name)
	})
	if err != nil {
		return nil, err
	}
	out := make([]ingest.Column, len(cols))
	for i, c := range cols {
		out[i] = ingest.Column(c)
	}
	return out, nil
}
