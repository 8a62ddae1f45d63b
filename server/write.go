package server

import (
	"net/http"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/internal/feastjson"
)

// decodeWrite reads and parses a write body, answering the error itself;
// nil means the response was written.
func (h *HTTP) decodeWrite(w http.ResponseWriter, r *http.Request, nameField string, withTo bool) *feastjson.WriteRequest {
	bp, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return nil
	}
	defer bufPool.Put(bp)
	if len(*bp) > 0 && !isJSONContentType(r.Header.Get("Content-Type")) {
		writeValidationError(w, *bp, feastjson.NotJSONError(*bp))
		return nil
	}
	if refuseNotUTF8(w, *bp) {
		return nil
	}
	req, err := feastjson.ParseWriteRequest(*bp, nameField, withTo)
	if err != nil {
		if core.KindOf(err) == core.KindInvalidArgument {
			writeError(w, err) // a df column that is not a list of values
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
	mode, err := ingest.ParseMode(req.To)
	if err == nil {
		err = h.Ingest.Push(r.Context(), req.Name, &req.Frame, mode, req.Opts)
	}
	if err != nil {
		h.logError(r, err)
		writeError(w, err)
		return
	}
	if h.Metrics != nil {
		h.Metrics.pushed(req.Name, req.To)
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
	if err := h.Ingest.WriteToOnlineStore(r.Context(), req.Name, &req.Frame, req.Opts); err != nil {
		h.logError(r, err)
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("null"))
}
