package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// File faults that make the store refuse writes (reads go on from the open
// file). Both are wrapped in a core.KindUnavailable error.
var (
	// ErrFileGone is a database file deleted, or replaced by another file,
	// after the store opened it: rows written now would go into a file that
	// no path names and be lost at restart. The store does not reopen the
	// path: the rows acknowledged so far live only in the open file, which
	// reads keep serving; a restart opens whatever the path names then.
	ErrFileGone = errors.New("the database file was deleted or replaced after the server opened it; writes are refused (restart the server to open the file now at that path)")
	// ErrReadOnly is a database file without write permission.
	ErrReadOnly = errors.New("the database file is read-only; writes are refused, reads are served")
)

// fileGuard knows the file the store's connections opened and tells
// whether the path still names it.
type fileGuard struct {
	path string
	// opened is the file as it was when the connections opened it. Its
	// inode stays allocated while they are open, so no other file can
	// take its identity.
	opened os.FileInfo
}

func newFileGuard(path string) (*fileGuard, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return &fileGuard{path: path, opened: fi}, nil
}

// check returns nil when writes may go to the file: the path names the file
// the store opened (same device and inode) and it has a write permission
// bit. Otherwise the error wraps ErrFileGone or ErrReadOnly and names the
// path. It only stats the path: opening and closing the file would drop the
// POSIX locks SQLite holds on it.
func (g *fileGuard) check() error {
	fi, err := os.Stat(g.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", g.path, ErrFileGone)
	case err != nil:
		return fmt.Errorf("%s: checking the database file: %w", g.path, err)
	case !os.SameFile(fi, g.opened):
		return fmt.Errorf("%s: %w", g.path, ErrFileGone)
	case fi.Mode().Perm()&0o222 == 0:
		return fmt.Errorf("%s: %w", g.path, ErrReadOnly)
	}
	return nil
}
