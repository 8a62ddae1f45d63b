// Package version holds the two versions this server states: the Feast
// release it is compatible with, and its own.
//
// It imports nothing.
package version

// Feast is the Feast release whose behaviour this server reproduces (the
// judge of the conformance suite). It is the only place in the code that
// states a Feast version.
const Feast = "0.67.0"

// Server is this server's own version; a release build sets it with
// -ldflags "-X github.com/feastgo/feastgo/version.Server=...".
var Server = "0.1.0"

// Header is the HTTP Server header: our product and the Feast release
// we are compatible with (RFC 9110 product tokens).
func Header() string { return "feature-server/" + Server + " feast/" + Feast }
