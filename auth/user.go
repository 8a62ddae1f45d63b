// Package auth holds who a request comes from, as Feast's permission model
// sees a user: a name, roles, groups and namespaces taken from a verified
// token (OIDC or Kubernetes). The token verifiers live in subpackages; the
// permission decisions in package permissions.
package auth

import "context"

// User is a request's authenticated identity (Feast's permissions.user.User).
type User struct {
	Name       string
	Roles      []string
	Groups     []string
	Namespaces []string
}

type userKey struct{}

// NewContext returns ctx carrying u.
func NewContext(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// FromContext returns the user ctx carries, or nil when the request was not
// authenticated (auth type no_auth).
func FromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
