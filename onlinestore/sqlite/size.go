package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

var _ onlinestore.Sizer = (*Store)(nil)

// OnlineSize is the size of the database file and its write-ahead log (the
// rows written since the last checkpoint live there).
func (s *Store) OnlineSize(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	st, err := os.Stat(s.path)
	if err != nil {
		return 0, core.Unavailable(err, "online store sqlite: %s", s.path)
	}
	n := st.Size()
	if wal, err := os.Stat(s.path + "-wal"); err == nil {
		n += wal.Size()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, core.Unavailable(err, "online store sqlite: %s-wal", s.path)
	}
	return n, nil
}
