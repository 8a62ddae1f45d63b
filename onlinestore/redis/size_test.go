package redis

import (
	"context"
	"strings"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/onlinestore/storetest"
)

// TestOnlineSize: Redis cannot tell a project's share, so the size is the
// server's used_memory (INFO memory), summed over a cluster's masters:
// compared here with the same figure read directly, which moves a little
// between the two reads while other tests use the server.
func TestOnlineSize(t *testing.T) {
	for _, c := range []struct{ typ, env string }{{"redis", "FEASTGO_TEST_REDIS"}, {"redis_cluster", "FEASTGO_TEST_REDIS_CLUSTER"}} {
		t.Run(c.typ, func(t *testing.T) {
			s, _ := factory(c.typ, c.env, false)(t)
			st := s.(*Store)
			storetest.SizeRows(t, st, "sized", 1000)
			ctx := context.Background()
			got, err := st.OnlineSize(ctx)
			if err != nil {
				t.Fatal(err)
			}
			addrs := strings.Split(testenv.Service(t, c.env), ",")
			var want int64
			masters := 0
			add := func(ctx context.Context, cl *goredis.Client) error {
				info, err := cl.Info(ctx, "memory").Result()
				if err != nil {
					return err
				}
				n, err := usedMemory(info)
				want += n
				masters++
				return err
			}
			if c.typ == "redis_cluster" {
				cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
				defer cc.Close()
				var mu sync.Mutex
				if err := cc.ForEachMaster(ctx, func(ctx context.Context, cl *goredis.Client) error {
					mu.Lock() // ForEachMaster calls at once
					defer mu.Unlock()
					return add(ctx, cl)
				}); err != nil {
					t.Fatal(err)
				}
			} else {
				cl := goredis.NewClient(&goredis.Options{Addr: addrs[0]})
				defer cl.Close()
				if err := add(ctx, cl); err != nil {
					t.Fatal(err)
				}
			}
			if masters == 0 || got < want*8/10 || got > want*12/10 {
				t.Errorf("OnlineSize = %d, used_memory over %d masters = %d", got, masters, want)
			}
			if c.typ == "redis_cluster" && masters < 2 {
				t.Errorf("the test cluster has %d masters; the sum is not exercised", masters)
			}
		})
	}
}
