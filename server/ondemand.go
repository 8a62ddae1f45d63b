package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/feastjson"
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
	body, err := feastjson.AppendOnlineResponse(nil, resp)
	if err != nil {
		err = core.Errorf(core.KindInternal, "FeastError", "encoding response: %v", err)
		h.logError(r, err)
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// parseOnDemandRequest decodes the endpoint's body (feastjson); the
// evaluation is online.Service.EvaluateOnDemand.
func parseOnDemandRequest(body []byte) (*online.OnDemandRequest, error) {
	return feastjson.ParseOnDemandRequest(body)
}
