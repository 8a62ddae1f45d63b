package parquet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// smallChunks makes the int index sort and merge every few rows.
func smallChunks(t *testing.T, n int) {
	old := chunkRows
	chunkRows = n
	t.Cleanup(func() { chunkRows = old })
}

// refLatest is the pass one PullLatest had before the int index: a map
// from key to winner, rows folded with offlinestore.Newer in file order.
// It returns the winning candidates' ordinals, ascending.
func refLatest(cands []cand) []int64 {
	best := map[int64]cand{}
	for _, c := range cands {
		if b, ok := best[c.key]; !ok || offlinestore.Newer(c.ts(), c.created(), b.ts(), b.created()) {
			best[c.key] = c
		}
	}
	var out []int64
	for _, c := range best {
		out = append(out, c.ord)
	}
	slices.Sort(out)
	return out
}

// randomCands draws n candidates: keys from a range of the given size (in
// one of several orders), times from a few values so that ties abound.
func randomCands(rng *rand.Rand, n, keys int, order string) []cand {
	out := make([]cand, n)
	for i := range out {
		var k int64
		switch order {
		case "random":
			k = rng.Int64N(int64(keys)) - int64(keys)/2
		case "sorted":
			k = int64(i * keys / n)
		case "updown": // increasing, then decreasing
			if i < n/2 {
				k = int64(i)
			} else {
				k = int64(n - i)
			}
		case "wide": // far apart, negative too: every radix byte used
			k = int64(rng.Uint64())
			if rng.IntN(4) == 0 && i > 0 {
				k = out[rng.IntN(i)].key
			}
		}
		ts := core.Timestamp{Seconds: rng.Int64N(3), Nanos: int32(rng.IntN(2))}
		created := offlinestore.NoTime
		if rng.IntN(3) > 0 {
			created = core.Timestamp{Seconds: rng.Int64N(2)}
		}
		out[i] = newCand(k, ts, created, int64(i))
	}
	return out
}

func TestIntIndexMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, order := range []string{"random", "sorted", "updown", "wide"} {
		for _, chunk := range []int{1, 2, 3, 7, 64, 1 << 20} {
			for iter := 0; iter < 30; iter++ {
				n := rng.IntN(500)
				keys := 1 + rng.IntN(300)
				cands := randomCands(rng, n, keys, order)
				smallChunks(t, chunk)
				var x intIndex
				for _, c := range cands {
					x.add(c)
				}
				got := x.ords(nil)
				sortOrds(got)
				if want := refLatest(cands); !slices.Equal(got, want) {
					t.Fatalf("%s, chunk %d, %d rows of %d keys:\n got %v\nwant %v", order, chunk, n, keys, got, want)
				}
			}
		}
	}
}

// cand's comment and chunkRows' size rest on a 40-byte candidate.
func TestCandSize(t *testing.T) {
	if n := unsafe.Sizeof(cand{}); n != 40 {
		t.Errorf("cand is %d bytes, want 40", n)
	}
}

func TestSortOrds(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 2, 100, 5000} {
		for _, span := range []int64{1, 300, 1 << 20, 1 << 40} {
			a := make([]int64, n)
			for i := range a {
				a[i] = rng.Int64N(span)
			}
			want := slices.Clone(a)
			slices.Sort(want)
			sortOrds(a)
			if !slices.Equal(a, want) {
				t.Fatalf("n=%d span=%d: not sorted", n, span)
			}
		}
	}
}

// keyedRow is a row of a keyed test file: f is unique and tells rows apart.
type keyedRow struct {
	key         any // int64, int32, string or nil (null)
	f           float64
	ts, created int64 // µs; created < 0 is null
}

// writeKeyed writes rows with a key column of the given Arrow type.
func writeKeyed(t *testing.T, path string, keyType arrow.DataType, rows []keyedRow, rowGroup int64) {
	t.Helper()
	tsType := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: keyType, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
		{Name: "event_ts", Type: tsType},
		{Name: "created", Type: tsType, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range rows {
		switch k := r.key.(type) {
		case nil:
			b.Field(0).AppendNull()
		case int64:
			b.Field(0).(*array.Int64Builder).Append(k)
		case int32:
			b.Field(0).(*array.Int32Builder).Append(k)
		case uint64:
			b.Field(0).(*array.Uint64Builder).Append(k)
		case string:
			b.Field(0).(*array.StringBuilder).Append(k)
		}
		b.Field(1).(*array.Float64Builder).Append(r.f)
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(r.ts))
		if r.created < 0 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(r.created))
		}
	}
	writeBuilt(t, path, schema, b, rowGroup)
}

// refPull is what PullLatest must return for files read in order: per
// key, the f of the winning row, the rows folded in file order with
// offlinestore.Newer as the map-based pass one did.
func refPull(files [][]keyedRow, q offlinestore.Query) map[string]float64 {
	type best struct {
		ts, created core.Timestamp
		f           float64
	}
	m := map[string]best{}
	for _, rows := range files {
		for _, r := range rows {
			ts := core.Timestamp{Seconds: r.ts / 1e6, Nanos: int32(r.ts%1e6) * 1000}
			if !q.InWindow(ts) {
				continue
			}
			created := offlinestore.NoTime
			if r.created >= 0 {
				created = core.Timestamp{Seconds: r.created / 1e6, Nanos: int32(r.created%1e6) * 1000}
			}
			k := fmt.Sprint(r.key)
			if b, ok := m[k]; !ok || offlinestore.Newer(ts, created, b.ts, b.created) {
				m[k] = best{ts, created, r.f}
			}
		}
	}
	out := map[string]float64{}
	for k, b := range m {
		out[k] = b.f
	}
	return out
}

// pullKeyed runs PullLatest and returns f per key (printed) and the batch
// total.
func pullKeyed(t *testing.T, path string, q offlinestore.Query) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	var total int64
	err := New(path).PullLatest(context.Background(), q, func(b *offlinestore.Batch) error {
		total = b.Total
		for i := 0; i < b.Rows; i++ {
			r := b.Row(i)
			var k string
			if r[0].Type == core.String {
				k = r[0].S
			} else {
				k = fmt.Sprint(r[0].I)
			}
			if _, dup := out[k]; dup {
				t.Errorf("key %s returned twice", k)
			}
			out[k] = r[1].F
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if int(total) != len(out) {
		t.Errorf("Total %d, rows %d", total, len(out))
	}
	return out
}

// TestPullLatestMatchesMap compares PullLatest on random files (several
// files and row groups, key orders, duplicates, ties, null created times,
// a window that drops rows) with the map-based fold.
func TestPullLatestMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	hour := time.Hour.Microseconds()
	base := us(day0)
	q := offlinestore.Query{Columns: []string{"id", "f"}, KeyColumns: 1, TimestampColumn: "event_ts", CreatedColumn: "created",
		Start: core.TimestampOf(day0.Add(time.Hour)), End: core.TimestampOf(day0.Add(4 * time.Hour))}
	types := map[string]arrow.DataType{"int64": arrow.PrimitiveTypes.Int64, "int32": arrow.PrimitiveTypes.Int32,
		"uint64": arrow.PrimitiveTypes.Uint64, "string": arrow.BinaryTypes.String}
	for _, typ := range []string{"int64", "int32", "uint64", "string"} {
		for _, order := range []string{"random", "sorted", "updown"} {
			for _, chunk := range []int{3, 50, 1 << 20} {
				t.Run(fmt.Sprintf("%s/%s/chunk=%d", typ, order, chunk), func(t *testing.T) {
					smallChunks(t, chunk)
					dir := t.TempDir()
					var files [][]keyedRow
					f := 0.0
					for fi := 0; fi < 1+rng.IntN(3); fi++ {
						n := rng.IntN(400)
						cands := randomCands(rng, n, 1+rng.IntN(200), order)
						rows := make([]keyedRow, n)
						for i, c := range cands {
							f++
							r := keyedRow{f: f, ts: base + c.tsSec*2*hour + int64(c.tsNanos), created: -1}
							if c.createdSec != offlinestore.NoTime.Seconds {
								r.created = base + c.createdSec*hour
							}
							switch typ {
							case "int64":
								r.key = c.key
							case "int32":
								r.key = int32(c.key)
							case "uint64":
								r.key = uint64(c.key) // negatives come back as int64s alike
							case "string":
								r.key = fmt.Sprint(c.key)
							}
							rows[i] = r
						}
						files = append(files, rows)
						writeKeyed(t, filepath.Join(dir, fmt.Sprintf("part-%d.parquet", fi)), types[typ], rows, int64(1+rng.IntN(150)))
					}
					want := refPull(files, q)
					if typ == "uint64" {
						signed := map[string]float64{}
						for k, v := range want {
							var u uint64
							if _, err := fmt.Sscan(k, &u); err != nil {
								t.Fatal(err)
							}
							signed[fmt.Sprint(int64(u))] = v
						}
						want = signed
					}
					got := pullKeyed(t, dir, q)
					if len(got) != len(want) {
						t.Fatalf("%d keys, want %d", len(got), len(want))
					}
					for k, v := range want {
						if got[k] != v {
							t.Fatalf("key %s: f=%v, want %v", k, got[k], v)
						}
					}
				})
			}
		}
	}
}

// A full tie (same event and created time) goes to the row read last, in
// one chunk or across chunks, files and row groups.
func TestTieLastRowWins(t *testing.T) {
	for _, chunk := range []int{1, 2, 1 << 20} {
		smallChunks(t, chunk)
		dir := t.TempDir()
		ts := us(day0.Add(time.Hour))
		writeKeyed(t, filepath.Join(dir, "a.parquet"), arrow.PrimitiveTypes.Int64, []keyedRow{
			{int64(5), 1, ts, ts}, {int64(3), 2, ts, -1}, {int64(5), 3, ts, ts}, {int64(3), 4, ts, -1},
		}, 2)
		writeKeyed(t, filepath.Join(dir, "b.parquet"), arrow.PrimitiveTypes.Int64, []keyedRow{
			{int64(5), 5, ts, ts}, {int64(3), 6, ts, 0}, {int64(5), 7, ts, ts - 1},
		}, 1)
		got := pullKeyed(t, dir, query(day0, day0.Add(2*time.Hour)))
		// 5: rows 1, 3, 5 tie, 7 is older; 3: row 6's created beats null.
		if got["5"] != 5 || got["3"] != 6 || len(got) != 2 {
			t.Errorf("chunk %d: %v", chunk, got)
		}
	}
}

func TestNullKey(t *testing.T) {
	ts := us(day0.Add(time.Hour))
	for _, typ := range []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32, arrow.BinaryTypes.String} {
		path := filepath.Join(t.TempDir(), "data.parquet")
		k := map[arrow.Type]any{arrow.INT64: int64(1), arrow.INT32: int32(1), arrow.STRING: "1"}[typ.ID()]
		writeKeyed(t, path, typ, []keyedRow{{k, 1, ts, -1}, {nil, 2, us(day0.Add(48 * time.Hour)), -1}, {k, 3, ts, -1}, {nil, 4, ts, -1}}, 3)
		q := query(day0, day0.Add(2*time.Hour))
		err := New(path).PullLatest(context.Background(), q, func(*offlinestore.Batch) error { return nil })
		// Row 1 is out of the window: its null key does not matter. Row 3
		// is row 0 of the second row group.
		if err == nil || !strings.Contains(err.Error(), `row 0 has a null join key "id"`) {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

// Keys of two columns still go through the map.
func TestTwoKeyColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.parquet")
	h := func(n int) int64 { return us(day0.Add(time.Duration(n) * time.Hour)) }
	writeKeyed(t, path, arrow.PrimitiveTypes.Int64, []keyedRow{
		{int64(1), 1, h(1), -1}, {int64(1), 2, h(2), -1}, {int64(2), 1, h(3), -1}, {int64(2), 1, h(1), -1},
	}, 10)
	q := query(day0, day0.Add(5*time.Hour))
	q.KeyColumns = 2 // id and f
	n := 0
	err := New(path).PullLatest(context.Background(), q, func(b *offlinestore.Batch) error {
		n += b.Rows
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("%d rows, %v; want 3 (keys (1,1), (1,2), (2,1))", n, err)
	}
}
