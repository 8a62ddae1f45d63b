package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/onlinestore/storetest"
)

// The read path on standalone Redis goes through respPool; these tests
// cover what the store conformance suite does not: connections dropped by
// the server, SELECT, AUTH, timeouts, error replies and the pool bound.

func fastStore(t *testing.T, o Options) *Store {
	t.Helper()
	if len(o.Addrs) == 0 {
		o.Addrs = []string{storetest.Env(t, "FEASTGO_TEST_REDIS")}
	}
	if o.Project == "" {
		o.Project = fmt.Sprintf("resptest_%d_%d", time.Now().UnixNano(), seq.Add(1))
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if s.fast == nil {
		t.Fatal("standalone store without the RESP read path")
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func admin(t *testing.T) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: storetest.Env(t, "FEASTGO_TEST_REDIS")})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func writeOne(t *testing.T, s *Store, id int64, v int64) {
	t.Helper()
	err := s.Write(context.Background(), onlinestore.WriteBatch{View: "v", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
		{Key: storetest.Key(id), TS: core.Timestamp{Seconds: 1000}, Values: [][]byte{core.AppendValueProto(nil, core.Int64Value(v))}},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func readOne(s *Store, id int64) (onlinestore.Row, error) {
	reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"a"}, Keys: [][]byte{storetest.Key(id)}}}
	if err := s.Read(context.Background(), reqs); err != nil {
		return onlinestore.Row{}, err
	}
	return reqs[0].Rows[0], nil
}

func mustFind(t *testing.T, s *Store, id, v int64) {
	t.Helper()
	row, err := readOne(s, id)
	if err != nil {
		t.Fatal(err)
	}
	want := core.AppendValueProto(nil, core.Int64Value(v))
	if !row.Found || string(row.Values[0]) != string(want) {
		t.Fatalf("key %d: found=%v value %x, want %x", id, row.Found, row.Values, want)
	}
}

func TestRespRetriesConnectionClosedByServer(t *testing.T) {
	s := fastStore(t, Options{})
	writeOne(t, s, 1, 7)
	mustFind(t, s, 1, 7) // leaves a pooled connection
	s.fast.mu.Lock()
	if len(s.fast.idle) != 1 {
		s.fast.mu.Unlock()
		t.Fatalf("%d idle connections, want 1", len(s.fast.idle))
	}
	addr := s.fast.idle[0].nc.LocalAddr().String()
	s.fast.mu.Unlock()
	if err := admin(t).ClientKillByFilter(context.Background(), "ADDR", addr).Err(); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, 1, 7) // the dead pooled connection is replaced
}

func TestRespSelectsDB(t *testing.T) {
	project := fmt.Sprintf("resptest_db_%d", time.Now().UnixNano())
	s5 := fastStore(t, Options{DB: 5, Project: project})
	s0 := fastStore(t, Options{Project: project})
	writeOne(t, s5, 1, 42) // written by go-redis into db 5
	mustFind(t, s5, 1, 42) // read by respPool after SELECT 5
	if row, err := readOne(s0, 1); err != nil || row.Found {
		t.Fatalf("db 0: found=%v err=%v, want nothing", row.Found, err)
	}
}

func TestRespAuthenticates(t *testing.T) {
	a := admin(t)
	ctx := context.Background()
	user := fmt.Sprintf("resptest_%d", time.Now().UnixNano())
	if err := a.Do(ctx, "ACL", "SETUSER", user, "on", ">s3cret", "~*", "+@all").Err(); err != nil {
		t.Skipf("ACL not supported: %v", err)
	}
	t.Cleanup(func() { a.Do(ctx, "ACL", "DELUSER", user) })
	s := fastStore(t, Options{Username: user, Password: "s3cret"})
	writeOne(t, s, 1, 3)
	mustFind(t, s, 1, 3)

	bad := fastStore(t, Options{Username: user, Password: "wrong", Project: s.project})
	_, err := readOne(bad, 1)
	if err == nil || core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("wrong password: %v, want an unavailable error", err)
	}
}

func TestRespTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept() // accept, never answer
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	s := fastStore(t, Options{Addrs: []string{l.Addr().String()}, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err = readOne(s, 1)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %v with a 200ms timeout", took)
	}
	var ne net.Error
	if core.KindOf(err) != core.KindUnavailable || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want an unavailable timeout error", err)
	}
}

func TestRespErrorReplyKeepsConnectionInSync(t *testing.T) {
	s := fastStore(t, Options{})
	writeOne(t, s, 2, 9)
	// A string where a hash should be: HMGET answers WRONGTYPE.
	if err := admin(t).Set(context.Background(), string(storetest.Key(1))+s.project, "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"a"}, Keys: [][]byte{storetest.Key(2), storetest.Key(1)}}}
	err := s.Read(context.Background(), reqs)
	if err == nil || core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("got %v, want an unavailable error", err)
	}
	for i := 0; i < 3; i++ {
		mustFind(t, s, 2, 9) // same pooled connection, still in step
	}
}

func TestRespPoolBound(t *testing.T) {
	s := fastStore(t, Options{PoolSize: 2})
	writeOne(t, s, 1, 5)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				row, err := readOne(s, 1)
				if err == nil && !row.Found {
					err = errors.New("not found")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s.fast.mu.Lock()
	defer s.fast.mu.Unlock()
	if len(s.fast.idle) > 2 {
		t.Fatalf("%d idle connections with PoolSize 2", len(s.fast.idle))
	}
}
