package parquet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// benchRows is the size of the benchmark table: the 1M-entity
// materialization it stands for.
const benchRows = 1_000_000

// writeBenchFile writes a table shaped like the materialize benchmark's
// (int64 entity_id, ten features, event and created times; snappy, row
// groups of 128Ki rows) with keys ids(i) for rows i = 0..n-1, to a
// temporary file, and returns its path.
func writeBenchFile(b *testing.B, n int, ids func(i int) int64) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.parquet")
	ts := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	fields := []arrow.Field{{Name: "entity_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}
	for i := 1; i <= 4; i++ {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("f_double_%d", i), Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	}
	for i := 1; i <= 2; i++ {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("f_float_%d", i), Type: arrow.PrimitiveTypes.Float32, Nullable: true})
	}
	for i := 1; i <= 2; i++ {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("f_int_%d", i), Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	}
	fields = append(fields,
		arrow.Field{Name: "f_string", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "f_bool", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		arrow.Field{Name: "event_timestamp", Type: ts, Nullable: true},
		arrow.Field{Name: "created", Type: ts, Nullable: true})
	schema := arrow.NewSchema(fields, nil)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	props := pq.NewWriterProperties(pq.WithCompression(compress.Codecs.Snappy), pq.WithMaxRowGroupLength(128*1024))
	w, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		b.Fatal(err)
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	rng := rand.New(rand.NewPCG(1, 2))
	base := us(day0)
	for start := 0; start < n; start += 64 * 1024 {
		for i := start; i < min(n, start+64*1024); i++ {
			rb.Field(0).(*array.Int64Builder).Append(ids(i))
			for j := 1; j <= 4; j++ {
				rb.Field(j).(*array.Float64Builder).Append(rng.Float64())
			}
			for j := 5; j <= 6; j++ {
				rb.Field(j).(*array.Float32Builder).Append(rng.Float32())
			}
			rb.Field(7).(*array.Int64Builder).Append(int64(rng.IntN(100)))
			rb.Field(8).(*array.Int64Builder).Append(rng.Int64())
			rb.Field(9).(*array.StringBuilder).Append([]string{"red", "green", "blue"}[rng.IntN(3)])
			rb.Field(10).(*array.BooleanBuilder).Append(rng.IntN(2) == 0)
			t := base + rng.Int64N(7*24*3600*1_000_000)
			rb.Field(11).(*array.TimestampBuilder).Append(arrow.Timestamp(t))
			rb.Field(12).(*array.TimestampBuilder).Append(arrow.Timestamp(t + 1_000_000))
		}
		rec := rb.NewRecordBatch()
		if err := w.WriteBuffered(rec); err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchKeys are the key orders benchmarked: file order, a random
// permutation, and every key twice (the second copy in random order),
// with how many distinct keys benchRows rows then have.
var benchKeys = []struct {
	name string
	ids  func(n int) func(i int) int64
	keys int
}{
	{"sorted", func(int) func(int) int64 { return func(i int) int64 { return int64(i) } }, benchRows},
	{"shuffled", func(n int) func(int) int64 {
		p := rand.New(rand.NewPCG(3, 4)).Perm(n)
		return func(i int) int64 { return int64(p[i]) }
	}, benchRows},
	{"dup2", func(n int) func(int) int64 {
		p := rand.New(rand.NewPCG(5, 6)).Perm(n / 2)
		return func(i int) int64 {
			if i < n/2 {
				return int64(i)
			}
			return int64(p[i-n/2])
		}
	}, benchRows / 2},
}

func benchQuery() offlinestore.Query {
	cols := []string{"entity_id", "f_double_1", "f_double_2", "f_double_3", "f_double_4", "f_float_1", "f_float_2", "f_int_1", "f_int_2", "f_string", "f_bool"}
	return offlinestore.Query{Columns: cols, KeyColumns: 1, TimestampColumn: "event_timestamp", CreatedColumn: "created",
		Start: core.TimestampOf(day0), End: core.TimestampOf(day0.AddDate(0, 0, 8))}
}

// BenchmarkPullLatest is the whole pull, both passes, of a 1M-row table.
func BenchmarkPullLatest(b *testing.B) {
	for _, k := range benchKeys {
		b.Run(k.name, func(b *testing.B) {
			path := writeBenchFile(b, benchRows, k.ids(benchRows))
			q := benchQuery()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rows := 0
				err := New(path).PullLatest(context.Background(), q, func(bt *offlinestore.Batch) error {
					rows += bt.Rows
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if rows != k.keys {
					b.Fatalf("%d rows, want %d", rows, k.keys)
				}
			}
		})
	}
}

// BenchmarkLatestRows is pass one alone: the key index of a 1M-row table.
func BenchmarkLatestRows(b *testing.B) {
	for _, k := range benchKeys {
		b.Run(k.name, func(b *testing.B) {
			readers, files := openForTest(b, writeBenchFile(b, benchRows, k.ids(benchRows)))
			q := benchQuery()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ords, _, err := latestRows(context.Background(), readers, files, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(ords) != k.keys {
					b.Fatalf("%d winners, want %d", len(ords), k.keys)
				}
			}
		})
	}
}

// openForTest opens the files of a source as PullLatest does.
func openForTest(tb testing.TB, path string) ([]*pqarrow.FileReader, []string) {
	tb.Helper()
	files, err := New(path).files()
	if err != nil {
		tb.Fatal(err)
	}
	readers, err := openReaders(files)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { closeReaders(readers) })
	return readers, files
}
