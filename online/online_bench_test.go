package online_test

import (
	"context"
	"testing"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
)

// BenchmarkGetOnlineFeatures measures the core read path alone (plan
// lookup, key serialization, store read, column assembly) on the in-memory
// store, without HTTP, JSON or a network; server/http_bench_test.go has
// the whole handler and the real Redis.
func BenchmarkGetOnlineFeatures(b *testing.B) {
	svc := memService()
	features := func(views, perView int) []string {
		var out []string
		for v := 1; v <= views; v++ {
			for _, f := range bench.FeatureNames(v)[:perView] {
				out = append(out, bench.ViewName(v)+":"+f)
			}
		}
		return out
	}
	ids := func(n int) []core.Value {
		out := make([]core.Value, n)
		for i := range out {
			out[i] = core.Int64Value(int64(101 + 10*i))
		}
		return out
	}
	cases := []struct {
		name string
		req  online.Request
	}{
		{"1x3", online.Request{Features: features(1, 3), Entities: []online.Column{{Name: "user_id", Values: ids(1)}}}},
		{"1x50", online.Request{Features: features(bench.Views, bench.FeaturesPerView), Entities: []online.Column{{Name: "user_id", Values: ids(1)}}}},
		{"100x50", online.Request{Features: features(bench.Views, bench.FeaturesPerView), Entities: []online.Column{{Name: "user_id", Values: ids(100)}}}},
	}
	ctx := context.Background()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := c.req
			resp, err := svc.GetOnlineFeatures(ctx, &req)
			if err != nil {
				b.Fatal(err)
			}
			for _, col := range resp.Columns {
				for i := 0; i < col.Len(); i++ {
					if col.StatusAt(i) != core.StatusPresent {
						b.Fatalf("column %s row %d: %v", col.Name, i, col.StatusAt(i))
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, err := svc.GetOnlineFeatures(ctx, &req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Release() // as the HTTP and gRPC handlers do

			}
		})
	}
}
