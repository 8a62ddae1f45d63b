package offline

import (
	"encoding/json"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/server"
)

// pythonBuiltins are the error classes that are not Feast's: Feast's
// server lets them through as plain messages, and its client's
// FeastError.from_error_detail could not rebuild them from feast.errors.
var pythonBuiltins = map[string]bool{
	"": true, "ValueError": true, "KeyError": true, "TypeError": true, "AssertionError": true,
	"NotImplementedError": true, "RuntimeError": true, "DateParseError": true,
}

// flightError turns err into the gRPC status a Flight client reads: the
// code of its kind (server.StatusOf, the one mapping of the server; a
// registry object not found is InvalidArgument here), and
// for a Feast error class the message Feast's arrow_server_error_handling
// gives, "Flight error: " and the JSON of FeastError.to_error_detail(),
// which Feast's client parses back into the same exception class.
func flightError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	_, code := server.StatusOf(err)
	if code == codes.NotFound {
		// A view, feature or source named in the command and missing from
		// the registry is the caller's mistake, as every other bad
		// parameter; a flight missing from the server is sent as
		// NotFound directly.
		code = codes.InvalidArgument
	}
	var fe *core.Error
	if !errors.As(err, &fe) || pythonBuiltins[fe.Class] {
		return status.Error(code, err.Error())
	}
	detail, jerr := json.Marshal(struct {
		Module  string `json:"module"`
		Class   string `json:"class"`
		Message string `json:"message"`
	}{"feast.errors", fe.Class, err.Error()})
	if jerr != nil {
		return status.Error(codes.Internal, err.Error())
	}
	return status.Error(code, "Flight error: "+string(detail))
}

// unimplemented is the error of an API this server does not serve yet.
func unimplemented(api, why string) error {
	return core.Errorf(core.KindUnimplemented, "NotImplementedError", "%s is not supported by this offline server: %s", api, why)
}
