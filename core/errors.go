package core

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the transports: each kind maps to one HTTP
// status and one gRPC code (see server.StatusOf).
type Kind int

// Error kinds.
const (
	// KindInternal is a defect or an unexpected failure of ours.
	KindInternal Kind = iota
	// KindInvalidArgument is a caller mistake in the request.
	KindInvalidArgument
	// KindNotFound names an object that does not exist in the registry.
	KindNotFound
	// KindUnavailable is a back end (online store, registry, transformation
	// service) that cannot be reached now; retrying later may work.
	KindUnavailable
	// KindConflict is a request that clashes with work in progress.
	KindConflict
	// KindTooLarge is a request over one of the server's size limits (its
	// body, its entity rows).
	KindTooLarge
	// KindUnimplemented is a feature this server does not offer.
	KindUnimplemented
	// KindUnprocessable is a well-formed request Feast rejects with 422
	// (for example an unknown push source).
	KindUnprocessable
	// KindTimeout is a request over one of the server's time limits (the
	// time to send it, the time to answer it).
	KindTimeout
	// KindPermissionDenied is an authenticated caller the registry's
	// permissions do not allow the action (Feast's FeastPermissionError).
	KindPermissionDenied
	// KindUnauthenticated is a request without a valid bearer token where
	// the server requires one (auth type oidc or kubernetes).
	KindUnauthenticated
)

// Error is the typed error of the server. Class is the Feast exception class
// name a Python client expects in the error body (for example
// "FeatureViewNotFoundException"); Message is the human text.
type Error struct {
	Kind    Kind
	Class   string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error of the given kind and Feast class.
func Errorf(kind Kind, class, format string, args ...any) *Error {
	return &Error{Kind: kind, Class: class, Message: fmt.Sprintf(format, args...)}
}

// Invalidf is a caller mistake; class defaults to Feast's generic ValueError.
func Invalidf(format string, args ...any) *Error {
	return Errorf(KindInvalidArgument, "ValueError", format, args...)
}

// Unavailable wraps a back-end failure.
func Unavailable(err error, format string, args ...any) *Error {
	e := Errorf(KindUnavailable, "FeastOnlineStoreUnavailable", format, args...)
	e.Err = err
	return e
}

// KindOf returns the kind of err, KindInternal for untyped errors.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
