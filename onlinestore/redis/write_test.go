package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/onlinestore/storetest"
)

// goRedisWriter is a store on the same Redis whose writes go through
// go-redis: the reference the RESP write path must match byte for byte.
func goRedisWriter(t *testing.T, o Options) *Store {
	t.Helper()
	ref := fastStore(t, o)
	ref.fast.close()
	ref.fast = nil
	return ref
}

// dump returns every hash of a project (keys without the project suffix)
// with its fields and, per key, its TTL rounded to the second.
func dump(t *testing.T, project string) (map[string]map[string]string, map[string]time.Duration) {
	t.Helper()
	ctx := context.Background()
	c := admin(t)
	keys, err := c.Keys(ctx, "*"+project).Result()
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[string]map[string]string{}
	ttls := map[string]time.Duration{}
	pipe := c.Pipeline()
	hs := make([]*goredis.MapStringStringCmd, len(keys))
	ts := make([]*goredis.DurationCmd, len(keys))
	for i, k := range keys {
		hs[i], ts[i] = pipe.HGetAll(ctx, k), pipe.TTL(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		short := strings.TrimSuffix(k, project)
		hashes[short] = hs[i].Val()
		ttls[short] = ts[i].Val()
	}
	return hashes, ttls
}

func testBatches() []onlinestore.WriteBatch {
	val := func(v core.Value) []byte { return core.AppendValueProto(nil, v) }
	row := func(id, sec int64, nanos int32, vals ...[]byte) onlinestore.WriteRow {
		return onlinestore.WriteRow{Key: storetest.Key(id), TS: core.Timestamp{Seconds: sec, Nanos: nanos}, Values: vals}
	}
	feats := []string{"a", "b", "c"}
	var big []onlinestore.WriteRow
	for i := int64(0); i < 9000; i++ { // more replies than deadlineEvery
		big = append(big, row(100+i, 500+i, 0, val(core.Int64Value(i)), val(core.StringValue(fmt.Sprint("s", i))), nil))
	}
	// Keys repeated all over one batch, with event times up and down.
	var repeats []onlinestore.WriteRow
	for i := int64(0); i < 3000; i++ {
		repeats = append(repeats, row(100+i%97, 400+(i*7919)%1000, 0, val(core.Int64Value(i)), nil, nil))
	}
	return []onlinestore.WriteBatch{
		{View: "v", Features: feats, Rows: []onlinestore.WriteRow{
			row(1, 1000, 0, val(core.Int64Value(1)), val(core.StringValue("x")), []byte{}),
			row(2, 1000, 123456000, val(core.DoubleValue(2.5)), nil, val(core.BoolValue(true))),
			// Same key twice in a batch: the later, newer row wins; then an
			// older one is skipped.
			row(3, 1000, 0, val(core.Int64Value(3)), val(core.StringValue("old")), nil),
			row(3, 2000, 0, val(core.Int64Value(33)), val(core.StringValue("new")), nil),
			row(3, 1500, 0, val(core.Int64Value(333)), val(core.StringValue("older")), nil),
			row(4, 0, 0, val(core.Int64Value(4)), nil, nil), // epoch: empty timestamp bytes
		}},
		// Older than stored: skipped; same time: skipped; newer: written.
		{View: "v", Features: feats, Rows: []onlinestore.WriteRow{
			row(1, 999, 0, val(core.Int64Value(-1)), nil, nil),
			row(2, 1000, 123456000, val(core.Int64Value(-2)), nil, nil),
			row(4, 1, 0, val(core.Int64Value(44)), nil, nil),
		}},
		// Another view of the same entities shares their hashes.
		{View: "w", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
			row(1, 5, 0, val(core.Value{Type: core.Float, F: 1.5})),
			row(9, 5, 0, val(core.Value{Type: core.Float, F: 9.5})),
		}},
		{View: "v", Features: feats, Rows: repeats},
		{View: "v", Features: feats, Rows: big},
	}
}

// The RESP write path stores exactly what the go-redis path stores: the
// same hashes, fields, values and TTLs, with and without dedup.
func TestRespWriteMatchesGoRedis(t *testing.T) {
	for _, skip := range []bool{false, true} {
		for _, ttl := range []time.Duration{0, time.Hour, 90*time.Minute + 700*time.Millisecond} {
			t.Run(fmt.Sprintf("skipDedup=%v/ttl=%v", skip, ttl), func(t *testing.T) {
				fast := fastStore(t, Options{SkipDedup: skip, KeyTTL: ttl})
				ref := goRedisWriter(t, Options{SkipDedup: skip, KeyTTL: ttl})
				for _, b := range testBatches() {
					if err := fast.Write(context.Background(), b); err != nil {
						t.Fatal(err)
					}
					if err := ref.Write(context.Background(), b); err != nil {
						t.Fatal(err)
					}
				}
				got, gotTTL := dump(t, fast.project)
				want, wantTTL := dump(t, ref.project)
				if len(got) != len(want) || len(got) < 9000 {
					t.Fatalf("%d hashes, want %d", len(got), len(want))
				}
				for k, w := range want {
					g := got[k]
					if fmt.Sprint(g) != fmt.Sprint(w) {
						t.Fatalf("key %x: %q, want %q", k, g, w)
					}
					// The two writes ran at different times (seconds apart on a
					// loaded machine): the TTLs agree within a minute, and
					// neither exceeds the configured one.
					if d := gotTTL[k] - wantTTL[k]; d < -time.Minute || d > time.Minute || gotTTL[k] > ttl.Round(time.Second) {
						t.Fatalf("key %x: ttl %v, want %v (configured %v)", k, gotTTL[k], wantTTL[k], ttl)
					}
				}
			})
		}
	}
}

// An error reply (a key holding a string) fails the batch with an
// unavailable error and leaves the pooled connection usable.
func TestRespWriteErrorReplyKeepsConnectionInSync(t *testing.T) {
	for _, skip := range []bool{false, true} {
		s := fastStore(t, Options{SkipDedup: skip})
		if err := admin(t).Set(context.Background(), string(storetest.Key(1))+s.project, "x", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		err := s.Write(context.Background(), onlinestore.WriteBatch{View: "v", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
			{Key: storetest.Key(2), TS: core.Timestamp{Seconds: 1}, Values: [][]byte{core.AppendValueProto(nil, core.Int64Value(2))}},
			{Key: storetest.Key(1), TS: core.Timestamp{Seconds: 1}, Values: [][]byte{core.AppendValueProto(nil, core.Int64Value(1))}},
		}})
		var re *errRedisReply
		if err == nil || core.KindOf(err) != core.KindUnavailable || !errors.As(err, &re) {
			t.Fatalf("skipDedup=%v: got %v, want an unavailable error reply", skip, err)
		}
		for i := int64(0); i < 3; i++ {
			writeOne(t, s, 10+i, i)
			mustFind(t, s, 10+i, i)
		}
	}
}

func TestRespWriteRowWidth(t *testing.T) {
	s := fastStore(t, Options{})
	err := s.Write(context.Background(), onlinestore.WriteBatch{View: "v", Features: []string{"a", "b"}, Rows: []onlinestore.WriteRow{
		{Key: storetest.Key(1), Values: [][]byte{{}}},
	}})
	if core.KindOf(err) != core.KindInvalidArgument {
		t.Fatalf("got %v, want an invalid-argument error", err)
	}
}

// A batch of rows costs a constant number of allocations, not some per row.
func TestRespWriteAllocations(t *testing.T) {
	s := fastStore(t, Options{KeyTTL: time.Hour})
	b := testBatches()[4]
	ctx := context.Background()
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	for i := range b.Rows {
		b.Rows[i].TS.Seconds += 1e6 // newer: every row is written again
	}
	allocs := testing.AllocsPerRun(3, func() {
		for i := range b.Rows {
			b.Rows[i].TS.Seconds++
		}
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.0f allocations for %d rows", allocs, len(b.Rows))
	// Steady state is 0-15; under -race sync.Pool drops a share of what is
	// put back, which costs some 30 now and then. One allocation per row
	// would be 9,000.
	if allocs > 100 {
		t.Fatalf("%.0f allocations for %d rows", allocs, len(b.Rows))
	}
}

// Dedup reads are skipped while an EXISTS probe finds none of a batch's
// keys, and made (with rows older than the stored ones skipped) once it
// finds some; after such a batch the probe rests for probeBackoff batches.
func TestRespWriteExistsProbe(t *testing.T) {
	ctx := context.Background()
	s := fastStore(t, Options{})
	val := func(i int64) [][]byte { return [][]byte{core.AppendValueProto(nil, core.Int64Value(i))} }
	batch := func(from, n, sec int64) onlinestore.WriteBatch {
		b := onlinestore.WriteBatch{View: "v", Features: []string{"a"}}
		for i := from; i < from+n; i++ {
			b.Rows = append(b.Rows, onlinestore.WriteRow{Key: storetest.Key(i), TS: core.Timestamp{Seconds: sec}, Values: val(i * sec)})
		}
		return b
	}
	write := func(b onlinestore.WriteBatch) {
		t.Helper()
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// Over existsPerCommand keys: two EXISTS commands, both answering 0.
	write(batch(0, 1500, 100))
	if n := s.tsReads.Load(); n != 0 {
		t.Fatalf("%d dedup reads on new keys, want 0", n)
	}
	// One stored key among new ones (the last, in the second EXISTS):
	// every row is read, and the stored row, newer, is kept.
	b := batch(1500, 1500, 50)
	b.Rows[len(b.Rows)-1] = batch(0, 1, 50).Rows[0]
	write(b)
	if n := s.tsReads.Load(); n != 1500 {
		t.Fatalf("%d dedup reads, want 1500", n)
	}
	want := core.AppendValueProto(nil, core.Int64Value(0))
	got, err := admin(t).HGet(ctx, string(storetest.Key(0))+s.project, FieldName("v", "a")).Bytes()
	if err != nil || string(got) != string(want) {
		t.Fatalf("stored value %x (%v), want the newer %x", got, err, want)
	}
	// The next probeBackoff batches read without probing, then probing
	// resumes and new keys are written without reads again.
	for i := int64(0); i < probeBackoff; i++ {
		write(batch(10_000+10*i, 10, 100))
	}
	if n := s.tsReads.Load(); n != 1500+10*probeBackoff {
		t.Fatalf("%d dedup reads, want %d", n, 1500+10*probeBackoff)
	}
	write(batch(20_000, 10, 100))
	if n := s.tsReads.Load(); n != 1500+10*probeBackoff {
		t.Fatalf("%d dedup reads after the backoff, want %d", n, 1500+10*probeBackoff)
	}
}

// A user whose ACL refuses EXISTS (but allows what Feast's writes use)
// still writes, with the dedup reads, and the probe is not tried again.
func TestRespWriteExistsRefused(t *testing.T) {
	ctx := context.Background()
	a := admin(t)
	user := fmt.Sprintf("feastgo_noexists_%d", time.Now().UnixNano())
	if err := a.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~*", "+@all", "-exists").Err(); err != nil {
		t.Skipf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { a.Do(context.Background(), "ACL", "DELUSER", user) })
	s := fastStore(t, Options{Username: user, Password: "pw"})
	b := onlinestore.WriteBatch{View: "v", Features: []string{"a"}}
	for i := int64(0); i < 20; i++ {
		b.Rows = append(b.Rows, onlinestore.WriteRow{Key: storetest.Key(i), TS: core.Timestamp{Seconds: 100}, Values: [][]byte{core.AppendValueProto(nil, core.Int64Value(i))}})
	}
	for range 2 {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if !s.probeOff.Load() || s.tsReads.Load() != 40 {
		t.Fatalf("probeOff %v, %d dedup reads; want true, 40", s.probeOff.Load(), s.tsReads.Load())
	}
	got, err := a.HGet(ctx, string(storetest.Key(7))+s.project, FieldName("v", "a")).Bytes()
	if want := core.AppendValueProto(nil, core.Int64Value(7)); err != nil || string(got) != string(want) {
		t.Fatalf("stored %x (%v), want %x", got, err, want)
	}
}
