package registry

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// FuzzCompile feeds arbitrary registry bytes through what a refresh does
// with a fetched file: decode, then compile for a project. Bad bytes must
// give an error, never a panic or a hang. The seeds are the demo repo's
// registry and the golden repos' registries.
func FuzzCompile(f *testing.F) {
	for _, p := range []string{
		"../feature_repo/data/registry.db",
		"../server/testdata/golden/sqlite/repo/data/registry.db",
	} {
		if b, err := os.ReadFile(filepath.FromSlash(p)); err == nil {
			f.Add(b, "pipeline_monitoring", false)
			f.Add(b, "pipeline_monitoring", true)
		}
	}
	f.Add([]byte{}, "p", false)
	f.Add([]byte{0x0a, 0x05, 0x12, 0x03, 0x66, 0x6f, 0x6f}, "foo", false)
	f.Fuzz(func(t *testing.T, b []byte, project string, versioning bool) {
		reg := &corepb.Registry{}
		if err := proto.Unmarshal(b, reg); err != nil {
			return
		}
		snap, err := Compile(reg, project, versioning)
		if err == nil && snap == nil {
			t.Fatal("Compile returned neither a snapshot nor an error")
		}
	})
}
