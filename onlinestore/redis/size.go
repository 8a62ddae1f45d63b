package redis

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

var _ onlinestore.Sizer = (*Store)(nil)

// OnlineSize is INFO memory's used_memory, summed over a cluster's
// masters: Redis cannot tell one project's share of its memory, so this is
// the whole server's (the figure its maxmemory policy acts on).
func (s *Store) OnlineSize(ctx context.Context) (int64, error) {
	var total atomic.Int64
	one := func(ctx context.Context, c goredis.UniversalClient) error {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return err
		}
		n, err := usedMemory(info)
		total.Add(n)
		return err
	}
	var err error
	if cc, ok := s.c.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error { return one(ctx, c) })
	} else {
		err = one(ctx, s.c)
	}
	if err != nil {
		return 0, core.Unavailable(err, "online store redis: reading INFO memory")
	}
	return total.Load(), nil
}

// usedMemory reads used_memory from an INFO answer.
func usedMemory(info string) (int64, error) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, core.Errorf(core.KindInternal, "FeastError", "INFO memory has no used_memory")
}
