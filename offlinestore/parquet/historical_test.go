package parquet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// refAsof is the join by brute force: for an entity row (key, t), the f
// of the latest row with that key in [t-ttl, t] (no lower bound for ttl
// 0), ties by the later created time, a full tie to the row read last.
func refAsof(rows []keyedRow, key any, t, ttl int64) (float64, bool) {
	var best *keyedRow
	for i := range rows {
		r := &rows[i]
		if key == nil || r.key == nil || fmt.Sprint(r.key) != fmt.Sprint(key) || r.ts > t || (ttl > 0 && r.ts < t-ttl) {
			continue
		}
		tsOf := func(us int64) core.Timestamp { return core.Timestamp{Seconds: us / 1e6, Nanos: int32(us%1e6) * 1000} }
		cr := func(r *keyedRow) core.Timestamp {
			if r.created < 0 {
				return offlinestore.NoTime
			}
			return tsOf(r.created)
		}
		if best == nil || offlinestore.Newer(tsOf(r.ts), cr(r), tsOf(best.ts), cr(best)) {
			best = r
		}
	}
	if best == nil {
		return 0, false
	}
	return best.f, true
}

// TestHistoricalMatchesBruteForce compares the as-of join on random files
// (small row groups, duplicate and tied times, null created times and
// keys; int keys dense, negative and huge, so both lookups run; string
// keys) and random entity rows with the brute-force join, with and
// without a ttl, at several batch sizes.
func TestHistoricalMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	hour := time.Hour.Microseconds()
	intKeys := []any{int64(0), int64(1), int64(7), int64(-3), int64(1 << 40), int64(denseKeys + 5), int64(denseKeys - 1), nil}
	strKeys := []any{"a", "b", "", "ü", nil}
	for _, kind := range []struct {
		name string
		typ  arrow.DataType
		keys []any
	}{{"int64", arrow.PrimitiveTypes.Int64, intKeys}, {"string", arrow.BinaryTypes.String, strKeys}} {
		for _, ttl := range []time.Duration{0, 5 * time.Hour} {
			t.Run(fmt.Sprintf("%s/ttl%v", kind.name, ttl), func(t *testing.T) {
				var rows []keyedRow
				for i := range 400 {
					ts := int64(rng.IntN(48)) * hour / 2
					created := ts + int64(rng.IntN(3))*hour
					if rng.IntN(5) == 0 {
						created = -1
					}
					rows = append(rows, keyedRow{key: kind.keys[rng.IntN(len(kind.keys))], f: float64(i), ts: ts, created: created})
				}
				path := filepath.Join(t.TempDir(), "src.parquet")
				writeKeyed(t, path, kind.typ, rows, 37)

				n := 300
				keyB := array.NewBuilder(memory.DefaultAllocator, kind.typ)
				tsB := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
				var ekeys []any
				var etimes []int64
				for range n {
					k := kind.keys[rng.IntN(len(kind.keys))]
					ekeys = append(ekeys, k)
					switch k := k.(type) {
					case nil:
						keyB.AppendNull()
					case int64:
						keyB.(*array.Int64Builder).Append(k)
					case string:
						keyB.(*array.StringBuilder).Append(k)
					}
					et := int64(rng.IntN(60))*hour/2 - 2*hour
					etimes = append(etimes, et)
					tsB.Append(arrow.Timestamp(et))
				}
				ka, ta := keyB.NewArray(), tsB.NewArray()
				frame := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "id", Type: ka.DataType(), Nullable: true},
					{Name: "event_timestamp", Type: ta.DataType(), Nullable: true}}, nil), []arrow.Array{ka, ta}, int64(n))
				ka.Release()
				ta.Release()
				keyB.Release()
				tsB.Release()
				defer frame.Release()

				ds := &corepb.DataSource{Options: &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{Uri: path}}}
				for _, batch := range []int{1, 7, 0} {
					q := &offlinestore.HistoricalQuery{Entities: frame, EventTimeColumn: "event_timestamp", BatchSize: batch,
						Views: []offlinestore.HistoricalView{{Name: "v", Source: ds, Keys: []offlinestore.KeyColumn{{Frame: "id", Source: "id"}},
							TimestampColumn: "event_ts", CreatedColumn: "created", TTL: ttl,
							Features: []offlinestore.FeatureColumn{{Source: "f", Output: "f"}}}}}
					row := 0
					err := NewEngine("/").Historical(context.Background(), q, func(rec arrow.RecordBatch) error {
						f := rec.Column(0).(*array.Float64)
						for i := 0; i < f.Len(); i++ {
							want, ok := refAsof(rows, ekeys[row], etimes[row], ttl.Microseconds())
							if ok != f.IsValid(i) || ok && f.Value(i) != want {
								t.Errorf("batch %d, entity row %d (key %v, t %d): got %s, want %v (match %v)", batch, row, ekeys[row], etimes[row], f.ValueStr(i), want, ok)
							}
							row++
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					if row != n {
						t.Fatalf("%d rows for %d", row, n)
					}
				}
			})
		}
	}
}
