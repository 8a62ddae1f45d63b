// Package testrepo gives tests a private copy of a committed feature repo.
//
// A test that serves a committed repo must not change it: opening its SQLite
// online store switches the file to WAL mode (a persistent header change), a
// write adds rows, and packages tested at once would share one file. Copy
// copies the repo into the test's temporary directory first.
//
// Test code only; it imports nothing of ours.
package testrepo

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Copy copies the directory tree at dir into a new temporary directory that
// is removed when the test ends, and returns the copy's path.
func Copy(tb testing.TB, dir string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), filepath.Base(dir))
	if err := CopyTree(dir, dst); err != nil {
		tb.Fatalf("copying repo %s: %v", dir, err)
	}
	return dst
}

// CopyTree copies the directory tree src to dst (created), keeping file modes.
// For a TestMain, which has no testing.TB.
func CopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		return copyFile(path, target, info.Mode().Perm())
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
