package server_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
)

// BenchmarkReadDuringRefresh serves POST /get-online-features (request
// 1x50, in-memory store, every core reading) from a registry of 1,000 views
// and 10,000 features (bench.Registry) while the registry is refreshed
// every interval, each refresh compiling a changed registry and swapping
// it in, as a file rewritten by `feast apply` is picked up. It reports the
// read latency's p50, p99, p99.9 and max beside ns/op, so the line with
// refresh=off is the baseline of the others: reads never wait for a
// refresh (the snapshot is one atomic load); what a refresh can still cost
// them is CPU and garbage collection.
//
// Run: go test -run '^$' -bench ReadDuringRefresh -benchtime 10s ./server
func BenchmarkReadDuringRefresh(b *testing.B) {
	blobs := [2][]byte{largeBlob(b, "a"), largeBlob(b, "b")}
	for _, every := range []time.Duration{0, time.Second, 100 * time.Millisecond} {
		name := "refresh=off"
		if every > 0 {
			name = "refresh=" + every.String()
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			src := &alternating{blobs: blobs}
			reg, err := registry.Open(ctx, src, registry.Options{Project: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			h := &server.HTTP{Online: &online.Service{Snapshot: reg.Current, Store: bench.NewMemStore(), KeyVersion: 3}}
			handler := h.NewFastServer().Handler
			body := bench.Body("1x50")

			stop := make(chan struct{})
			var wg sync.WaitGroup
			refreshes := 0
			if every > 0 {
				wg.Go(func() {
					t := time.NewTicker(every)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							if err := reg.Refresh(ctx); err != nil {
								b.Error(err)
								return
							}
							refreshes++
						}
					}
				})
			}

			var mu sync.Mutex
			var all []time.Duration
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var req fasthttp.Request
				req.Header.SetMethod(http.MethodPost)
				req.SetRequestURI("/get-online-features")
				req.Header.SetContentType("application/json")
				req.SetBody(body)
				var rc fasthttp.RequestCtx
				rc.Init(&req, nil, nil)
				rc.Response.KeepBodyBuffer = true
				lat := make([]time.Duration, 0, 1<<16)
				for pb.Next() {
					rc.Response.Reset()
					t0 := time.Now()
					handler(&rc)
					lat = append(lat, time.Since(t0))
					if rc.Response.StatusCode() != http.StatusOK {
						b.Errorf("status %d: %s", rc.Response.StatusCode(), rc.Response.Body())
						return
					}
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			})
			b.StopTimer()
			close(stop)
			wg.Wait()
			slices.Sort(all)
			q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Nanoseconds()) / 1e3 }
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
			b.ReportMetric(q(0.999), "p99.9-µs")
			b.ReportMetric(q(1), "max-µs")
			b.ReportMetric(float64(refreshes), "refreshes")
		})
	}
}

// alternating is a registry source whose bytes change on every fetch.
type alternating struct {
	mu    sync.Mutex
	blobs [2][]byte
	n     int
}

func (a *alternating) Fetch(context.Context) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return a.blobs[a.n%2], nil
}

func (a *alternating) Location() string { return "alternating" }

// largeBlob is bench.Registry("bench", 1000, 10) serialized, tag in the
// description of its first view so that two tags differ.
func largeBlob(b *testing.B, tag string) []byte {
	reg := bench.Registry("bench", 1000, 10)
	reg.FeatureViews[0].Spec.Description = tag
	out, err := proto.Marshal(reg)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
