package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc/codes"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyfmt"
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
	}
	return http.StatusInternalServerError, codes.Internal
}

// errorDetail is Feast's FeastError.to_error_detail(): a JSON object with
// module, class and message, printed with Python's default separators.
func errorDetail(err error) string {
	module, class, msg := "feast.errors", "FeastError", err.Error()
	var fe *core.Error
	if errors.As(err, &fe) {
		class, msg = fe.Class, fe.Error()
		switch class {
		case "KeyError", "ValueError", "TypeError", "NotImplementedError", "RuntimeError":
			module = "builtins"
		case "":
			class = "FeastError"
		}
	}
	b := pyfmt.AppendJSONString(append(make([]byte, 0, 64+len(msg)), `{"module": `...), module)
	b = pyfmt.AppendJSONString(append(b, `, "class": `...), class)
	b = pyfmt.AppendJSONString(append(b, `, "message": `...), msg)
	return string(append(b, '}'))
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
	return status, appendJSONString(b, errorDetail(err))
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeValidationError answers a malformed body like FastAPI does: 422
// with pydantic's detail list, echoing the offending input.
func writeValidationError(w http.ResponseWriter, body []byte, err error) {
	writeJSON(w, http.StatusUnprocessableEntity, appendValidationError(nil, body, err))
}

// appendValidationError appends the 422 body of writeValidationError to b.
func appendValidationError(b []byte, body []byte, err error) []byte {
	b = append(b, `{"detail":[{"type":`...)
	var se *syntaxError
	var fe *fieldError
	switch {
	case errors.As(err, &se):
		// Python reports the position in characters, not bytes.
		pos := utf8.RuneCount(body[:min(se.pos, len(body))])
		b = appendJSONString(b, "json_invalid")
		b = append(b, `,"loc":["body",`...)
		b = strconv.AppendInt(b, int64(pos), 10)
		b = append(b, `],"msg":"JSON decode error","input":{},"ctx":{"error":`...)
		b = appendJSONString(b, se.msg)
		b = append(b, `}}]}`...)
	case errors.As(err, &fe):
		b = appendJSONString(b, fe.typ)
		b = append(b, `,"loc":`...)
		loc, _ := json.Marshal(fe.loc)
		if fe.loc == nil {
			loc = []byte(`["body"]`)
		}
		b = append(b, loc...)
		b = append(b, `,"msg":`...)
		b = appendJSONString(b, fe.msg)
		b = append(b, `,"input":`...)
		var compact bytes.Buffer
		if json.Compact(&compact, fe.input) == nil && compact.Len() > 0 {
			b = append(b, compact.Bytes()...)
		} else if len(fe.input) > 0 {
			b = append(b, fe.input...) // NaN and friends: Python's json prints them bare too
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `}]}`...)
	default:
		b = appendJSONString(b, "value_error")
		b = append(b, `,"loc":["body"],"msg":`...)
		b = appendJSONString(b, err.Error())
		b = append(b, `}]}`...)
	}
	return b
}
