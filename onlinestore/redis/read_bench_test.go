package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/onlinestore"
)

// BenchmarkRead measures the store's read path alone on a real standalone
// Redis (FEASTGO_TEST_REDIS): the benchmark repo's rows, read as the
// serving layer asks for them (1 entity x 3 features, 1 x 50 over five
// views, 100 x 50), through a reused Scratch as online reads do.
func BenchmarkRead(b *testing.B) {
	addr := testenv.Service(b, "FEASTGO_TEST_REDIS")
	project := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	s, err := New(Options{Addrs: []string{addr}, Project: project, SkipDedup: true})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	for _, wb := range bench.WriteBatches() {
		if err := s.Write(ctx, wb); err != nil {
			b.Fatal(err)
		}
	}
	keys := func(n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = bench.Key(int64(101 + 10*i))
		}
		return out
	}
	reqs := func(views, perView, entities int) []onlinestore.ReadRequest {
		k := keys(entities)
		out := make([]onlinestore.ReadRequest, views)
		for v := range out {
			out[v] = onlinestore.ReadRequest{View: bench.ViewName(v + 1), Features: bench.FeatureNames(v + 1)[:perView], Keys: k}
		}
		return out
	}
	for _, c := range []struct {
		name string
		reqs []onlinestore.ReadRequest
	}{
		{"1x3", reqs(1, 3, 1)},
		{"1x50", reqs(bench.Views, bench.FeaturesPerView, 1)},
		{"100x50", reqs(bench.Views, bench.FeaturesPerView, 100)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var sc onlinestore.Scratch
			if err := s.ReadScratch(ctx, c.reqs, &sc); err != nil {
				b.Fatal(err)
			}
			for _, r := range c.reqs {
				for j, row := range r.Rows {
					if !row.Found {
						b.Fatalf("%s key %d: not found", r.View, j)
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.ReadScratch(ctx, c.reqs, &sc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
