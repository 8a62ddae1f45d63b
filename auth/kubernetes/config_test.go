package kubernetes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// New refuses, naming the file, a CA or token that is missing or empty,
// and InCluster says it is not in a pod.
func TestNewRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token, notPEM, empty := write("token", "tok"), write("ca.txt", "not a certificate"), write("empty", "")
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"CA not PEM":    {Config{Host: "https://h", Namespace: "n", CAFile: notPEM, TokenFile: token}, "ca.txt holds no PEM certificate"},
		"CA missing":    {Config{Host: "https://h", Namespace: "n", CAFile: filepath.Join(dir, "nope"), TokenFile: token}, "the API server's CA"},
		"token empty":   {Config{Host: "https://h", Namespace: "n", TokenFile: empty}, "is empty"},
		"token missing": {Config{Host: "https://h", Namespace: "n", TokenFile: filepath.Join(dir, "nope")}, "service-account token"},
		"no host":       {Config{Namespace: "n", TokenFile: token}, "address is required"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one with %q", err, tc.want)
			}
		})
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := InCluster(); err == nil || !strings.Contains(err.Error(), "KUBERNETES_SERVICE_HOST") {
		t.Fatalf("InCluster outside a pod: %v", err)
	}
}
