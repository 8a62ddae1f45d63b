package auth

import (
	"context"
	"errors"
	"strings"
)

// Authenticator turns a bearer token into the user it was issued to. A
// token that is missing, malformed, expired or not signed by the trusted
// issuer is an *Error; an identity provider that cannot be reached is
// reported as a core.KindUnavailable error, so that callers are told to
// retry rather than that their token is bad.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*User, error)
}

// Error is a request that did not prove who it comes from (HTTP 401, gRPC
// Unauthenticated). Reason is for the server's log; clients are told only
// that the token is invalid, as Feast tells them.
type Error struct{ Reason string }

func (e *Error) Error() string { return "unauthenticated: " + e.Reason }

// Unauthenticated returns an *Error with the given reason.
func Unauthenticated(reason string) error { return &Error{Reason: reason} }

// IsUnauthenticated reports whether err is an *Error.
func IsUnauthenticated(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// BearerToken returns the token of an Authorization header value, as
// Feast's TokenExtractor reads it: the value must start with "Bearer "
// (any case) followed by something, and split on white space into exactly
// the scheme and the token.
func BearerToken(header string) (string, error) {
	if header == "" {
		return "", Unauthenticated("missing authorization header")
	}
	const scheme = "bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) || strings.ContainsAny(header[len(scheme):len(scheme)+1], "\r\n") {
		return "", Unauthenticated("expected the Bearer scheme in the authorization header")
	}
	parts := strings.Fields(header)
	if len(parts) != 2 {
		return "", Unauthenticated("the authorization header must be \"Bearer <token>\"")
	}
	return parts[1], nil
}
