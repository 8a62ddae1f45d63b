package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"

	"github.com/feastgo/feastgo/core"
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
	return `{"module": ` + pyJSONString(module) + `, "class": ` + pyJSONString(class) + `, "message": ` + pyJSONString(msg) + `}`
}

// pyJSONString is json.dumps(s) with Python's default ensure_ascii=True.
func pyJSONString(s string) string {
	var b []byte
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				r -= 0x10000
				b = appendU(b, 0xd800+(r>>10))
				b = appendU(b, 0xdc00+(r&0x3ff))
				continue
			}
			b = appendU(b, r)
		default:
			b = append(b, byte(r))
		}
	}
	return string(append(b, '"'))
}

func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// writeError answers with Feast's error body: the detail object encoded
// once more as a JSON string (the Python client json.loads it twice).
func writeError(w http.ResponseWriter, err error) {
	status, _ := StatusOf(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(appendJSONString(nil, errorDetail(err)))
}

// writeValidationError answers a malformed body like FastAPI does (422).
func writeValidationError(w http.ResponseWriter, err error) {
	type item struct {
		Type string `json:"type"`
		Loc  []any  `json:"loc"`
		Msg  string `json:"msg"`
	}
	var it item
	var se *syntaxError
	var fe *fieldError
	switch {
	case errors.As(err, &se):
		it = item{Type: "json_invalid", Loc: []any{"body", se.pos}, Msg: "JSON decode error: " + se.msg}
	case errors.As(err, &fe):
		it = item{Type: fe.typ, Loc: fe.loc, Msg: fe.msg}
		if it.Loc == nil {
			it.Loc = []any{"body"}
		}
	default:
		it = item{Type: "value_error", Loc: []any{"body"}, Msg: err.Error()}
	}
	body, _ := json.Marshal(map[string]any{"detail": []item{it}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnprocessableEntity)
	_, _ = w.Write(body)
}
