package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/core"
)

// Every error kind maps to one HTTP status and one gRPC code, wrapped or
// not; context errors win over the kind that wraps them, and an untyped
// error is an internal one.
func TestStatusOf(t *testing.T) {
	kinds := []struct {
		kind core.Kind
		http int
		grpc codes.Code
	}{
		{core.KindInternal, http.StatusInternalServerError, codes.Internal},
		{core.KindInvalidArgument, http.StatusBadRequest, codes.InvalidArgument},
		{core.KindNotFound, http.StatusNotFound, codes.NotFound},
		{core.KindUnavailable, http.StatusServiceUnavailable, codes.Unavailable},
		{core.KindConflict, http.StatusConflict, codes.Aborted},
		{core.KindTooLarge, http.StatusRequestEntityTooLarge, codes.ResourceExhausted},
		{core.KindUnimplemented, http.StatusNotImplemented, codes.Unimplemented},
		{core.KindUnprocessable, http.StatusUnprocessableEntity, codes.InvalidArgument},
		{core.KindTimeout, http.StatusRequestTimeout, codes.DeadlineExceeded},
		{core.KindPermissionDenied, http.StatusForbidden, codes.PermissionDenied},
		{core.KindUnauthenticated, http.StatusUnauthorized, codes.Unauthenticated},
	}
	// The table names every kind, in declaration order. A kind added to
	// core after KindUnauthenticated and mapped in StatusOf fails the
	// "unknown kind" case below until it gets its row here.
	for i, k := range kinds {
		if k.kind != core.Kind(i) {
			t.Fatalf("row %d is kind %d: the table must list every kind in order", i, k.kind)
		}
	}
	for _, k := range kinds {
		direct := core.Errorf(k.kind, "X", "kind %d", k.kind)
		for name, err := range map[string]error{
			"direct":  direct,
			"wrapped": fmt.Errorf("outer: %w", direct),
			"joined":  errors.Join(io.EOF, direct),
		} {
			h, g := StatusOf(err)
			if h != k.http || g != k.grpc {
				t.Errorf("kind %d %s: got %d/%v, want %d/%v", k.kind, name, h, g, k.http, k.grpc)
			}
		}
		// The gRPC adapter answers with the same code.
		if got := status.Code(grpcError(direct)); got != k.grpc {
			t.Errorf("kind %d: grpcError code %v, want %v", k.kind, got, k.grpc)
		}
	}
	others := []struct {
		name string
		err  error
		http int
		grpc codes.Code
	}{
		{"untyped", io.ErrUnexpectedEOF, http.StatusInternalServerError, codes.Internal},
		{"unknown kind", core.Errorf(core.KindUnauthenticated+1, "X", "new"), http.StatusInternalServerError, codes.Internal},
		{"deadline", context.DeadlineExceeded, http.StatusServiceUnavailable, codes.DeadlineExceeded},
		{"canceled", context.Canceled, 499, codes.Canceled},
		{"deadline inside a kind", core.Unavailable(context.DeadlineExceeded, "store"), http.StatusServiceUnavailable, codes.DeadlineExceeded},
		{"canceled inside a kind", &core.Error{Kind: core.KindInvalidArgument, Message: "m", Err: context.Canceled}, 499, codes.Canceled},
	}
	for _, o := range others {
		h, g := StatusOf(o.err)
		if h != o.http || g != o.grpc {
			t.Errorf("%s: got %d/%v, want %d/%v", o.name, h, g, o.http, o.grpc)
		}
	}
}
