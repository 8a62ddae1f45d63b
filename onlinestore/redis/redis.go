// Package redis is the Redis online store, byte-compatible with Feast's
// RedisOnlineStore: one hash per (entity key, project), 4-byte murmur3
// field names per feature and a "_ts:<view>" timestamp field per view.
package redis

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// Options configure the store.
type Options struct {
	// Type is "redis", "redis_cluster" or "redis_sentinel".
	Type           string
	Addrs          []string
	SentinelMaster string
	Username       string
	Password       string
	DB             int
	TLS            *tls.Config
	Project        string
	// KeyTTL, when positive, is applied to every hash written.
	KeyTTL time.Duration
	// SkipDedup writes without reading stored timestamps first.
	SkipDedup bool
	// Timeout bounds every command, so a dead Redis gives an error, not a
	// hang.
	Timeout  time.Duration
	PoolSize int
}

// Store is the Redis online store.
type Store struct {
	c       goredis.UniversalClient
	project string
	keyTTL  time.Duration
	dedup   bool
}

var _ onlinestore.Store = (*Store)(nil)
var _ onlinestore.Writer = (*Store)(nil)

// New connects (lazily) to Redis.
func New(o Options) (*Store, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("redis: no address")
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 64
	}
	var c goredis.UniversalClient
	switch o.Type {
	case "", "redis":
		c = goredis.NewClient(&goredis.Options{Addr: o.Addrs[0], Username: o.Username, Password: o.Password,
			DB: o.DB, TLSConfig: o.TLS, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, DialTimeout: o.Timeout,
			PoolSize: o.PoolSize, MaxRetries: 1})
	case "redis_cluster":
		c = goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: o.Addrs, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLS, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, DialTimeout: o.Timeout,
			PoolSize: o.PoolSize, MaxRetries: 1})
	case "redis_sentinel":
		master := o.SentinelMaster
		if master == "" {
			master = "mymaster"
		}
		c = goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: master, SentinelAddrs: o.Addrs,
			Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS, ReadTimeout: o.Timeout,
			WriteTimeout: o.Timeout, DialTimeout: o.Timeout, PoolSize: o.PoolSize, MaxRetries: 1})
	default:
		return nil, fmt.Errorf("redis: unknown redis_type %q", o.Type)
	}
	return &Store{c: c, project: o.Project, keyTTL: o.KeyTTL, dedup: !o.SkipDedup}, nil
}

// Close closes the client.
func (s *Store) Close() error { return s.c.Close() }

// DedupsByEventTime reports whether Write skips rows not newer than the
// stored ones (Feast's default; off with skip_dedup).
func (s *Store) DedupsByEventTime() bool { return s.dedup }

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return core.Unavailable(err, "online store redis is unreachable")
	}
	return nil
}

// FieldName is the hash field of a feature: murmur3 x86_32 (seed 0) of
// "<view>:<feature>", little-endian.
func FieldName(view, feature string) string {
	h := murmur3x86_32(view + ":" + feature)
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], h)
	return string(b[:])
}

// redisKey is the entity key followed by the project name.
func (s *Store) redisKey(dst, key []byte) []byte {
	dst = append(dst, key...)
	return append(dst, s.project...)
}

// Read issues one HMGET per (view, entity) in a single pipeline.
func (s *Store) Read(ctx context.Context, reqs []onlinestore.ReadRequest) error {
	pipe := s.c.Pipeline()
	cmds := make([][]*goredis.SliceCmd, len(reqs))
	n := 0
	for i := range reqs {
		n += len(reqs[i].Keys)
	}
	keyBuf := make([]byte, 0, n*(64+len(s.project)))
	for i := range reqs {
		r := &reqs[i]
		fields := make([]string, len(r.Features)+1)
		for j, f := range r.Features {
			fields[j] = FieldName(r.View, f)
		}
		fields[len(r.Features)] = "_ts:" + r.View
		cmds[i] = make([]*goredis.SliceCmd, len(r.Keys))
		for j, k := range r.Keys {
			start := len(keyBuf)
			keyBuf = s.redisKey(keyBuf, k)
			cmds[i][j] = pipe.HMGet(ctx, unsafeString(keyBuf[start:]), fields...)
		}
	}
	if n == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return core.Unavailable(err, "online store redis read failed")
	}
	for i := range reqs {
		r := &reqs[i]
		r.Rows = make([]onlinestore.Row, len(r.Keys))
		vals := make([][]byte, len(r.Keys)*len(r.Features))
		for j, cmd := range cmds[i] {
			res, err := cmd.Result()
			if err != nil {
				return core.Unavailable(err, "online store redis read failed")
			}
			row := &r.Rows[j]
			row.Values = vals[j*len(r.Features) : (j+1)*len(r.Features) : (j+1)*len(r.Features)]
			for f := range r.Features {
				if str, ok := res[f].(string); ok {
					row.Values[f] = unsafeBytes(str)
					row.Found = true
				}
			}
			if ts, ok := res[len(r.Features)].(string); ok {
				row.Found = true
				t, err := parseTimestamp(unsafeBytes(ts))
				if err != nil {
					return fmt.Errorf("redis: bad _ts:%s value: %w", r.View, err)
				}
				row.TS = t
			}
			if row.Found {
				// Feast writes no field for a null feature, and reads an
				// absent field of an existing row as a null value.
				for f := range row.Values {
					if row.Values[f] == nil {
						row.Values[f] = emptyValue
					}
				}
			}
		}
	}
	return nil
}

// Write stores rows with Feast's dedup: a row not newer than the stored
// "_ts:<view>" (or an earlier row of the batch) is skipped.
func (s *Store) Write(ctx context.Context, b onlinestore.WriteBatch) error {
	if len(b.Rows) == 0 {
		return nil
	}
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

// emptyValue is a serialized feast.types.Value with nothing set: null.
var emptyValue = []byte{}

func later(a, b core.Timestamp) bool {
	return a.Seconds > b.Seconds || (a.Seconds == b.Seconds && a.Nanos > b.Nanos)
}

// parseTimestamp decodes a google.protobuf.Timestamp and rounds it to the
// microsecond, as Feast does by going through a Python datetime.
func parseTimestamp(b []byte) (core.Timestamp, error) {
	var t core.Timestamp
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.VarintType {
			return t, errors.New("malformed timestamp")
		}
		b = b[n:]
		v, m := protowire.ConsumeVarint(b)
		if m < 0 {
			return t, errors.New("malformed timestamp")
		}
		b = b[m:]
		switch num {
		case 1:
			t.Seconds = int64(v)
		case 2:
			t.Nanos = int32(v)
		}
	}
	if r := t.Nanos % 1000; r != 0 {
		t.Nanos -= r
		if r >= 500 {
			t.Nanos += 1000
		}
		if t.Nanos >= 1e9 {
			t.Seconds++
			t.Nanos -= 1e9
		}
	}
	return t, nil
}

// appendTimestamp encodes a google.protobuf.Timestamp.
func appendTimestamp(dst []byte, t core.Timestamp) []byte {
	if t.Seconds != 0 {
		dst = protowire.AppendTag(dst, 1, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(t.Seconds))
	}
	if t.Nanos != 0 {
		dst = protowire.AppendTag(dst, 2, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(t.Nanos))
	}
	return dst
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
