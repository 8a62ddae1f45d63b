package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/feastgo/feastgo/onlinestore/storetest"
)

// TestOnlineSize: the size is the database file plus its write-ahead log,
// as they are on disk, and grows by about what was written.
func TestOnlineSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "online.db")
	s, err := Open(path, "proj")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	before, err := s.OnlineSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	storetest.SizeRows(t, s, "sized", 1000) // about 2 MiB
	after, err := s.OnlineSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk int64
	for _, p := range []string{path, path + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			onDisk += st.Size()
		}
	}
	if after != onDisk {
		t.Errorf("OnlineSize = %d, the files hold %d", after, onDisk)
	}
	if after-before < 3<<19 {
		t.Errorf("OnlineSize grew %d bytes for about 2 MiB written", after-before)
	}
	_ = s.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	os.Remove(path + "-wal")
	if _, err := s.OnlineSize(ctx); err == nil {
		t.Error("OnlineSize of a removed database succeeded")
	}
}
