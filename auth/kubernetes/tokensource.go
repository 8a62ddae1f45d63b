package kubernetes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/feastgo/feastgo/auth"
)

// TokenSource gives the bearer token of this server's own calls to a
// registry server when auth is kubernetes, in the order Feast's
// KubernetesAuthClientManager picks one: INTRA_COMMUNICATION_BASE64 (an
// unsigned JWT naming the servers' own user), the auth block's user_token,
// the pod's service-account token file, LOCAL_K8S_TOKEN.
type TokenSource struct {
	// UserToken is the auth block's user_token.
	UserToken string
	// Getenv and ReadFile default to the os functions (tests).
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
}

// Token is the token of the next call.
func (ts *TokenSource) Token(context.Context) (string, error) {
	getenv, readFile := ts.Getenv, ts.ReadFile
	if getenv == nil {
		getenv = os.Getenv
	}
	if readFile == nil {
		readFile = os.ReadFile
	}
	if v := getenv("INTRA_COMMUNICATION_BASE64"); v != "" {
		return auth.UnsignedToken(map[string]string{"sub": ":::" + v}), nil
	}
	if ts.UserToken != "" {
		return ts.UserToken, nil
	}
	dir := ServiceAccountDir
	if d := getenv(ServiceAccountDirEnv); d != "" {
		dir = d
	}
	if b, err := readFile(filepath.Join(dir, "token")); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), nil
	}
	if v := getenv("LOCAL_K8S_TOKEN"); v != "" {
		return v, nil
	}
	return "", errors.New("auth.type kubernetes: no token for the registry server: set auth.user_token, mount the pod's service-account token (" +
		filepath.Join(dir, "token") + "), or set LOCAL_K8S_TOKEN or INTRA_COMMUNICATION_BASE64")
}

// Invalidate does nothing: every call reads its source again.
func (ts *TokenSource) Invalidate() {}
