package parquet

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/offlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// BenchmarkHistorical is the point-in-time join of the offline benchmark's
// shape, scaled down for go test: 1M entity rows over 100k keys, 10
// features from two views (a 1-day ttl on one), against a 2M-row source
// (each view reads it: 4M feature rows joined). make bench-offline runs
// the full size beside Feast.
func BenchmarkHistorical(b *testing.B) {
	const sourceRows, keys, entityRows = 2_000_000, 100_000, 1_000_000
	path := writeBenchFile(b, sourceRows, func(i int) int64 { return int64(i % keys) })
	frame := benchFrame(entityRows, keys)
	defer frame.Release()
	ds := &corepb.DataSource{Name: "bench", Options: &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{Uri: path}}}
	view := func(name string, ttl time.Duration, feats ...string) offlinestore.HistoricalView {
		v := offlinestore.HistoricalView{Name: name, Source: ds, Keys: []offlinestore.KeyColumn{{Frame: "entity_id", Source: "entity_id"}},
			TimestampColumn: "event_timestamp", CreatedColumn: "created", TTL: ttl}
		for _, f := range feats {
			v.Features = append(v.Features, offlinestore.FeatureColumn{Source: f, Output: name + "__" + f})
		}
		return v
	}
	q := &offlinestore.HistoricalQuery{Entities: frame, EventTimeColumn: "event_timestamp", BatchSize: 65536, Views: []offlinestore.HistoricalView{
		view("a", 24*time.Hour, "f_double_1", "f_double_2", "f_float_1", "f_int_1", "f_string"),
		view("b", 0, "f_double_3", "f_double_4", "f_float_2", "f_int_2", "f_bool"),
	}}
	e := NewEngine(filepath.Dir(path))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rows := 0
		if err := e.Historical(context.Background(), q, func(rec arrow.RecordBatch) error {
			rows += int(rec.NumRows())
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if rows != entityRows {
			b.Fatalf("%d rows", rows)
		}
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(entityRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
}

// benchFrame is an entity frame of n rows: random keys below keys, random
// times in the source's week.
func benchFrame(n, keys int) arrow.RecordBatch {
	rng := rand.New(rand.NewPCG(7, 8))
	ids := array.NewInt64Builder(memory.DefaultAllocator)
	ts := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	defer ids.Release()
	defer ts.Release()
	base := us(day0)
	for range n {
		ids.Append(int64(rng.IntN(keys)))
		ts.Append(arrow.Timestamp(base + rng.Int64N(8*24*3600*1_000_000)))
	}
	idArr, tsArr := ids.NewArray(), ts.NewArray()
	defer idArr.Release()
	defer tsArr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "entity_id", Type: idArr.DataType(), Nullable: true}, {Name: "event_timestamp", Type: tsArr.DataType(), Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{idArr, tsArr}, int64(n))
}
