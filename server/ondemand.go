package server

import (
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/online"
)

// onDemand answers POST /on-demand/{feature_view}: evaluate one on-demand
// feature view over request data and already-materialized features, the
// call the pre-Feast monitoring service made. The body is
//
//	{"request_data": {"execution_times": [[100.0, 120.5]], "error_counts": [[0, 2]]},
//	 "features":     {"avg_execution_time": [98.2]},   // optional, plain or view__feature names
//	 "entities":     {"pipeline_id": [1]},             // optional: read missing features
//	 "full_feature_names": false}
//
// Every column has one value per row. Source features of the view that are
// neither given nor readable (no entities) are null. The answer has the
// shape of /get-online-features: join keys (when entities are given), the
// view's source features, then the computed features, which Feast's own
// naming and conversion rules produce.
func (h *HTTP) onDemand(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "feature_view")
	bp, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := parseOnDemandRequest(*bp)
	bufPool.Put(bp)
	if err != nil {
		writeError(w, err)
		return
	}
	resp, err := h.Online.EvaluateOnDemand(r.Context(), name, req)
	if err != nil {
		h.logError(r, err)
		writeError(w, err)
		return
	}
	body, err := appendOnlineResponse(nil, resp)
	if err != nil {
		err = core.Errorf(core.KindInternal, "FeastError", "encoding response: %v", err)
		h.logError(r, err)
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// parseOnDemandRequest decodes the endpoint's body; the evaluation is
// online.Service.EvaluateOnDemand.
func parseOnDemandRequest(body []byte) (*online.OnDemandRequest, error) {
	if !utf8.Valid(body) {
		return nil, core.Invalidf("request body: not valid UTF-8")
	}
	p := &jsonParser{b: body}
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
