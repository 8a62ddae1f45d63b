package feastjson

import (
	"strconv"
	"strings"

	"github.com/feastgo/feastgo/core"
)

// MaterializeRequest is Feast's MaterializeRequest or
// MaterializeIncrementalRequest, as sent: nil for an optional field not
// sent (or null).
type MaterializeRequest struct {
	StartTS, EndTS *string
	Views          []string
	// HasViews is whether feature_views was sent as a list (maybe empty).
	HasViews       bool
	DisableEventTS bool
	Version        *string
}

// ParseMaterializeRequest decodes the body with pydantic's rules: optional
// strings, an optional list of strings, lax booleans, other keys ignored.
// The incremental model has no start_ts nor disable_event_timestamp (they
// are ignored) and requires end_ts.
func ParseMaterializeRequest(body []byte, incremental bool) (*MaterializeRequest, error) {
	p := &parser{b: body}
	req := &MaterializeRequest{}
	err := p.bodyObject(func(key string) error {
		vstart := p.pos
		v, err := p.value(0)
		if err != nil {
			return err
		}
		raw := body[vstart:p.pos]
		switch key {
		case "start_ts", "end_ts", "version":
			if key == "start_ts" && incremental {
				break
			}
			s, err := optString(key, raw, v)
			if err != nil {
				return err
			}
			switch key {
			case "start_ts":
				req.StartTS = s
			case "end_ts":
				req.EndTS = s
			default:
				req.Version = s
			}
		case "feature_views":
			return req.setViews(key, raw, v)
		case "disable_event_timestamp", "full_feature_names":
			if key == "disable_event_timestamp" && incremental {
				break
			}
			b, err := laxBoolField(key, v, raw)
			if err != nil {
				return err
			}
			if key == "disable_event_timestamp" {
				req.DisableEventTS = b
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if incremental && req.EndTS == nil {
		return nil, missingField("end_ts", body)
	}
	return req, nil
}

// optString is an Optional[str] field: nil when null.
func optString(key string, raw []byte, v core.Value) (*string, error) {
	switch v.Type {
	case core.Invalid:
		return nil, nil
	case core.String:
		s := v.S
		return &s, nil
	}
	return nil, &fieldError{loc: []any{"body", key}, typ: "string_type", msg: "Input should be a valid string", input: raw}
}

// setViews sets the Optional[List[str]] feature_views from its value v
// (raw as sent).
func (req *MaterializeRequest) setViews(key string, raw []byte, v core.Value) error {
	if v.Type == core.Invalid {
		req.Views, req.HasViews = nil, false
		return nil
	}
	if !v.Type.IsList() && v.Type != core.UntypedList {
		return &fieldError{loc: []any{"body", key}, typ: "list_type", msg: "Input should be a valid list", input: raw}
	}
	req.Views, req.HasViews = make([]string, len(v.List)), true
	for i, e := range v.List {
		if e.Type != core.String {
			return &fieldError{loc: []any{"body", key, i}, typ: "string_type", msg: "Input should be a valid string", input: rawElem(raw, i)}
		}
		req.Views[i] = e.S
	}
	return nil
}

// rawElem returns the JSON text of element i of a JSON array.
func rawElem(raw []byte, i int) []byte {
	p := &parser{b: raw}
	p.peek()
	p.pos++
	for j := 0; ; j++ {
		p.peek()
		start := p.pos
		if _, err := p.value(0); err != nil {
			return nil
		}
		if j == i {
			return raw[start:p.pos]
		}
		if p.peek() != ',' {
			return nil
		}
		p.pos++
	}
}

// ParseQueryBool reads the value s of the bool query parameter name as
// FastAPI does; a value pydantic cannot read as a bool is its 422 error.
func ParseQueryBool(name, s string) (bool, error) {
	b, ok := laxBool(core.StringValue(s))
	if !ok {
		return false, &fieldError{loc: []any{"query", name}, typ: "bool_parsing",
			msg: "Input should be a valid boolean, unable to interpret input", input: []byte(strconv.Quote(s))}
	}
	return b, nil
}

// AppendMaterializeAccepted appends Feast's 202 body for an async run of
// the views.
func AppendMaterializeAccepted(b []byte, views []string) []byte {
	b = append(b, `{"status":"accepted","feature_views":`...)
	b = AppendStringList(b, views)
	return append(b, '}')
}

// AppendMaterializeConflict appends Feast's 409 body for views already
// materializing.
func AppendMaterializeConflict(b []byte, views []string) []byte {
	quoted := make([]string, len(views))
	for i, v := range views {
		quoted[i] = pyRepr(v)
	}
	msg := "Cannot start async materialization — the following feature views are already in MATERIALIZING state: [" +
		strings.Join(quoted, ", ") + "]. Use ?force=true to override."
	b = append(b, `{"error":`...)
	b = AppendString(b, msg)
	b = append(b, `,"feature_views":`...)
	b = AppendStringList(b, views)
	return append(b, '}')
}

// pyRepr is Python's repr() of a plain string.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
