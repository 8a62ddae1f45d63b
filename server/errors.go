package server

import (
	"context"
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/feastjson"
)

// StatusOf maps an error to its HTTP status and gRPC code: the one place
// where error kinds meet transports.
func StatusOf(err error) (int, codes.Code) {
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, codes.DeadlineExceeded
	}
	if errors.Is(err, context.Canceled) {
		return 499, codes.Canceled
	}
	switch core.KindOf(err) {
	case core.KindInvalidArgument:
		return http.StatusBadRequest, codes.InvalidArgument
	case core.KindNotFound:
		return http.StatusNotFound, codes.NotFound
	case core.KindUnavailable:
		return http.StatusServiceUnavailable, codes.Unavailable
	case core.KindConflict:
		return http.StatusConflict, codes.Aborted
	case core.KindTooLarge:
		return http.StatusRequestEntityTooLarge, codes.ResourceExhausted
	case core.KindUnimplemented:
		return http.StatusNotImplemented, codes.Unimplemented
	case core.KindUnprocessable:
		return http.StatusUnprocessableEntity, codes.InvalidArgument
	case core.KindTimeout:
		return http.StatusRequestTimeout, codes.DeadlineExceeded
	case core.KindPermissionDenied:
		return http.StatusForbidden, codes.PermissionDenied
	case core.KindUnauthenticated:
		return http.StatusUnauthorized, codes.Unauthenticated
	}
	return http.StatusInternalServerError, codes.Internal
}

// writeError answers with Feast's error body: the detail object encoded
// once more as a JSON string (the Python client json.loads it twice).
func writeError(w http.ResponseWriter, err error) {
	status, b := appendError(nil, err)
	writeJSON(w, status, b)
}

// appendError appends Feast's error body for err to b, with its status.
func appendError(b []byte, err error) (int, []byte) {
	status, _ := StatusOf(err)
	return status, feastjson.AppendErrorBody(b, err)
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeValidationError answers a malformed body like FastAPI does: 422
// with pydantic's detail list, echoing the offending input.
func writeValidationError(w http.ResponseWriter, body []byte, err error) {
	writeJSON(w, http.StatusUnprocessableEntity, feastjson.AppendValidationError(nil, body, err))
}
