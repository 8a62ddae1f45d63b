package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary feature_store.yaml text to the parser: every
// input is a config or an error naming what is wrong, never a panic. The
// seeds are every good and bad file of testdata.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	env := func(k string) (string, bool) {
		if k == "SET" {
			return "value", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "/repo", env)
		if err == nil && cfg == nil {
			t.Fatal("Parse returned neither a config nor an error")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("an error without a message")
		}
	})
}
