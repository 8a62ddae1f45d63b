package redis

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// Write stores rows with Feast's dedup: a row not newer than the stored
// "_ts:<view>" (or an earlier row of the batch) is skipped.
func (s *Store) Write(ctx context.Context, b onlinestore.WriteBatch) error {
	if len(b.Rows) == 0 {
		return nil
	}
	if s.fast != nil {
		return s.writeFast(ctx, b)
	}
	return s.writeGoRedis(ctx, b)
}

// writeGoRedis is Write through go-redis (Redis Cluster and Sentinel).
func (s *Store) writeGoRedis(ctx context.Context, b onlinestore.WriteBatch) error {
	tsField := "_ts:" + b.View
	keys := make([]string, len(b.Rows))
	for i, r := range b.Rows {
		keys[i] = string(s.redisKey(nil, r.Key))
	}
	latest := map[string]core.Timestamp{}
	if s.dedup {
		pipe := s.c.Pipeline()
		cmds := make([]*goredis.SliceCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.HMGet(ctx, k, tsField)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
			return core.Unavailable(err, "online store redis write failed")
		}
		for i, cmd := range cmds {
			res, err := cmd.Result()
			if err != nil {
				return core.Unavailable(err, "online store redis write failed")
			}
			if str, ok := res[0].(string); ok {
				t, err := parseTimestamp([]byte(str))
				if err == nil {
					if prev, ok := latest[keys[i]]; !ok || later(t, prev) {
						latest[keys[i]] = t
					}
				}
			}
		}
	}
	fields := make([]string, len(b.Features))
	for j, f := range b.Features {
		fields[j] = FieldName(b.View, f)
	}
	pipe := s.c.Pipeline()
	for i, r := range b.Rows {
		if s.dedup {
			if prev, ok := latest[keys[i]]; ok && !later(r.TS, prev) {
				continue
			}
			latest[keys[i]] = r.TS
		}
		args := make([]any, 0, 2+2*len(fields))
		args = append(args, tsField, appendTimestamp(nil, r.TS))
		for j, f := range fields {
			args = append(args, f, r.Values[j])
		}
		pipe.HSet(ctx, keys[i], args...)
		if s.keyTTL > 0 {
			pipe.Expire(ctx, keys[i], s.keyTTL)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return core.Unavailable(err, "online store redis write failed")
	}
	return nil
}
