package online_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/registry"
)

// A client sending ever-new feature lists keeps the plan cache at its
// bound, and the feature list read between them stays cached: reading it
// again builds no plan (so evicts none).
func TestPlanCacheBoundOnReadPath(t *testing.T) {
	b, err := proto.Marshal(bench.Snapshot("bench").Proto)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "registry.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const bound = 8
	reg, err := registry.Open(ctx, &registry.FileSource{Path: path}, registry.Options{Project: "bench", PlanCacheSize: bound})
	if err != nil {
		t.Fatal(err)
	}
	svc := &online.Service{Snapshot: reg.Current, Store: bench.NewMemStore(), KeyVersion: 3}
	read := func(features ...string) {
		t.Helper()
		resp, err := svc.GetOnlineFeatures(ctx, &online.Request{Features: features,
			Entities: []online.Column{{Name: "user_id", Values: []core.Value{core.Int64Value(1)}}}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Release()
	}
	hot := []string{"user_stats_1:s1_f0", "user_stats_2:s2_i1"}
	distinct := 0
	for v := 1; v <= bench.Views; v++ {
		for _, f := range bench.FeatureNames(v) {
			read(hot...)
			read(bench.ViewName(v) + ":" + f)
			distinct++
			if n, _ := reg.PlanCacheStats(); n > bound {
				t.Fatalf("%d plans cached after %d distinct lists, bound %d", n, distinct, bound)
			}
		}
	}
	n, evicted := reg.PlanCacheStats()
	if n != bound || evicted != uint64(distinct+1-bound) {
		t.Fatalf("%d plans cached, %d evicted; want %d and %d", n, evicted, bound, distinct+1-bound)
	}
	read(hot...)
	if _, again := reg.PlanCacheStats(); again != evicted {
		t.Error("the feature list read between the one-off ones was evicted")
	}
}
