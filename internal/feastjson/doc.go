// Package feastjson is the Feast feature server's JSON wire format: it reads
// request bodies into the values of the read, write and materialization
// paths, and prints answers, stored values and errors exactly as Feast's
// Python server does.
//
// Reading (parse*.go, request_*.go) follows Python's json module (object
// key order kept, integers stay integers, NaN and Infinity accepted) and
// pydantic's model rules (lax booleans, optional fields, unknown keys
// ignored). A body that is not JSON fails with a *SyntaxError and one of
// the wrong shape with a *FieldError, both printed by AppendValidationError
// as FastAPI's 422 detail; a value the request may not carry (an integer
// over 64 bits in a column, a df column that is not a list) fails with a
// core invalid-argument error, Feast's 400.
//
// Writing (encode.go, response.go, rawvalue.go) is json.dumps with
// separators (",", ":"), ensure_ascii=False and Python float repr; the
// serialized feast.types.Value bytes a store returns are read by
// pbvalue.go, which knows the protobuf and nothing of JSON, and printed
// by rawvalue.go, without building protobuf messages.
//
// It holds no transport: it must not import net/http, fasthttp, gRPC, the
// server package, stores or the registry. Status codes and headers are the
// server's business; this package only says what an error is.
package feastjson
