package server

import (
	"net/http"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/feastgo/feastgo/internal/feastjson"
)

const historicalPath = "/get-historical-features"

// arrowStream is the media type of an Arrow IPC stream.
const arrowStream = "application/vnd.apache.arrow.stream"

// historicalFeatures answers POST /get-historical-features: a training
// set in the column-oriented JSON of /get-online-features, or, when the
// client accepts it, as an Arrow IPC stream written batch by batch.
func (h *HTTP) historicalFeatures(w http.ResponseWriter, r *http.Request) {
	bp, err := h.readBody(r)
	if err != nil {
		h.logError(r, err)
		writeError(w, err)
		return
	}
	req, err := feastjson.ParseHistoricalRequest(*bp)
	bufPool.Put(bp)
	if err != nil {
		writeError(w, err)
		return
	}
	if req.Entities != nil {
		defer req.Entities.Release()
	}
	snap := h.Registry.Current()
	retrieve := h.Historical.Retrieve
	if h.Metrics != nil {
		retrieve = h.Metrics.timedRetrieve(retrieve)
	}
	if strings.Contains(r.Header.Get("Accept"), arrowStream) {
		var iw *ipc.Writer
		err = retrieve(r.Context(), snap, req, func(rec arrow.RecordBatch) error {
			if iw == nil {
				w.Header().Set("Content-Type", arrowStream)
				w.WriteHeader(http.StatusOK)
				iw = ipc.NewWriter(w, ipc.WithSchema(rec.Schema()))
			}
			return iw.Write(rec)
		})
		if iw != nil {
			if cerr := iw.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				// The answer has begun: cut it, so the client sees a
				// broken stream rather than a short one.
				h.logError(r, err)
				panic(http.ErrAbortHandler)
			}
			return
		}
	} else {
		var enc feastjson.HistoricalEncoder
		err = retrieve(r.Context(), snap, req, enc.Add)
		if err == nil {
			writeJSON(w, http.StatusOK, enc.Finish(nil))
			return
		}
	}
	h.logError(r, err)
	writeError(w, err)
}
