package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/feastgo/feastgo/onlinestore"
)

// BenchmarkReadMissingTable reads one key of a view whose table does not
// exist (a view not materialized yet, read by every request that names
// it).
//
// Run: go test -run '^$' -bench ReadMissingTable ./onlinestore/sqlite
func BenchmarkReadMissingTable(b *testing.B) {
	s, err := New(Options{Path: filepath.Join(b.TempDir(), "online.db"), Project: "proj"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ks := keys(0, 1)
	for b.Loop() {
		reqs := []onlinestore.ReadRequest{{View: "never", Features: []string{"a"}, Keys: ks}}
		if err := s.Read(ctx, reqs); err != nil {
			b.Fatal(err)
		}
	}
}
