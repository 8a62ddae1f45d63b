package feastjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyfmt"
)

// syntaxError is a malformed body; it carries the byte offset.
type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("JSON decode error at byte %d: %s", e.pos, e.msg)
}

// typIntOverflow is the type of the fieldError of an integer that does not
// fit in 64 bits, read where a column's INT64 is wanted; the readers of
// columns turn it into a core invalid-argument error naming the column.
const typIntOverflow = "int_overflow"

// fieldError is a well-formed body with a field of the wrong shape.
type fieldError struct {
	loc   []any
	typ   string
	msg   string
	input []byte // the offending JSON, echoed back as pydantic does
}

func (e *fieldError) Error() string { return fmt.Sprintf("%v: %s", e.loc, e.msg) }

// fieldPath names a field of the body by its location, as our 400 errors
// do: "entities.pipeline_id", "features[2]"; "request body" for the body
// itself.
func fieldPath(loc []any) string {
	var b []byte
	for i, l := range loc {
		if i == 0 && l == "body" {
			continue
		}
		switch l := l.(type) {
		case int:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(l), 10)
			b = append(b, ']')
		default:
			if len(b) > 0 {
				b = append(b, '.')
			}
			b = fmt.Append(b, l)
		}
	}
	if len(b) == 0 {
		return "request body"
	}
	return string(b)
}

// missingField is pydantic's error for a required body field not sent.
func missingField(name string, body []byte) *fieldError {
	return &fieldError{loc: []any{"body", name}, typ: "missing", msg: "Field required", input: body}
}

// NotJSONError is FastAPI's error for a body sent without a JSON content
// type: the model is given the raw text, a string, and refuses it.
func NotJSONError(body []byte) error {
	return &fieldError{loc: []any{"body"}, typ: "model_attributes_type",
		msg: "Input should be a valid dictionary or object to extract fields from", input: AppendString(nil, string(body))}
}

// AppendValidationError appends FastAPI's 422 body for a body that failed
// to parse (err from one of this package's parsers; any other error is a
// value_error with its text), echoing the offending input of body.
func AppendValidationError(b []byte, body []byte, err error) []byte {
	b = append(b, `{"detail":[{"type":`...)
	var se *syntaxError
	var fe *fieldError
	switch {
	case errors.As(err, &se):
		// Python reports the position in characters, not bytes.
		pos := utf8.RuneCount(body[:min(se.pos, len(body))])
		b = AppendString(b, "json_invalid")
		b = append(b, `,"loc":["body",`...)
		b = strconv.AppendInt(b, int64(pos), 10)
		b = append(b, `],"msg":"JSON decode error","input":{},"ctx":{"error":`...)
		b = AppendString(b, se.msg)
		b = append(b, `}}]}`...)
	case errors.As(err, &fe):
		b = AppendString(b, fe.typ)
		b = append(b, `,"loc":`...)
		loc, _ := json.Marshal(fe.loc)
		if fe.loc == nil {
			loc = []byte(`["body"]`)
		}
		b = append(b, loc...)
		b = append(b, `,"msg":`...)
		b = AppendString(b, fe.msg)
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
		b = AppendString(b, "value_error")
		b = append(b, `,"loc":["body"],"msg":`...)
		b = AppendString(b, err.Error())
		b = append(b, `}]}`...)
	}
	return b
}

// AppendDetail appends the body {"detail": detail}, Starlette's error
// pages and FastAPI's 400 for a body it cannot read.
func AppendDetail(b []byte, detail string) []byte {
	return append(AppendString(append(b, `{"detail":`...), detail), '}')
}

// AppendErrorBody appends Feast's error body for err: the detail object
// of FeastError.to_error_detail() encoded once more as a JSON string (the
// Python client json.loads it twice).
func AppendErrorBody(b []byte, err error) []byte {
	return AppendString(b, errorDetail(err))
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
