package online_test

import (
	"context"
	"testing"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/registry"
)

// memService reads the benchmark fixture from memory.
func memService() *online.Service {
	snap := bench.Snapshot("bench")
	return &online.Service{Snapshot: func() *registry.Snapshot { return snap }, Store: bench.NewMemStore(), KeyVersion: 3}
}

// TestPooledMemoryDoesNotLeak alternates reads of stored and unknown
// entities, releasing each response, so every read runs on memory an
// earlier one used: an unknown entity must come back NOT_FOUND with no
// value and no event time, whatever the previous read left there.
func TestPooledMemoryDoesNotLeak(t *testing.T) {
	svc := memService()
	features := bench.FeatureNames(1)
	refs := make([]string, len(features))
	for i, f := range features {
		refs[i] = bench.ViewName(1) + ":" + f
	}
	read := func(ids ...int64) *core.OnlineResponse {
		vals := make([]core.Value, len(ids))
		for i, id := range ids {
			vals[i] = core.Int64Value(id)
		}
		resp, err := svc.GetOnlineFeatures(context.Background(), &online.Request{
			Features: refs,
			Entities: []online.Column{{Name: "user_id", Values: vals}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for round := 0; round < 50; round++ {
		known := read(1, 2, 3, 2)
		for _, c := range known.Columns[1:] {
			for r := range c.Raw {
				if c.Status[r] != core.StatusPresent || len(c.Raw[r]) == 0 || c.TS[r] == (core.Timestamp{}) {
					t.Fatalf("round %d: %s row %d of a stored entity: status %v, %d bytes, ts %v", round, c.Name, r, c.Status[r], len(c.Raw[r]), c.TS[r])
				}
			}
		}
		if got, want := known.Columns[1].TS[3], bench.TS(2); got != want {
			t.Fatalf("round %d: repeated entity has ts %v, want %v", round, got, want)
		}
		known.Release()
		unknown := read(1_000_001, 1_000_002)
		for _, c := range unknown.Columns[1:] {
			for r := range c.Raw {
				if c.Status[r] != core.StatusNotFound || c.Raw[r] != nil || c.TS[r] != (core.Timestamp{}) {
					t.Fatalf("round %d: %s row %d of an unknown entity: status %v, value %x, ts %v (left over from an earlier read)",
						round, c.Name, r, c.Status[r], c.Raw[r], c.TS[r])
				}
			}
		}
		unknown.Release()
		unknown.Release() // twice is harmless
	}
}
