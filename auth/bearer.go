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

// Remembering is an Authenticator that can tell, with a lookup only, the
// user of a token it verified before and that is still valid.
type Remembering interface {
	Remembered(token string) (*User, bool)
}

// Authenticate is a's answer for an Authorization header value. A token
// a remembers, after exactly "Bearer " in any case, is answered by one
// lookup: it passed BearerToken's checks when it was first seen, so
// looking at its bytes again would only spend time (the scan of a 1 KiB
// token was a third of a remembered request's auth cost). Anything else
// goes through BearerToken and a.Authenticate.
func Authenticate(ctx context.Context, a Authenticator, header string) (*User, error) {
	const scheme = "bearer "
	if r, ok := a.(Remembering); ok && len(header) > len(scheme) && strings.EqualFold(header[:len(scheme)], scheme) {
		if u, ok := r.Remembered(header[len(scheme):]); ok {
			return u, nil
		}
	}
	token, err := BearerToken(header)
	if err != nil {
		return nil, err
	}
	return a.Authenticate(ctx, token)
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
	if token == "" || hasSpace(token) {
		return "", Unauthenticated("the authorization header must be \"Bearer <token>\"")
	}
	return token, nil
}

// hasSpace reports white space in s as unicode.IsSpace sees it. A token
// is printable ASCII, so eight bytes at a time are checked for any byte
// below '!' or above 0x7f, and only such a word is looked at closely:
// decoding runes one by one cost more than the rest of a cached check.
func hasSpace(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// (w - 0x21 per byte) & ^w & 0x80 per byte: a byte below 0x21;
		// w & 0x80 per byte: a byte of 0x80 or more.
		if (w-0x21*ones)&^w&highs != 0 || w&highs != 0 {
			break
		}
	}
	return strings.IndexFunc(s[i:], unicode.IsSpace) >= 0
}
