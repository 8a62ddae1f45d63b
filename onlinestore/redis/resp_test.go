package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/onlinestore/storetest"
)

// The read path on standalone Redis goes through respPool; these tests
// cover what the store conformance suite does not: connections dropped by
// the server, SELECT, AUTH, timeouts, error replies and the pool bound.

func fastStore(t *testing.T, o Options) *Store {
	t.Helper()
	if len(o.Addrs) == 0 {
		o.Addrs = []string{testenv.Service(t, "FEASTGO_TEST_REDIS")}
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
	c := goredis.NewClient(&goredis.Options{Addr: testenv.Service(t, "FEASTGO_TEST_REDIS")})
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

// goRedisReader is a store on the same Redis and project reading through
// go-redis HMGETs only: the reference for the RESP path.
func goRedisReader(t *testing.T, s *Store) *Store {
	t.Helper()
	ref, err := New(Options{Addrs: []string{testenv.Service(t, "FEASTGO_TEST_REDIS")}, Project: s.project})
	if err != nil {
		t.Fatal(err)
	}
	ref.fast.close()
	ref.fast = nil
	t.Cleanup(func() { _ = ref.Close() })
	return ref
}

func sameRows(t *testing.T, what string, got, want []onlinestore.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Found != w.Found || g.TS != w.TS || len(g.Values) != len(w.Values) {
			t.Fatalf("%s row %d: found=%v ts=%+v n=%d, want found=%v ts=%+v n=%d", what, i, g.Found, g.TS, len(g.Values), w.Found, w.TS, len(w.Values))
		}
		for f := range g.Values {
			if (g.Values[f] == nil) != (w.Values[f] == nil) || string(g.Values[f]) != string(w.Values[f]) {
				t.Fatalf("%s row %d feature %d: %x (nil %v), want %x (nil %v)", what, i, f, g.Values[f], g.Values[f] == nil, w.Values[f], w.Values[f] == nil)
			}
		}
	}
}

// Reading most fields of small hashes goes through HGETALL once the hash
// size is known; the answers must be exactly those of HMGET, for present,
// absent and null features, missing views and missing entities.
func TestRespHGETALLMatchesHMGET(t *testing.T) {
	s := fastStore(t, Options{})
	ref := goRedisReader(t, s)
	ctx := context.Background()
	r := rand.New(rand.NewSource(7))
	views := []string{"va", "vb", "vc", "vd"}
	features := []string{"f0", "f1", "f2", "f3", "f4", "f5"}
	for vi, v := range views {
		for id := int64(1); id <= 30; id++ {
			if r.Intn(5) == 0 {
				continue // no row of this view for this entity
			}
			// Some rows lack some features: Feast writes no field for them.
			var fs []string
			var vals [][]byte
			for fi, f := range features {
				switch r.Intn(6) {
				case 0:
					continue
				case 1:
					vals = append(vals, []byte{}) // a stored null
				default:
					vals = append(vals, core.AppendValueProto(nil, core.Int64Value(id*100+int64(vi*10+fi))))
				}
				fs = append(fs, f)
			}
			if id%3 == 0 { // another field order in the hash
				slices.Reverse(fs)
				slices.Reverse(vals)
			}
			err := s.Write(ctx, onlinestore.WriteBatch{View: v, Features: fs, Rows: []onlinestore.WriteRow{
				{Key: storetest.Key(id), TS: core.Timestamp{Seconds: 1000 + id, Nanos: int32(vi) * 1000}, Values: vals},
			}})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var keys [][]byte
	for id := int64(1); id <= 35; id++ { // 31..35 were never written
		keys = append(keys, storetest.Key(id))
	}
	mkReqs := func() []onlinestore.ReadRequest {
		var reqs []onlinestore.ReadRequest
		for _, v := range views {
			reqs = append(reqs, onlinestore.ReadRequest{View: v, Features: features, Keys: keys})
		}
		return reqs
	}
	want := mkReqs()
	if err := ref.Read(ctx, want); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ { // HMGET + HLEN, then HGETALL
		got := mkReqs()
		if err := s.Read(ctx, got); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			sameRows(t, fmt.Sprintf("round %d view %s", round, views[i]), got[i].Rows, want[i].Rows)
		}
		// One entity alone, as a 1-entity request reads it.
		one := []onlinestore.ReadRequest{}
		for _, v := range views {
			one = append(one, onlinestore.ReadRequest{View: v, Features: features, Keys: keys[:1]})
		}
		if err := s.Read(ctx, one); err != nil {
			t.Fatal(err)
		}
		for i := range one {
			sameRows(t, fmt.Sprintf("round %d one entity view %s", round, views[i]), one[i].Rows, want[i].Rows[:1])
		}
	}
	var shapes []*setShape
	for _, sh := range s.shapes.load() {
		shapes = append(shapes, sh)
	}
	if len(shapes) != 1 || shapes[0].hlen.Load() == 0 || 2*len(shapes[0].names) < int(shapes[0].hlen.Load()) {
		t.Fatalf("HGETALL not in use: %d shapes, hlen %d", len(shapes), shapes[0].hlen.Load())
	}
}

// A hash with many more fields than wanted stays on HMGET.
func TestRespLargeHashStaysOnHMGET(t *testing.T) {
	s := fastStore(t, Options{})
	ref := goRedisReader(t, s)
	ctx := context.Background()
	var all []string
	var vals [][]byte
	for i := 0; i < 60; i++ {
		all = append(all, fmt.Sprint("f", i))
		vals = append(vals, core.AppendValueProto(nil, core.Int64Value(int64(i))))
	}
	if err := s.Write(ctx, onlinestore.WriteBatch{View: "big", Features: all, Rows: []onlinestore.WriteRow{
		{Key: storetest.Key(1), TS: core.Timestamp{Seconds: 1000}, Values: vals},
	}}); err != nil {
		t.Fatal(err)
	}
	want := []onlinestore.ReadRequest{{View: "big", Features: all[10:30], Keys: [][]byte{storetest.Key(1), storetest.Key(2)}}}
	if err := ref.Read(ctx, want); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		got := []onlinestore.ReadRequest{{View: "big", Features: all[10:30], Keys: [][]byte{storetest.Key(1), storetest.Key(2)}}}
		if err := s.Read(ctx, got); err != nil {
			t.Fatal(err)
		}
		sameRows(t, fmt.Sprint("round ", round), got[0].Rows, want[0].Rows)
	}
	for _, sh := range s.shapes.load() {
		if n := sh.hlen.Load(); n != 61 {
			t.Fatalf("learned hlen %d, want 61", n)
		}
	}
}

// Values of every size around the read buffer's (16 KB): elements that
// straddle a refill, that fill it exactly and that exceed it, read by
// HMGET and HGETALL, must come back as go-redis reads them.
func TestRespValuesAroundReadBufferSize(t *testing.T) {
	s := fastStore(t, Options{})
	ref := goRedisReader(t, s)
	ctx := context.Background()
	features := []string{"a", "b", "c"}
	sizes := []int{0, 1, 100, readBufSize - 200, readBufSize - 3, readBufSize - 2, readBufSize - 1, readBufSize, readBufSize + 1, 3 * readBufSize, 100_000}
	var keys [][]byte
	for i, n := range sizes {
		vals := make([][]byte, len(features))
		for f := range features {
			str := make([]byte, n+f*7) // every field a different size
			for j := range str {
				str[j] = byte('a' + (i+j+f)%26)
			}
			vals[f] = core.AppendValueProto(nil, core.StringValue(string(str)))
		}
		key := storetest.Key(int64(i + 1))
		keys = append(keys, key)
		if err := s.Write(ctx, onlinestore.WriteBatch{View: "v", Features: features, Rows: []onlinestore.WriteRow{
			{Key: key, TS: core.Timestamp{Seconds: 1000 + int64(i)}, Values: vals},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	want := []onlinestore.ReadRequest{{View: "v", Features: features, Keys: keys}}
	if err := ref.Read(ctx, want); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ { // HMGET, then HGETALL once learnt
		got := []onlinestore.ReadRequest{{View: "v", Features: features, Keys: keys}}
		if err := s.Read(ctx, got); err != nil {
			t.Fatal(err)
		}
		sameRows(t, fmt.Sprintf("round %d", round), got[0].Rows, want[0].Rows)
		// Into caller memory: values then point into the reply buffer,
		// which starts small and must grow without moving what was
		// parsed; the same scratch is reused, dirty, by the next read.
		sc := &onlinestore.Scratch{Bytes: make([]byte, 0, 64)}
		for reuse := 0; reuse < 2; reuse++ {
			got := []onlinestore.ReadRequest{{View: "v", Features: features, Keys: keys}}
			if err := s.ReadScratch(ctx, got, sc); err != nil {
				t.Fatal(err)
			}
			sameRows(t, fmt.Sprintf("round %d scratch %d", round, reuse), got[0].Rows, want[0].Rows)
		}
		// One at a time too: each reply then starts at the buffer's start.
		for i := range keys {
			one := []onlinestore.ReadRequest{{View: "v", Features: features, Keys: keys[i : i+1]}}
			if err := s.Read(ctx, one); err != nil {
				t.Fatal(err)
			}
			sameRows(t, fmt.Sprintf("round %d key %d", round, i), one[0].Rows, want[0].Rows[i:i+1])
		}
	}
}

// pair takes a name/value pair only when the name is the one wanted and
// the whole pair is in the buffer; otherwise it leaves every byte for the
// general path.
func TestRespPairInPlace(t *testing.T) {
	const want = "$4\r\nabcd\r\n"
	long := strings.Repeat("x", 123)
	cases := []struct {
		in, val string
		ok      bool
	}{
		{want + "$5\r\nhello\r\n", "hello", true},
		{want + "$0\r\n\r\n", "", true},
		{want + "$123\r\n" + long + "\r\n", long, true},
		{"$4\r\nabce\r\n$5\r\nhello\r\n", "", false},    // another name
		{"$5\r\nabcde\r\n$5\r\nhello\r\n", "", false},   // another length
		{want + "$-1\r\n", "", false},                   // a null value
		{want + "*5\r\nhello\r\n", "", false},           // not a bulk string
		{want + "$5\r\nhelloXX", "", false},             // no CRLF after the value
		{want + "$5\rXhello\r\n", "", false},            // no CRLF after the length
		{want + "$\r\nhello\r\n", "", false},            // no length
		{want + "$99999999999\r\nhello\r\n", "", false}, // more than 10 digits
	}
	for _, tc := range cases {
		// Every prefix but the whole input is a pair not yet all read.
		for n := 0; n <= len(tc.in); n++ {
			c := &respConn{rb: []byte("junk" + tc.in[:n] + "more"), rs: 4, re: 4 + n}
			val, ok := c.pair(want)
			whole := n == len(tc.in) && tc.ok
			if ok != whole {
				t.Fatalf("%q[:%d]: ok %v, want %v", tc.in, n, ok, whole)
			}
			if !ok {
				if c.rs != 4 {
					t.Fatalf("%q[:%d]: consumed %d bytes of a refused pair", tc.in, n, c.rs-4)
				}
				continue
			}
			if string(val) != tc.val || c.rs != c.re || cap(val) != len(val) {
				t.Fatalf("%q: value %q (cap %d), rs %d re %d", tc.in, val, cap(val), c.rs, c.re)
			}
		}
	}
}
