// Package testenv tells tests where the real services and the Feast
// virtualenv that scripts/go-test.sh prepares are. Test code only; it
// imports nothing of ours.
//
// Run alone (`go test ./...`), a test that needs a service is skipped. Under
// FEASTGO_INTEGRATION=1, which scripts/go-test.sh sets after starting every
// service, a missing one fails the test instead, so CI never skips silently.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Integration reports whether scripts/go-test.sh started the services.
func Integration() bool { return os.Getenv("FEASTGO_INTEGRATION") != "" }

// Service returns the address a FEASTGO_TEST_* variable holds, skipping
// the test when it is unset outside an integration run.
func Service(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if Integration() {
			t.Fatalf("%s is not set but FEASTGO_INTEGRATION is: scripts/go-test.sh should have started the service", name)
		}
		t.Skipf("%s not set (scripts/go-test.sh starts the service)", name)
	}
	return v
}

var (
	venvOnce sync.Once
	venvPath string
	venvErr  error
)

// FeastVenv returns the pinned Feast virtualenv scripts/feast-venv.sh
// creates (once per test binary). Outside an integration run the test is
// skipped; inside one a venv that cannot be made fails it.
func FeastVenv(t testing.TB) string {
	t.Helper()
	if !Integration() {
		t.Skip("needs Python Feast: set FEASTGO_INTEGRATION=1 (scripts/go-test.sh does)")
	}
	venvOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			venvErr = err
			return
		}
		out, err := exec.Command("bash", filepath.Join(root, "scripts", "feast-venv.sh")).Output()
		if err != nil {
			venvErr = fmt.Errorf("scripts/feast-venv.sh: %v", err)
			return
		}
		venvPath = strings.TrimSpace(string(out))
	})
	if venvErr != nil {
		t.Fatal(venvErr)
	}
	return venvPath
}

// moduleRoot is the nearest parent of the working directory (a test's
// package dir) holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago, for a
// server the test starts itself.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
