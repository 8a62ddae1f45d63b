package server

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/feastgo/feastgo/internal/feastjson"
	"github.com/feastgo/feastgo/materialize"
)

// materializeRoutes registers the materialization endpoints.
func (h *HTTP) materializeRoutes(r chi.Router) {
	r.Post("/materialize", func(w http.ResponseWriter, r *http.Request) { h.materialize(w, r, false) })
	r.Post("/materialize-incremental", func(w http.ResponseWriter, r *http.Request) { h.materialize(w, r, true) })
}

// materialize answers POST /materialize and /materialize-incremental: the
// run's errors as Feast's, 409 for busy views, null once a sync run is
// done and 202 with the views once an async one has started.
func (h *HTTP) materialize(w http.ResponseWriter, r *http.Request, incremental bool) {
	req, ok := h.decodeMaterialize(w, r, incremental)
	if !ok {
		return
	}
	names, err := h.Materialize.Start(r.Context(), req)
	var busy *materialize.BusyError
	switch {
	case errors.As(err, &busy):
		writeConflict(w, busy.Views)
	case err != nil:
		h.logError(r, err)
		writeError(w, err)
	case req.Async:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(feastjson.AppendMaterializeAccepted(nil, names))
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("null"))
	}
}

// decodeMaterialize reads the body and the async and force query flags,
// answering the error itself (ok false).
func (h *HTTP) decodeMaterialize(w http.ResponseWriter, r *http.Request, incremental bool) (_ materialize.JobRequest, ok bool) {
	bp, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return materialize.JobRequest{}, false
	}
	defer bufPool.Put(bp)
	if refuseNotUTF8(w, *bp) {
		return materialize.JobRequest{}, false
	}
	body, err := feastjson.ParseMaterializeRequest(*bp, incremental)
	if err != nil {
		writeValidationError(w, *bp, err)
		return materialize.JobRequest{}, false
	}
	req := jobRequest(body, incremental)
	if req.Async, err = queryBool(r, "async"); err == nil {
		req.Force, err = queryBool(r, "force")
	}
	if err != nil {
		writeValidationError(w, nil, err)
		return materialize.JobRequest{}, false
	}
	return req, true
}

// jobRequest is the run a materialize body asks for.
func jobRequest(body *feastjson.MaterializeRequest, incremental bool) materialize.JobRequest {
	return materialize.JobRequest{Start: body.StartTS, End: body.EndTS, Views: body.Views,
		DisableEventTS: body.DisableEventTS, Version: body.Version, Incremental: incremental}
}

// writeConflict is Feast's 409 for views already materializing.
func writeConflict(w http.ResponseWriter, views []string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusConflict)
	_, _ = w.Write(feastjson.AppendMaterializeConflict(nil, views))
}

// queryBool reads a FastAPI bool query parameter (absent is false); a
// value pydantic cannot read as a bool is a 422, as in Feast.
func queryBool(r *http.Request, name string) (bool, error) {
	v, ok := r.URL.Query()[name]
	if !ok || len(v) == 0 {
		return false, nil
	}
	return feastjson.ParseQueryBool(name, v[len(v)-1])
}
