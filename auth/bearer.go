package auth

import (
	"context"
	"strings"
	"unicode"

	"github.com/feastgo/feastgo/core"
)

// Authenticator turns a bearer token into the user it was issued to. A
// token that is missing, malformed, expired or not signed by the trusted
// issuer is an Unauthenticated error; an identity provider that cannot be reached is
// reported as a core.KindUnavailable error, so that callers are told to
// retry rather than that their token is bad. The token may be a view of a
// buffer the caller reuses once Authenticate returns: an implementation
// that keeps it keeps a copy.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*User, error)
}

// Unauthenticated is a request that did not prove who it comes from
// (core.KindUnauthenticated: HTTP 401, gRPC Unauthenticated). The reason
// is for the server's log and gRPC callers; HTTP clients are told only
// that the token is invalid, as Feast tells them.
func Unauthenticated(reason string) error {
	return core.Errorf(core.KindUnauthenticated, "AuthenticationError", "invalid token: %s", reason)
}

// IsUnauthenticated reports whether err is an Unauthenticated error.
func IsUnauthenticated(err error) bool { return core.KindOf(err) == core.KindUnauthenticated }

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
	// The scheme and one word: what Python's split() of the value gives.
	token := strings.TrimFunc(header[len(scheme):], unicode.IsSpace)
	if token == "" || strings.IndexFunc(token, unicode.IsSpace) >= 0 {
		return "", Unauthenticated("the authorization header must be \"Bearer <token>\"")
	}
	return token, nil
}
