package cache

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/onlinestore"
	redisstore "github.com/feastgo/feastgo/onlinestore/redis"
	sqlitestore "github.com/feastgo/feastgo/onlinestore/sqlite"
	"github.com/feastgo/feastgo/onlinestore/storetest"
)

var seq atomic.Int64

func project() string { return fmt.Sprintf("cachetest_%d_%d", time.Now().UnixNano(), seq.Add(1)) }

func newRedis(t *testing.T, typ, env, project string, db int) *redisstore.Store {
	t.Helper()
	addrs := strings.Split(testenv.Service(t, env), ",")
	s, err := redisstore.New(redisstore.Options{Type: typ, Addrs: addrs, Project: project, DB: db, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newSQLite(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.New(sqlitestore.Options{Path: path, Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wrap(t *testing.T, s onlinestore.Store, o Options) *Cache {
	t.Helper()
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	if o.TTL == 0 {
		o.TTL = time.Minute
	}
	c, err := New(s, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond until it holds; a condition that never holds fails
// the test after a generous bound (a hang guard, not a speed check).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func waitLive(t *testing.T, c *Cache) {
	t.Helper()
	waitFor(t, "the invalidation stream", func() bool { return c.Stats().Live })
}

func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func write(t *testing.T, w onlinestore.Writer, view string, key []byte, v string, sec int64) {
	t.Helper()
	err := w.Write(bg(t), onlinestore.WriteBatch{View: view, Features: []string{"f", "g"}, Rows: []onlinestore.WriteRow{{
		Key: key, TS: core.Timestamp{Seconds: sec}, Values: [][]byte{[]byte(v), []byte(v + "-g")}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// get reads feature f of key through s and returns its string, "" when
// not found.
func get(t *testing.T, s onlinestore.Store, view string, key []byte) string {
	t.Helper()
	return getFeatures(t, s, view, key, "f")[0]
}

func getFeatures(t *testing.T, s onlinestore.Store, view string, key []byte, features ...string) []string {
	t.Helper()
	reqs := []onlinestore.ReadRequest{{View: view, Features: features, Keys: [][]byte{key}}}
	if err := s.Read(bg(t), reqs); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(features))
	row := reqs[0].Rows[0]
	if !row.Found {
		return out
	}
	for i, raw := range row.Values {
		out[i] = string(raw) // the stores keep values as opaque bytes
	}
	return out
}

func TestConformanceSQLiteTTL(t *testing.T) {
	dir := t.TempDir()
	storetest.Run(t, func(t *testing.T) (onlinestore.Store, onlinestore.Writer) {
		c := wrap(t, newSQLite(t, filepath.Join(dir, project()+".db")), Options{})
		return c, c
	})
}

func TestConformanceRedisTracked(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (onlinestore.Store, onlinestore.Writer) {
		c := wrap(t, newRedis(t, "redis", "FEASTGO_TEST_REDIS", project(), 0), Options{Track: true})
		waitLive(t, c)
		return c, c
	})
}

func TestConformanceSentinelTracked(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (onlinestore.Store, onlinestore.Writer) {
		c := wrap(t, newRedis(t, "redis_sentinel", "FEASTGO_TEST_REDIS_SENTINEL", project(), 0), Options{Track: true})
		waitLive(t, c)
		return c, c
	})
}

func TestOptions(t *testing.T) {
	sq := newSQLite(t, filepath.Join(t.TempDir(), "o.db"))
	defer sq.Close()
	for name, o := range map[string]Options{
		"no bytes":             {TTL: time.Second},
		"no ttl":               {MaxBytes: 1 << 20},
		"tracking over sqlite": {MaxBytes: 1 << 20, TTL: time.Second, Track: true},
	} {
		if _, err := New(sq, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cl := newRedis(t, "redis_cluster", "FEASTGO_TEST_REDIS_CLUSTER", "p", 0)
	defer cl.Close()
	_, err := New(cl, Options{MaxBytes: 1 << 20, TTL: time.Second, Track: true})
	if err == nil || !strings.Contains(err.Error(), "redis_cluster") {
		t.Fatalf("tracking on a cluster: %v", err)
	}
	if c, err := New(cl, Options{MaxBytes: 1 << 20, TTL: time.Second}); err != nil {
		t.Fatalf("a TTL-only cache over a cluster: %v", err)
	} else {
		c.close()
	}
}

// close stops the cache without closing the store (for tests that close
// the store themselves).
func (c *Cache) close() {
	if c.stop != nil {
		c.stop()
		<-c.done
	}
}

// A write by another client (not through the cache) is never served after
// its invalidation arrived.
func TestForeignWriteInvalidates(t *testing.T) {
	for _, k := range []struct{ typ, env string }{{"redis", "FEASTGO_TEST_REDIS"}, {"redis_sentinel", "FEASTGO_TEST_REDIS_SENTINEL"}} {
		t.Run(k.typ, func(t *testing.T) {
			p := project()
			c := wrap(t, newRedis(t, k.typ, k.env, p, 0), Options{Track: true})
			other := newRedis(t, k.typ, k.env, p, 0)
			defer other.Close()
			waitLive(t, c)
			key := storetest.Key(1)
			write(t, other, "v", key, "one", 1)
			waitFor(t, "the first write's invalidation", func() bool { return c.Stats().Invalidations >= 2 }) // Up's drop + the write
			if got := get(t, c, "v", key); got != "one" {
				t.Fatalf("first read: %q", got)
			}
			if got := get(t, c, "v", key); got != "one" {
				t.Fatalf("second read: %q", got)
			}
			st := c.Stats()
			if st.Hits != 1 || st.Misses != 1 {
				t.Fatalf("after two reads: %d hits, %d misses", st.Hits, st.Misses)
			}
			before := st.Invalidations
			write(t, other, "v", key, "two", 2)
			waitFor(t, "the second write's invalidation", func() bool { return c.Stats().Invalidations > before })
			if got := get(t, c, "v", key); got != "two" {
				t.Fatalf("read after the other client's write and its invalidation: %q, want two", got)
			}
		})
	}
}

// Readers in a loop while another client rewrites the keys: once a marker
// written after a round is seen through the cache (invalidations arrive in
// order), no read may return an older round.
func TestConcurrentForeignWriters(t *testing.T) {
	p := project()
	c := wrap(t, newRedis(t, "redis", "FEASTGO_TEST_REDIS", p, 0), Options{Track: true})
	other := newRedis(t, "redis", "FEASTGO_TEST_REDIS", p, 0)
	defer other.Close()
	waitLive(t, c)
	const nkeys, rounds = 16, 50
	marker := storetest.Key(1000)
	var floor atomic.Int64 // every read starting now must see at least this round
	floor.Store(-1)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				min := floor.Load()
				reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"f"}, Keys: [][]byte{storetest.Key(int64(i % nkeys))}}}
				if err := c.Read(ctx, reqs); err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				got := int64(-1)
				if row := reqs[0].Rows[0]; row.Found {
					got, _ = strconv.ParseInt(string(row.Values[0]), 10, 64)
				}
				if got < min {
					errs <- fmt.Errorf("key %d: read round %d after round %d was confirmed invalidated", i%nkeys, got, min)
					return
				}
			}
		}()
	}
	if got := get(t, c, "m", marker); got != "" {
		t.Fatalf("marker before any write: %q", got)
	}
	for round := int64(0); round < rounds; round++ {
		for k := 0; k < nkeys; k++ {
			write(t, other, "v", storetest.Key(int64(k)), strconv.FormatInt(round, 10), round+1)
		}
		write(t, other, "m", marker, strconv.FormatInt(round, 10), round+1)
		want := strconv.FormatInt(round, 10)
		waitFor(t, "the marker", func() bool { return get(t, c, "m", marker) == want })
		floor.Store(round)
	}
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := c.Stats(); st.Hits == 0 {
		t.Fatalf("no read was served from memory: %+v", st)
	}
}

// FLUSHDB drops everything (Redis sends a null invalidation).
func TestFlushInvalidatesAll(t *testing.T) {
	p := project()
	c := wrap(t, newRedis(t, "redis", "FEASTGO_TEST_REDIS", p, 9), Options{Track: true})
	waitLive(t, c)
	key := storetest.Key(7)
	write(t, c, "v", key, "x", 1)
	waitFor(t, "the write's invalidation", func() bool { return c.Stats().Invalidations >= 3 }) // Up, ours, Redis's
	first := get(t, c, "v", key)                                                                // a miss, cached
	second := get(t, c, "v", key)                                                               // a hit
	if first != "x" || second != "x" || c.Stats().Hits != 1 {
		t.Fatalf("not cached: %q %q %+v", first, second, c.Stats())
	}
	rc := goredis.NewClient(&goredis.Options{Addr: testenv.Service(t, "FEASTGO_TEST_REDIS"), DB: 9})
	defer rc.Close()
	before := c.Stats().Invalidations
	if err := rc.FlushDB(bg(t)).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the flush", func() bool { return c.Stats().Invalidations > before })
	if got := get(t, c, "v", key); got != "" {
		t.Fatalf("after FLUSHDB: %q", got)
	}
}

// A key with key_ttl_seconds is not served past its expiry, even when
// Redis has not deleted it yet (so no invalidation came): Redis deletes an
// expired key on access or when its sampling finds it, which on a server
// of many volatile keys can take long. Active expiry is off on this
// test's own server, so only the cache's own bound can end the value.
func TestKeyExpiry(t *testing.T) {
	port := testenv.FreePort(t)
	redisProcess(t, port, "--enable-debug-command", "local")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	rc := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rc.Close()
	if err := rc.Do(bg(t), "DEBUG", "SET-ACTIVE-EXPIRE", "0").Err(); err != nil {
		t.Fatal(err)
	}
	s, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, Project: "p", KeyTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := wrap(t, s, Options{Track: true})
	waitLive(t, c)
	key := storetest.Key(3)
	write(t, c, "v", key, "x", 1)
	time.Sleep(50 * time.Millisecond) // the write's own invalidations
	if first, second := get(t, c, "v", key), get(t, c, "v", key); first != "x" || second != "x" {
		t.Fatal("not written")
	}
	if c.Stats().Hits == 0 {
		t.Fatal("the value was never served from memory: the test proves nothing")
	}
	waitFor(t, "the key's expiry", func() bool { return get(t, c, "v", key) == "" })
}

// redisProcess runs a redis-server of the test's own, so that it can be
// killed.
func redisProcess(t *testing.T, port int, extra ...string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testenv.Integration() {
			t.Fatal("redis-server not installed")
		}
		t.Skip("redis-server not installed")
	}
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir()}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, "redis-server to listen", func() bool {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return cmd
}

// A Redis outage drops the cache: reads fail (nothing is served from
// memory), and after Redis comes back empty, the old values are gone.
func TestOutageDropsCache(t *testing.T) {
	port := testenv.FreePort(t)
	proc := redisProcess(t, port)
	s, err := redisstore.New(redisstore.Options{Addrs: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Project: "p", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := wrap(t, s, Options{Track: true})
	waitLive(t, c)
	key := storetest.Key(1)
	write(t, c, "v", key, "x", 1)
	time.Sleep(50 * time.Millisecond)
	get(t, c, "v", key)
	if get(t, c, "v", key) != "x" || c.Stats().Hits == 0 {
		t.Fatalf("not cached: %+v", c.Stats())
	}
	_ = proc.Process.Kill()
	_ = proc.Wait()
	waitFor(t, "the stream to go down", func() bool { return !c.Stats().Live })
	if st := c.Stats(); st.Entities != 0 || st.Bytes != 0 {
		t.Fatalf("cache kept %d entities over the outage", st.Entities)
	}
	reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"f"}, Keys: [][]byte{key}}}
	if err := c.Read(bg(t), reqs); core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("read during the outage: %v, want unavailable", err)
	}
	redisProcess(t, port)
	waitLive(t, c)
	if got := get(t, c, "v", key); got != "" {
		t.Fatalf("after Redis came back empty: %q", got)
	}
}

// A server that accepts and never answers never makes the cache live, and
// Close does not hang on it.
func TestSilentTrackingServer(t *testing.T) {
	s, err := redisstore.New(redisstore.Options{Addrs: []string{storetest.SilentAddr(t)}, Project: "p", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(s, Options{MaxBytes: 1 << 20, TTL: time.Second, Track: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if c.Stats().Live {
		t.Fatal("live over a server that never answered")
	}
	closed := make(chan struct{})
	go func() { _ = c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs")
	}
}

// The held bytes stay within MaxBytes, the least recently used going
// first.
func TestBoundedBytes(t *testing.T) {
	sq := newSQLite(t, filepath.Join(t.TempDir(), "b.db"))
	const max = 256 * 2048
	c := wrap(t, sq, Options{MaxBytes: max})
	for i := 0; i < 5000; i++ {
		write(t, c, "v", storetest.Key(int64(i)), strings.Repeat("x", 200), 1)
	}
	for i := 0; i < 5000; i++ {
		get(t, c, "v", storetest.Key(int64(i)))
	}
	st := c.Stats()
	if st.Bytes > max || st.Evictions == 0 || st.Entities == 0 {
		t.Fatalf("%+v: want 0 < bytes <= %d and evictions", st, max)
	}
	// The most recent keys are the ones kept.
	before := c.Stats().Hits
	get(t, c, "v", storetest.Key(4999))
	get(t, c, "v", storetest.Key(0))
	if h := c.Stats().Hits - before; h != 1 {
		t.Fatalf("%d hits reading the newest and the oldest key, want 1 (the newest)", h)
	}
}

// Without tracking, another process's write is served stale for at most
// the TTL (a fake clock moves it).
func TestTTL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttl.db")
	a, b := newSQLite(t, path), newSQLite(t, path)
	defer b.Close()
	c := wrap(t, a, Options{TTL: time.Second})
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	c.now = now.Load
	key := storetest.Key(1)
	write(t, b, "v", key, "one", 1)
	if get(t, c, "v", key) != "one" {
		t.Fatal("not read")
	}
	write(t, b, "v", key, "two", 2)
	if got := get(t, c, "v", key); got != "one" {
		t.Fatalf("within the TTL: %q, want the cached one", got)
	}
	now.Add(int64(time.Second))
	if got := get(t, c, "v", key); got != "two" {
		t.Fatalf("after the TTL: %q, want two", got)
	}
	// A write through the cache is seen at once.
	write(t, c, "v", key, "three", 3)
	if got := get(t, c, "v", key); got != "three" {
		t.Fatalf("after our own write: %q", got)
	}
}

// Different feature lists of one view are cached apart, and a write drops
// them all.
func TestFeatureSubsets(t *testing.T) {
	c := wrap(t, newSQLite(t, filepath.Join(t.TempDir(), "s.db")), Options{})
	key := storetest.Key(1)
	write(t, c, "v", key, "a", 1)
	for range 2 {
		if got := getFeatures(t, c, "v", key, "f"); got[0] != "a" {
			t.Fatalf("f: %q", got)
		}
		if got := getFeatures(t, c, "v", key, "g", "f"); got[0] != "a-g" || got[1] != "a" {
			t.Fatalf("g, f: %q", got)
		}
		if got := getFeatures(t, c, "v", key, "nope"); got[0] != "" {
			t.Fatalf("a missing feature: %q", got)
		}
	}
	if st := c.Stats(); st.Hits != 3 || st.Misses != 3 {
		t.Fatalf("%+v: want 3 hits and 3 misses", st)
	}
	write(t, c, "v", key, "b", 2)
	if got := getFeatures(t, c, "v", key, "g", "f"); got[0] != "b-g" || got[1] != "b" {
		t.Fatalf("after a write: %q", got)
	}
}

// A read the store fails is not cached, and nothing is half-filled.
func TestStoreErrorNotCached(t *testing.T) {
	s, err := redisstore.New(redisstore.Options{Addrs: []string{storetest.DeadAddr(t)}, Project: "p", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := wrap(t, s, Options{})
	reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"f"}, Keys: [][]byte{storetest.Key(1)}}}
	if err := c.Read(bg(t), reqs); err == nil {
		t.Fatal("read from a dead store succeeded")
	}
	if reqs[0].Rows != nil || c.Stats().Entities != 0 {
		t.Fatalf("rows %v, %d entities after a failed read", reqs[0].Rows, c.Stats().Entities)
	}
}
