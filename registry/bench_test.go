package registry_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/registry"
)

// BenchmarkOpenLargeRegistry loads and compiles a registry file of 1,000
// feature views with 10 features each (issue 14's size, bench.Registry):
// one op is a full snapshot load (read, decode, compile), as the first
// load and every refresh that finds the file changed do.
//
// Run: go test -run '^$' -bench LargeRegistry ./registry/...
func BenchmarkOpenLargeRegistry(b *testing.B) {
	path := writeLarge(b, "")
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		r, err := registry.Open(ctx, &registry.FileSource{Path: path}, registry.Options{Project: "p"})
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := r.Current().View("fv_999"); !ok {
			b.Fatal("view fv_999 missing")
		}
	}
}

// BenchmarkRefreshLargeRegistry is one refresh of a loaded registry of
// 1,000 views whose file changes between refreshes (changed: a new
// snapshot compiled and swapped in) or does not (unchanged: the file is
// read and compared, and the snapshot in force, with its plan cache, is
// kept).
func BenchmarkRefreshLargeRegistry(b *testing.B) {
	ctx := context.Background()
	for _, changed := range []bool{true, false} {
		name := "unchanged"
		if changed {
			name = "changed"
		}
		b.Run(name, func(b *testing.B) {
			path := writeLarge(b, "")
			var src registry.Source = &registry.FileSource{Path: path}
			if changed {
				src = &flipSource{blobs: [2][]byte{mustRead(b, path), mustRead(b, writeLarge(b, "v2"))}}
			}
			r, err := registry.Open(ctx, src, registry.Options{Project: "p"})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if err := r.Refresh(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// flipSource answers its two blobs in turn, as a file rewritten between
// refreshes reads.
type flipSource struct {
	blobs [2][]byte
	n     int
}

func (f *flipSource) Fetch(context.Context) ([]byte, error) {
	f.n++
	return f.blobs[f.n%2], nil
}

func (f *flipSource) Location() string { return "flip" }

// writeLarge writes bench.Registry("p", 1000, 10) to a file; a non-empty
// tag goes into the first view's description, so two tags give two
// registries that differ in one field.
func writeLarge(tb testing.TB, tag string) string {
	tb.Helper()
	reg := bench.Registry("p", 1000, 10)
	reg.FeatureViews[0].Spec.Description = tag
	b, err := proto.Marshal(reg)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "registry.db")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
