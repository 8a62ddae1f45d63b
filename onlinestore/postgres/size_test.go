package postgres

import (
	"context"
	"testing"

	"github.com/feastgo/feastgo/onlinestore/storetest"
)

// TestOnlineSize: a project's size is its own tables' (rows, TOAST and
// indexes): it grows by about what was written to the project, and another
// project's writes leave it as it was.
func TestOnlineSize(t *testing.T) {
	a, b := newStore(t, false), newStore(t, false)
	ctx := context.Background()
	storetest.SizeRows(t, a, "sized", 10)
	before, err := a.OnlineSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	storetest.SizeRows(t, b, "sized", 1000) // about 2 MiB, into the other project
	if n, err := a.OnlineSize(ctx); err != nil || n != before {
		t.Errorf("after another project's write: %d, %v; want %d", n, err, before)
	}
	storetest.SizeRows(t, a, "sized_too", 1000)
	after, err := a.OnlineSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 3<<19 {
		t.Errorf("OnlineSize grew %d bytes for about 2 MiB written", after-before)
	}
	var want int64
	if err := a.pool.QueryRow(ctx, `SELECT SUM(pg_total_relation_size(quote_ident(tablename)))::bigint
FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE $1`, a.project+`\_%`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if after != want {
		t.Errorf("OnlineSize = %d, the project's tables hold %d", after, want)
	}
}
