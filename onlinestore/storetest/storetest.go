// Package storetest is the conformance suite every online store runs against
// its real back end: the same writes and reads, the same expectations, so a
// behaviour the serving layer relies on cannot differ between Redis, SQLite
// and PostgreSQL without a test failing.
//
// Test code only: imported by the back ends' tests, never by a non-test
// file.
package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// Factory returns a fresh, empty store for one subtest; the same value may
// implement both interfaces. It registers its own cleanup with t.Cleanup.
// Stores made by one factory call must not see data of another call (use a
// fresh project, file or schema per call).
type Factory func(t *testing.T) (onlinestore.Store, onlinestore.Writer)

// Deduper is implemented by writers that may skip rows by event time the way
// Feast's Redis store does: a row not newer than the stored one, or than an
// earlier row of the same batch, is not written. Writers without it (SQLite,
// PostgreSQL) must behave as Feast's SQL stores: last write wins.
type Deduper interface {
	DedupsByEventTime() bool
}

// Run runs the whole suite; each case gets its own store from newStore.
func Run(t *testing.T, newStore Factory) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s onlinestore.Store, w onlinestore.Writer)
	}{
		{"WriteThenRead", testWriteThenRead},
		{"MissingEntity", testMissingEntity},
		{"MissingFeature", testMissingFeature},
		{"NullValue", testNullValue},
		{"Overwrite", testOverwrite},
		{"SameBatchDuplicates", testSameBatchDuplicates},
		{"ViewsAreSeparate", testViewsAreSeparate},
		{"ManyKeys", testManyKeys},
		{"UnknownView", testUnknownView},
		{"EmptyInputs", testEmptyInputs},
		{"SubSecondTimestamp", testSubSecondTimestamp},
		{"CancelledContext", testCancelledContext},
		{"Ping", testPing},
		{"Size", testSize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, w := newStore(t)
			if s == nil || w == nil {
				t.Fatal("factory returned a nil store or writer")
			}
			c.fn(t, s, w)
		})
	}
}

// Key returns the v3 entity key {id: int64 i}.
func Key(i int64) []byte {
	k, err := onlinestore.AppendEntityKey(nil, []onlinestore.KeyPart{{Name: "id", Value: core.Int64Value(i)}}, 3)
	if err != nil {
		panic(err)
	}
	return k
}

func val(v core.Value) []byte { return core.AppendValueProto([]byte{}, v) }

func ts(sec int64) core.Timestamp { return core.Timestamp{Seconds: sec} }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func write(t *testing.T, w onlinestore.Writer, b onlinestore.WriteBatch) {
	t.Helper()
	if err := w.Write(ctx(t), b); err != nil {
		t.Fatalf("Write(%s): %v", b.View, err)
	}
}

func read(t *testing.T, s onlinestore.Store, view string, features []string, keys ...[]byte) []onlinestore.Row {
	t.Helper()
	reqs := []onlinestore.ReadRequest{{View: view, Features: features, Keys: keys}}
	if err := s.Read(ctx(t), reqs); err != nil {
		t.Fatalf("Read(%s): %v", view, err)
	}
	if len(reqs[0].Rows) != len(keys) {
		t.Fatalf("Read(%s): %d rows for %d keys", view, len(reqs[0].Rows), len(keys))
	}
	for i, r := range reqs[0].Rows {
		if len(r.Values) != len(features) {
			t.Fatalf("Read(%s): row %d has %d values for %d features", view, i, len(r.Values), len(features))
		}
	}
	if sr, ok := s.(onlinestore.ScratchReader); ok {
		checkScratchRead(t, sr, view, features, keys, reqs[0].Rows)
	}
	return reqs[0].Rows
}

// checkScratchRead reads the same keys with ReadScratch into scratch memory
// dirtied by an earlier read of other data (rows marked found, values set)
// and requires the very answers Read gave: nothing of the earlier read may
// show through.
func checkScratchRead(t *testing.T, sr onlinestore.ScratchReader, view string, features []string, keys [][]byte, want []onlinestore.Row) {
	t.Helper()
	junk := []byte{0xde, 0xad, 0xbe, 0xef}
	sc := &onlinestore.Scratch{
		Rows:  make([]onlinestore.Row, 0, 64),
		Vals:  make([][]byte, 0, 256),
		Bytes: make([]byte, 0, 4096),
	}
	for i := range sc.Rows[:cap(sc.Rows)] {
		sc.Rows[:cap(sc.Rows)][i] = onlinestore.Row{Found: true, TS: core.Timestamp{Seconds: 99}, Values: [][]byte{junk}}
	}
	for i := range sc.Vals[:cap(sc.Vals)] {
		sc.Vals[:cap(sc.Vals)][i] = junk
	}
	sc.Bytes = append(sc.Bytes, junk...)[:0]
	for round := 0; round < 2; round++ {
		reqs := []onlinestore.ReadRequest{{View: view, Features: features, Keys: keys}}
		if err := sr.ReadScratch(ctx(t), reqs, sc); err != nil {
			t.Fatalf("ReadScratch(%s): %v", view, err)
		}
		got := reqs[0].Rows
		if len(got) != len(want) {
			t.Fatalf("ReadScratch(%s) round %d: %d rows, Read gave %d", view, round, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.Found != w.Found || g.TS != w.TS || len(g.Values) != len(w.Values) {
				t.Fatalf("ReadScratch(%s) round %d row %d: %+v, Read gave %+v", view, round, i, g, w)
			}
			for f := range g.Values {
				if (g.Values[f] == nil) != (w.Values[f] == nil) || !bytes.Equal(g.Values[f], w.Values[f]) {
					t.Fatalf("ReadScratch(%s) round %d row %d feature %d: %x, Read gave %x", view, round, i, f, g.Values[f], w.Values[f])
				}
			}
		}
	}
}

func dedups(w onlinestore.Writer) bool {
	d, ok := w.(Deduper)
	return ok && d.DedupsByEventTime()
}

// checkValue compares one read value: want nil means "not stored".
func checkValue(t *testing.T, what string, got, want []byte) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Errorf("%s: got %x, want absent (nil)", what, got)
	case want != nil && got == nil:
		t.Errorf("%s: got absent (nil), want %x", what, want)
	case !bytes.Equal(got, want):
		t.Errorf("%s: got %x, want %x", what, got, want)
	}
}

func testWriteThenRead(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	feats := []string{"f_int", "f_double", "f_string", "f_list"}
	rows := []onlinestore.WriteRow{
		{Key: Key(1), TS: ts(1_700_000_000), Created: ts(1_700_000_100), Values: [][]byte{
			val(core.Int64Value(42)), val(core.DoubleValue(0.5)), val(core.StringValue("a")),
			val(core.Value{Type: core.Int64List, List: []core.Value{core.Int64Value(1), core.Int64Value(2)}}),
		}},
		{Key: Key(2), TS: ts(1_700_000_001), Values: [][]byte{
			val(core.Int64Value(-7)), val(core.DoubleValue(-1.25)), val(core.StringValue("héllo")),
			val(core.Value{Type: core.Int64List}),
		}},
	}
	write(t, w, onlinestore.WriteBatch{View: "v", Features: feats, Rows: rows})
	// Read in another feature order and key order than written.
	order := []string{"f_list", "f_string", "f_int", "f_double"}
	got := read(t, s, "v", order, Key(2), Key(1))
	for gi, wi := range []int{1, 0} {
		g, want := got[gi], rows[wi]
		if !g.Found {
			t.Fatalf("key %d: not found after write", wi+1)
		}
		if g.TS != want.TS {
			t.Errorf("key %d: TS %+v, want %+v", wi+1, g.TS, want.TS)
		}
		for oi, f := range order {
			fi := indexOf(feats, f)
			checkValue(t, fmt.Sprintf("key %d %s", wi+1, f), g.Values[oi], want.Values[fi])
		}
	}
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

func testMissingEntity(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	write(t, w, onlinestore.WriteBatch{View: "v", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
		{Key: Key(1), TS: ts(1000), Values: [][]byte{val(core.Int64Value(1))}},
	}})
	got := read(t, s, "v", []string{"a"}, Key(99), Key(1))
	if got[0].Found {
		t.Errorf("missing entity reported found: %+v", got[0])
	}
	if got[0].Values[0] != nil {
		t.Errorf("missing entity has value %x", got[0].Values[0])
	}
	if !got[1].Found {
		t.Errorf("written entity not found next to a missing one")
	}
}

func testMissingFeature(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	write(t, w, onlinestore.WriteBatch{View: "v", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
		{Key: Key(1), TS: ts(1000), Values: [][]byte{val(core.Int64Value(1))}},
	}})
	got := read(t, s, "v", []string{"a", "never_written"}, Key(1))
	if !got[0].Found {
		t.Fatal("entity not found")
	}
	checkValue(t, "a", got[0].Values[0], val(core.Int64Value(1)))
	// Redis reads an absent field of an existing hash as a stored null
	// (Feast's reading); SQL stores report it absent. Either is allowed,
	// but never a value.
	if v := got[0].Values[1]; len(v) != 0 {
		t.Errorf("never-written feature has value %x", v)
	}
}

func testNullValue(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	write(t, w, onlinestore.WriteBatch{View: "v", Features: []string{"a", "b"}, Rows: []onlinestore.WriteRow{
		{Key: Key(1), TS: ts(1000), Values: [][]byte{{}, val(core.StringValue("x"))}},
	}})
	got := read(t, s, "v", []string{"a", "b"}, Key(1))
	if !got[0].Found {
		t.Fatal("entity not found")
	}
	checkValue(t, "null feature", got[0].Values[0], []byte{})
	checkValue(t, "b", got[0].Values[1], val(core.StringValue("x")))
}

func testOverwrite(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	one := func(sec int64, v int64) {
		write(t, w, onlinestore.WriteBatch{View: "v", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
			{Key: Key(1), TS: ts(sec), Values: [][]byte{val(core.Int64Value(v))}},
		}})
	}
	one(1000, 1)
	one(2000, 2) // newer: every store takes it
	got := read(t, s, "v", []string{"a"}, Key(1))
	checkValue(t, "after newer write", got[0].Values[0], val(core.Int64Value(2)))
	if got[0].TS != ts(2000) {
		t.Errorf("TS %+v, want 2000", got[0].TS)
	}
	one(1500, 3) // older
	one(2000, 4) // same instant
	got = read(t, s, "v", []string{"a"}, Key(1))
	if dedups(w) {
		checkValue(t, "older and same-instant writes skipped", got[0].Values[0], val(core.Int64Value(2)))
		if got[0].TS != ts(2000) {
			t.Errorf("TS %+v, want 2000", got[0].TS)
		}
	} else {
		checkValue(t, "last write wins", got[0].Values[0], val(core.Int64Value(4)))
	}
}

func testSameBatchDuplicates(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	write(t, w, onlinestore.WriteBatch{View: "v", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
		{Key: Key(1), TS: ts(3000), Values: [][]byte{val(core.Int64Value(1))}},
		{Key: Key(1), TS: ts(2500), Values: [][]byte{val(core.Int64Value(2))}},
		{Key: Key(2), TS: ts(100), Values: [][]byte{val(core.Int64Value(3))}},
		{Key: Key(2), TS: ts(200), Values: [][]byte{val(core.Int64Value(4))}},
	}})
	got := read(t, s, "v", []string{"a"}, Key(1), Key(2))
	if dedups(w) {
		checkValue(t, "older row of the batch skipped", got[0].Values[0], val(core.Int64Value(1)))
	} else {
		checkValue(t, "last row of the batch wins", got[0].Values[0], val(core.Int64Value(2)))
	}
	checkValue(t, "newer row of the batch", got[1].Values[0], val(core.Int64Value(4)))
}

func testViewsAreSeparate(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	write(t, w, onlinestore.WriteBatch{View: "v1", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
		{Key: Key(1), TS: ts(1000), Values: [][]byte{val(core.Int64Value(1))}},
	}})
	write(t, w, onlinestore.WriteBatch{View: "v2", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
		{Key: Key(1), TS: ts(500), Values: [][]byte{val(core.Int64Value(2))}},
		{Key: Key(2), TS: ts(500), Values: [][]byte{val(core.Int64Value(3))}},
	}})
	// Both views in one Read call, as the serving layer does.
	reqs := []onlinestore.ReadRequest{
		{View: "v1", Features: []string{"a"}, Keys: [][]byte{Key(1), Key(2)}},
		{View: "v2", Features: []string{"a"}, Keys: [][]byte{Key(1), Key(2)}},
	}
	if err := s.Read(ctx(t), reqs); err != nil {
		t.Fatal(err)
	}
	r1, r2 := reqs[0].Rows, reqs[1].Rows
	checkValue(t, "v1 key 1", r1[0].Values[0], val(core.Int64Value(1)))
	if r1[0].TS != ts(1000) {
		t.Errorf("v1 key 1 TS %+v, want 1000 (a write to v2 must not move it)", r1[0].TS)
	}
	if r1[1].Found {
		t.Errorf("v1 key 2 found though only v2 has it")
	}
	checkValue(t, "v2 key 1", r2[0].Values[0], val(core.Int64Value(2)))
	checkValue(t, "v2 key 2", r2[1].Values[0], val(core.Int64Value(3)))
}

func testManyKeys(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	const n = 2000
	rows := make([]onlinestore.WriteRow, n)
	for i := range rows {
		rows[i] = onlinestore.WriteRow{Key: Key(int64(i)), TS: ts(int64(1000 + i)),
			Values: [][]byte{val(core.Int64Value(int64(i * 3))), val(core.StringValue(fmt.Sprint("s", i)))}}
	}
	write(t, w, onlinestore.WriteBatch{View: "v", Features: []string{"a", "b"}, Rows: rows})
	keys := make([][]byte, 0, n+1)
	for i := n - 1; i >= 0; i-- { // reverse order
		keys = append(keys, Key(int64(i)))
	}
	keys = append(keys, Key(n+5))
	got := read(t, s, "v", []string{"b", "a"}, keys...)
	for j := 0; j < n; j++ {
		i := n - 1 - j
		if !got[j].Found || got[j].TS != ts(int64(1000+i)) {
			t.Fatalf("key %d: found=%v TS=%+v", i, got[j].Found, got[j].TS)
		}
		checkValue(t, fmt.Sprint("key ", i, " a"), got[j].Values[1], val(core.Int64Value(int64(i*3))))
		checkValue(t, fmt.Sprint("key ", i, " b"), got[j].Values[0], val(core.StringValue(fmt.Sprint("s", i))))
	}
	if got[n].Found {
		t.Errorf("unwritten key found")
	}
}

func testUnknownView(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	got := read(t, s, "never_written_view", []string{"a", "b"}, Key(1), Key(2))
	for i, r := range got {
		if r.Found || r.Values[0] != nil || r.Values[1] != nil {
			t.Errorf("row %d of an unknown view: %+v", i, r)
		}
	}
}

func testEmptyInputs(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	if err := s.Read(ctx(t), nil); err != nil {
		t.Errorf("Read(nil): %v", err)
	}
	reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"a"}}}
	if err := s.Read(ctx(t), reqs); err != nil {
		t.Errorf("Read of no keys: %v", err)
	}
	if len(reqs[0].Rows) != 0 {
		t.Errorf("Read of no keys gave %d rows", len(reqs[0].Rows))
	}
	if err := w.Write(ctx(t), onlinestore.WriteBatch{View: "v", Features: []string{"a"}}); err != nil {
		t.Errorf("Write of no rows: %v", err)
	}
}

func testSubSecondTimestamp(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	in := core.Timestamp{Seconds: 1_700_000_000, Nanos: 123_456_000}
	write(t, w, onlinestore.WriteBatch{View: "v", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
		{Key: Key(1), TS: in, Values: [][]byte{val(core.Int64Value(1))}},
	}})
	got := read(t, s, "v", []string{"a"}, Key(1))
	// Feast keeps microseconds in Redis and PostgreSQL, whole seconds in
	// SQLite; nothing else is acceptable.
	if got[0].TS != in && got[0].TS != ts(in.Seconds) {
		t.Errorf("TS %+v, want %+v or its whole second", got[0].TS, in)
	}
}

func testCancelledContext(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	err := w.Write(c, onlinestore.WriteBatch{View: "v", Features: []string{"a"}, Rows: []onlinestore.WriteRow{
		{Key: Key(1), TS: ts(1000), Values: [][]byte{val(core.Int64Value(1))}},
	}})
	if err == nil {
		t.Error("Write with a cancelled context succeeded")
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled context: %v, want an error wrapping context.Canceled", err)
	}
	got := read(t, s, "v", []string{"a"}, Key(1))
	if got[0].Found {
		t.Error("a cancelled write left data behind")
	}
	reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"a"}, Keys: [][]byte{Key(1)}}}
	if err := s.Read(c, reqs); err == nil {
		t.Error("Read with a cancelled context succeeded")
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: %v, want an error wrapping context.Canceled", err)
	}
}

// Every store answers Ping while its back end is up, quickly, and a Ping
// with a context already done fails rather than hanging.
func testPing(t *testing.T, s onlinestore.Store, _ onlinestore.Writer) {
	p, ok := s.(onlinestore.Pinger)
	if !ok {
		t.Fatalf("%T does not implement onlinestore.Pinger", s)
	}
	start := time.Now()
	if err := p.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Ping took %v", d)
	}
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Ping(c); err == nil {
		t.Error("Ping with a cancelled context succeeded")
	}
}

// SizeRows writes n rows of about 2 KiB each to view, for size tests:
// about 2 MiB for n = 1000.
func SizeRows(t *testing.T, w onlinestore.Writer, view string, n int) {
	t.Helper()
	rows := make([]onlinestore.WriteRow, n)
	rnd := rand.New(rand.NewPCG(uint64(n), 7))
	raw := make([]byte, 1024)
	for i := range rows {
		for j := range raw {
			raw[j] = byte(rnd.Uint32())
		}
		// Hex of random bytes: stores that compress values (PostgreSQL's
		// TOAST) cannot shrink it much.
		rows[i] = onlinestore.WriteRow{Key: Key(int64(i)), TS: ts(int64(1000 + i)),
			Values: [][]byte{val(core.StringValue(hex.EncodeToString(raw)))}}
	}
	write(t, w, onlinestore.WriteBatch{View: view, Features: []string{"blob"}, Rows: rows})
}

// Every store tells how much room it takes (onlinestore.Sizer, the
// feature_store_online_size_bytes metric): more than nothing once about
// 2 MiB is written, and an error, not a hang, with a context already done.
// How much exactly is the store's own test (a project's tables, a file,
// a whole Redis).
func testSize(t *testing.T, s onlinestore.Store, w onlinestore.Writer) {
	z, ok := s.(onlinestore.Sizer)
	if !ok {
		t.Fatalf("%T does not implement onlinestore.Sizer", s)
	}
	SizeRows(t, w, "sized", 1000)
	n, err := z.OnlineSize(ctx(t))
	if err != nil {
		t.Fatalf("OnlineSize: %v", err)
	}
	if n <= 0 {
		t.Errorf("OnlineSize after writing 2 MiB = %d", n)
	}
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := z.OnlineSize(c); err == nil {
		t.Error("OnlineSize with a cancelled context succeeded")
	}
}
