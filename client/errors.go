package client

import "fmt"

// Kind classifies an error as the server's transports do.
type Kind int

// Error kinds. Only KindUnavailable is retried.
const (
	// KindInternal: the server failed (HTTP 500, gRPC Internal/Unknown).
	KindInternal Kind = iota
	// KindInvalidArgument: the request is wrong (HTTP 400/422, gRPC
	// InvalidArgument), or the client refused to send it.
	KindInvalidArgument
	// KindNotFound: an unknown view, feature, service or source.
	KindNotFound
	// KindUnavailable: the server or its store cannot answer now (HTTP
	// 503, gRPC Unavailable, or no connection could be made).
	KindUnavailable
	// KindUnauthenticated: no valid token (HTTP 401, gRPC Unauthenticated).
	KindUnauthenticated
	// KindPermissionDenied: the token's user may not do this (HTTP 403,
	// gRPC PermissionDenied).
	KindPermissionDenied
	// KindTooLarge: a limit of the server was hit (HTTP 413/431, gRPC
	// ResourceExhausted).
	KindTooLarge
	// KindDeadline: the attempt's deadline passed (gRPC DeadlineExceeded,
	// HTTP 504).
	KindDeadline
)

var kindNames = [...]string{"internal", "invalid argument", "not found", "unavailable", "unauthenticated", "permission denied", "too large", "deadline exceeded"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is an error the server answered (or, for KindUnavailable, the
// connection failure that stood for one).
type Error struct {
	Kind Kind
	// StatusCode is the HTTP status, 0 over gRPC or before an answer.
	StatusCode int
	// Class is the Python exception class Feast's error body names
	// ("FeatureViewNotFoundException"), when it names one.
	Class   string
	Message string

	// mayHaveApplied marks a failure after the request was sent and
	// before an answer came: the server may have applied it.
	mayHaveApplied bool
}

func (e *Error) Error() string {
	s := "feature server: " + e.Kind.String()
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.Class != "" {
		s += ": " + e.Class
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}
