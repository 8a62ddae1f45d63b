package postgres

import (
	"context"

	"github.com/feastgo/feastgo/onlinestore"
)

var _ onlinestore.Sizer = (*Store)(nil)

// OnlineSize sums pg_total_relation_size (rows, TOAST and indexes) over
// the project's tables ("<project>_<view>") visible on the search path.
func (s *Store) OnlineSize(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint
FROM pg_class c WHERE c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)
AND left(c.relname, length($1)) = $1`, s.project+"_").Scan(&n)
	if err != nil {
		return 0, unavailable(err, "online store postgres: reading table sizes")
	}
	return n, nil
}
