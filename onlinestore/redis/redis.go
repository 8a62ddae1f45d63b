// Package redis is the Redis online store, byte-compatible with Feast's
// RedisOnlineStore: one hash per (entity key, project), 4-byte murmur3
// field names per feature and a "_ts:<view>" timestamp field per view.
//
// Like every back end it imports only core, onlinestore and internal helpers
// (internal/layering checks it).
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

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
	ttlArg  string // EXPIRE's seconds argument, RESP-encoded ("" without a TTL)
	dedup   bool

	// fast serves reads and writes on standalone Redis (nil for cluster
	// and sentinel, served through go-redis).
	fast   *respPool
	fields cowMap[fieldKey, fieldEntry]
	shapes cowMap[uint64, *setShape]

	// probeSkip counts down the write batches that skip the EXISTS probe
	// after one found stored keys; tsReads counts the HMGETs of stored
	// event times sent (for tests).
	probeSkip atomic.Int32
	probeOff  atomic.Bool // EXISTS was refused: no more probes
	tsReads   atomic.Int64

	// What Track needs to open its own connection.
	typ, master        string
	addrs              []string
	username, password string
	tlsConf            *tls.Config
	timeout            time.Duration
}

var _ onlinestore.Store = (*Store)(nil)
var _ onlinestore.Writer = (*Store)(nil)
var _ onlinestore.Pinger = (*Store)(nil)

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
	master := o.SentinelMaster
	if master == "" {
		master = "mymaster"
	}
	var c goredis.UniversalClient
	switch o.Type {
	case "", "redis":
		c = goredis.NewClient(&goredis.Options{Addr: o.Addrs[0], Username: o.Username, Password: o.Password,
			DB: o.DB, TLSConfig: o.TLS, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, DialTimeout: o.Timeout,
			PoolSize: o.PoolSize, MaxRetries: 1})
	case "redis_cluster":
		// One dial per attempt: go-redis's default of 5 dials 100 ms
		// apart, for each of a pipeline's 4 attempts (3 redirects), made a
		// read of a master just lost answer 503 after 3.4 s
		// (internal/faults' TestRedisClusterLosesANode).
		c = goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: o.Addrs, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLS, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, DialTimeout: o.Timeout,
			PoolSize: o.PoolSize, MaxRetries: 1, DialerRetries: 1})
	case "redis_sentinel":
		c = goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: master, SentinelAddrs: o.Addrs,
			Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS, ReadTimeout: o.Timeout,
			WriteTimeout: o.Timeout, DialTimeout: o.Timeout, PoolSize: o.PoolSize, MaxRetries: 1})
	default:
		return nil, fmt.Errorf("redis: unknown redis_type %q", o.Type)
	}
	s := &Store{c: c, project: o.Project, keyTTL: o.KeyTTL, ttlArg: ttlArg(o.KeyTTL), dedup: !o.SkipDedup,
		typ: o.Type, master: master, addrs: o.Addrs, username: o.Username, password: o.Password, tlsConf: o.TLS, timeout: o.Timeout}
	if o.Type == "" || o.Type == "redis" {
		s.fast = newRespPool(o.Addrs[0], o.Username, o.Password, o.DB, o.TLS, o.Timeout, o.PoolSize)
	}
	return s, nil
}

// Close closes the client.
func (s *Store) Close() error {
	if s.fast != nil {
		s.fast.close()
	}
	return s.c.Close()
}

// DedupsByEventTime reports whether Write skips rows not newer than the
// stored ones (Feast's default; off with skip_dedup).
func (s *Store) DedupsByEventTime() bool { return s.dedup }

// Ping sends PING: to the server (standalone), to the master the
// sentinels name (sentinel), or to every master (cluster: a master down
// leaves the keys of its slots unreadable). It returns when ctx is done
// even if the server never answers: go-redis bounds a command by its read
// timeout, not by the context's deadline.
func (s *Store) Ping(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		if cc, ok := s.c.(*goredis.ClusterClient); ok {
			done <- cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
				return c.Ping(ctx).Err()
			})
			return
		}
		done <- s.c.Ping(ctx).Err()
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return core.Unavailable(err, "online store redis is unreachable")
	}
	return nil
}
