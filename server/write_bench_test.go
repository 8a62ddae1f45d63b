package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/onlinestore"
	pgstore "github.com/feastgo/feastgo/onlinestore/postgres"
	redisstore "github.com/feastgo/feastgo/onlinestore/redis"
	"github.com/feastgo/feastgo/onlinestore/sqlite"
	"github.com/feastgo/feastgo/registry"
)

// discard accepts every write: what is left is our own cost per row
// (body read, JSON, typing, conversion, keys, value encoding).
type discard struct{}

func (discard) Write(context.Context, onlinestore.WriteBatch) error { return nil }

// pushBodyOf is a /push of rows rows to the demo repo's pipeline_stats (8
// features of 6 types), the shape Feast's docs push.
func pushBodyOf(rows int, base int) string {
	var b strings.Builder
	col := func(name string, f func(i int) string) {
		fmt.Fprintf(&b, "%q: [", name)
		for i := 0; i < rows; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f(i))
		}
		b.WriteString("],")
	}
	b.WriteString(`{"push_source_name": "pipeline_stats_push", "df": {`)
	col("pipeline_id", func(i int) string { return fmt.Sprint(base + i) })
	col("event_timestamp", func(i int) string {
		return fmt.Sprintf("%q", time.Unix(1735689600+int64(i), 0).UTC().Format("2006-01-02 15:04:05+00:00"))
	})
	col("created", func(i int) string { return `"2025-01-01 00:00:00"` })
	col("avg_execution_time", func(i int) string { return fmt.Sprint(float64(i) + 0.5) })
	col("success_rate", func(i int) string { return "0.5" })
	col("error_count", func(i int) string { return fmt.Sprint(i % 17) })
	col("failure_probability", func(i int) string { return "0.125" })
	col("avg_memory_usage", func(i int) string { return "1024.5" })
	col("cpu_utilization", func(i int) string { return "0.75" })
	col("last_status", func(i int) string { return `"success"` })
	b.WriteString(`"is_active": [`)
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("true")
	}
	b.WriteString("]}}")
	return b.String()
}

// BenchmarkPush measures POST /push end to end through the handler, in
// rows per second, for 1, 100 and 1000 rows per request, against a
// discarding writer and the real stores named by FEASTGO_TEST_REDIS and
// FEASTGO_TEST_POSTGRES (skipped when unset) and a SQLite file.
//
// Run: go test -run '^$' -bench Push -benchtime 2s ./server
func BenchmarkPush(b *testing.B) {
	reg, err := registry.Open(context.Background(), &registry.FileSource{Path: "../feature_repo/data/registry.db"}, registry.Options{Project: "pipeline_monitoring"})
	if err != nil {
		b.Fatal(err)
	}
	stores := []struct {
		name string
		open func(b *testing.B) onlinestore.Writer
	}{
		{"discard", func(*testing.B) onlinestore.Writer { return discard{} }},
		{"redis", func(b *testing.B) onlinestore.Writer {
			addr := os.Getenv("FEASTGO_TEST_REDIS")
			if addr == "" {
				b.Skip("FEASTGO_TEST_REDIS not set")
			}
			s, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, Project: fmt.Sprintf("pushbench_%d", time.Now().UnixNano())})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"sqlite", func(b *testing.B) onlinestore.Writer {
			s, err := sqlite.Open(filepath.Join(b.TempDir(), "online.db"), "pipeline_monitoring")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"postgres", func(b *testing.B) onlinestore.Writer {
			dsn := os.Getenv("FEASTGO_TEST_POSTGRES")
			if dsn == "" {
				b.Skip("FEASTGO_TEST_POSTGRES not set")
			}
			s, err := pgstore.New(context.Background(), pgstore.Options{DSN: dsn, Project: fmt.Sprintf("pushbench%d", time.Now().UnixNano()%1e9)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
	}
	for _, st := range stores {
		for _, rows := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/rows=%d", st.name, rows), func(b *testing.B) {
				w := st.open(b)
				h := (&HTTP{Registry: reg, Ingest: &ingest.Service{Snapshot: reg.Current, Store: w, KeyVersion: 3}}).router() // the route alone, not the transport
				// Distinct entities per iteration, cycling over 100k keys.
				bodies := make([]string, 16)
				for i := range bodies {
					bodies[i] = pushBodyOf(rows, i*rows)
				}
				b.SetBytes(int64(len(bodies[0])))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					req := httptest.NewRequest(http.MethodPost, "/push", strings.NewReader(bodies[i%len(bodies)]))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("push: %d %s", rec.Code, rec.Body.String())
					}
				}
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
