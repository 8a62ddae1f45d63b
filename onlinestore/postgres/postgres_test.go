package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/onlinestore/storetest"
)

var seq atomic.Int64

// newStore gives each subtest its own project, hence its own tables, and
// drops them afterwards.
func newStore(t *testing.T, valueNum bool) *Store {
	dsn := testenv.Service(t, "FEASTGO_TEST_POSTGRES")
	project := fmt.Sprintf("st%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
	s, err := New(context.Background(), Options{DSN: dsn, Project: project, ValueNum: valueNum})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		rows, err := s.pool.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE $1", project+"\\_%")
		if err == nil {
			var names []string
			for rows.Next() {
				var n string
				if rows.Scan(&n) == nil {
					names = append(names, n)
				}
			}
			rows.Close()
			for _, n := range names {
				if _, err := s.pool.Exec(ctx, "DROP TABLE IF EXISTS "+quote(n)); err != nil {
					t.Errorf("drop %s: %v", n, err)
				}
			}
		}
		_ = s.Close()
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (onlinestore.Store, onlinestore.Writer) {
		s := newStore(t, false)
		return s, s
	})
}

func TestConformanceValueNum(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (onlinestore.Store, onlinestore.Writer) {
		s := newStore(t, true)
		return s, s
	})
}

// Ping fails within its context's deadline when nothing listens and when
// the server accepts but never answers.
func TestPingUnreachable(t *testing.T) {
	for name, addr := range map[string]string{"nothing listening": storetest.DeadAddr(t), "never answering": storetest.SilentAddr(t)} {
		s, err := New(context.Background(), Options{DSN: "postgres://feast:feast@" + addr + "/feast?sslmode=disable", Project: "p"})
		if err != nil {
			t.Fatal(err)
		}
		storetest.CheckPingFails(t, name, s)
		_ = s.Close()
	}
}
