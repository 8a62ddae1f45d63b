package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/onlinestore/storetest"
)

// BenchmarkSmallWritesDuringLargeWrite is the push contention of issue 9:
// one 100,000-row frame of 8 features (the shape of feature_repo's
// pipeline_stats_push) while 4 writers send 1-row frames back to back.
// It reports the small writes' latency and how many failed.
//
//	go test -run '^$' -bench SmallWritesDuringLargeWrite -benchtime 1x ./onlinestore/sqlite/
func BenchmarkSmallWritesDuringLargeWrite(b *testing.B) {
	const bigRows, features, writers = 100_000, 8, 4
	feats := []string{"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"}
	frame := func(first, n int) onlinestore.WriteBatch {
		rows := make([]onlinestore.WriteRow, n)
		for i := range rows {
			vals := make([][]byte, features)
			for j := range vals {
				vals[j] = core.AppendValueProto(nil, core.DoubleValue(float64(i+j)))
			}
			rows[i] = onlinestore.WriteRow{Key: storetest.Key(int64(first + i)), TS: core.Timestamp{Seconds: 1_700_000_000}, Values: vals}
		}
		return onlinestore.WriteBatch{View: "v", Features: feats, Rows: rows}
	}
	for range b.N {
		s, err := Open(filepath.Join(b.TempDir(), "online.db"), "proj")
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := s.Write(ctx, frame(0, 1)); err != nil { // the table exists before the race
			b.Fatal(err)
		}
		big := frame(0, bigRows)
		var mu sync.Mutex
		var lat []time.Duration
		failed := 0
		done := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-done:
						return
					default:
					}
					start := time.Now()
					err := s.Write(ctx, frame(bigRows+w*1_000_000+i, 1))
					mu.Lock()
					lat = append(lat, time.Since(start))
					if err != nil {
						failed++
					}
					mu.Unlock()
				}
			}()
		}
		start := time.Now()
		if err := s.Write(ctx, big); err != nil {
			b.Errorf("large write: %v", err)
		}
		bigTime := time.Since(start)
		close(done)
		wg.Wait()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		slices.Sort(lat)
		pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(bigTime.Seconds(), "large-s")
		b.ReportMetric(float64(len(lat)), "small-writes")
		b.ReportMetric(float64(failed), "small-failed")
		b.ReportMetric(pct(0.5), "small-p50-ms")
		b.ReportMetric(pct(0.99), "small-p99-ms")
		b.ReportMetric(pct(1), "small-max-ms")
	}
}
