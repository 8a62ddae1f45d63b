package server

import (
	"net/http"
	"unicode/utf8"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/ingest"
)

// writeRequest is the body of POST /push (PushFeaturesRequest) and POST
// /write-to-online-store (WriteToFeatureStoreRequest).
type writeRequest struct {
	name  string // push_source_name or feature_view_name
	frame ingest.Frame
	to    string
	opts  ingest.WriteOptions
}

// parseWriteRequest decodes a write body with pydantic's rules for Feast's
// models: nameField is the required string field, df a required object of
// columns; allow_registry_cache and transform_on_write are lax booleans
// (both true when absent, as in Feast's models), "to" (push only) a string.
func parseWriteRequest(body []byte, nameField string, withTo bool) (*writeRequest, error) {
	p := &jsonParser{b: body}
	req := &writeRequest{to: "online", opts: ingest.WriteOptions{Transform: true, AllowRegistryCache: true}}
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
				req.name, sawName = v.S, true
			} else {
				req.to = v.S
			}
		case key == "df":
			cols, err := p.frameColumns()
			if err != nil {
				return err
			}
			req.frame.Columns, sawDF = cols, true
		case key == "allow_registry_cache" || key == "transform_on_write":
			b, err := p.boolField(key)
			if err != nil {
				return err
			}
			if key == "transform_on_write" {
				req.opts.Transform = b
			} else {
				req.opts.AllowRegistryCache = b
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
func (p *jsonParser) frameColumns() ([]ingest.Column, error) {
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

// decodeWrite reads and parses a write body, answering the error itself;
// nil means the response was written.
func (h *HTTP) decodeWrite(w http.ResponseWriter, r *http.Request, nameField string, withTo bool) *writeRequest {
	bp, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return nil
	}
	defer bufPool.Put(bp)
	if len(*bp) > 0 && !isJSONContentType(r.Header.Get("Content-Type")) {
		writeValidationError(w, *bp, &fieldError{loc: []any{"body"}, typ: "model_attributes_type",
			msg: "Input should be a valid dictionary or object to extract fields from", input: appendJSONString(nil, string(*bp))})
		return nil
	}
	if !utf8.Valid(*bp) {
		writeDetail(w, http.StatusBadRequest, bodyParseError)
		return nil
	}
	req, err := parseWriteRequest(*bp, nameField, withTo)
	if err != nil {
		if core.KindOf(err) == core.KindInvalidArgument {
			writeError(w, err) // a df column (frameColumns)
		} else {
			writeValidationError(w, *bp, err)
		}
		return nil
	}
	return req
}

// push answers POST /push: 200 with an empty body once every view's rows
// are stored.
func (h *HTTP) push(w http.ResponseWriter, r *http.Request) {
	req := h.decodeWrite(w, r, "push_source_name", true)
	if req == nil {
		return
	}
	mode, err := ingest.ParseMode(req.to)
	if err == nil {
		err = h.Ingest.Push(r.Context(), req.name, &req.frame, mode, req.opts)
	}
	if err != nil {
		h.logError(r, err)
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// writeToOnlineStore answers POST /write-to-online-store: 200 with the body
// null (FastAPI's rendering of a handler returning None).
func (h *HTTP) writeToOnlineStore(w http.ResponseWriter, r *http.Request) {
	req := h.decodeWrite(w, r, "feature_view_name", false)
	if req == nil {
		return
	}
	if err := h.Ingest.WriteToOnlineStore(r.Context(), req.name, &req.frame, req.opts); err != nil {
		h.logError(r, err)
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("null"))
}
