package registry

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// A client sending ever-new feature lists must not grow the cache past
// its bound, while a plan in steady use between them stays cached.
func TestPlanCacheBoundedKeepsHotPlan(t *testing.T) {
	var sink atomic.Uint64
	c := &PlanCache{}
	c.configure(64, &sink)
	c.Store("hot", "hot plan")
	for i := range 10_000 {
		if _, ok := c.Load("hot"); !ok {
			t.Fatalf("hot plan evicted after %d one-off plans", i)
		}
		k := fmt.Sprint("one-off ", i)
		if _, ok := c.Load(k); ok {
			t.Fatalf("%s cached before it was stored", k)
		}
		if got := c.Store(k, i); got != i {
			t.Fatalf("Store(%s) returned %v", k, got)
		}
		if n := c.Len(); n > 64 {
			t.Fatalf("%d plans cached after %d stores, bound 64", n, i+2)
		}
	}
	if n := c.Len(); n != 64 {
		t.Errorf("cache holds %d plans, want it full at 64", n)
	}
	if v, ok := c.Load("hot"); !ok || v != "hot plan" {
		t.Errorf("hot plan: %v %v", v, ok)
	}
	// 10,001 plans stored, 64 kept.
	if e := c.Evictions(); e != 10_001-64 || sink.Load() != e {
		t.Errorf("evictions %d (registry total %d), want %d", e, sink.Load(), 10_001-64)
	}
	// The last plans stored are the ones kept beside the hot one.
	if _, ok := c.Load("one-off 9999"); !ok {
		t.Error("the newest plan is not cached")
	}
}

// The zero value (a snapshot compiled outside a Registry) is bounded by
// the default size.
func TestPlanCacheZeroValueDefaultBound(t *testing.T) {
	var c PlanCache
	for i := range DefaultPlanCacheSize + 10 {
		c.Store(i, i)
	}
	if n, e := c.Len(), c.Evictions(); n != DefaultPlanCacheSize || e != 10 {
		t.Errorf("len %d evictions %d, want %d and 10", n, e, DefaultPlanCacheSize)
	}
}

// Two builders of the same plan get the one stored first, and concurrent
// hits, stores and evictions keep the bound (run with -race).
func TestPlanCacheConcurrent(t *testing.T) {
	c := &PlanCache{}
	c.configure(16, nil)
	if got := c.Store("k", 1); got != 1 {
		t.Fatal(got)
	}
	if got := c.Store("k", 2); got != 1 {
		t.Fatalf("second Store of a key returned %v, want the first value", got)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (g*7 + i) % 100
				if v, ok := c.Load(k); ok && v != k {
					t.Errorf("key %d holds %v", k, v)
					return
				}
				c.Store(k, k)
			}
		}()
	}
	wg.Wait()
	if n := c.Len(); n > 16 {
		t.Errorf("%d plans cached, bound 16", n)
	}
}

// BenchmarkPlanCache compares a hit on PlanCache with a hit on the
// unbounded sync.Map it replaced (parallel, a working set of 16 plans),
// and measures a stream of plans that never repeat (every Store evicts).
func BenchmarkPlanCache(b *testing.B) {
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprint("features ", i)
	}
	b.Run("hit/PlanCache", func(b *testing.B) {
		var c PlanCache
		for _, k := range keys {
			c.Store(k, k)
		}
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, ok := c.Load(keys[i&15]); !ok {
					b.Fatal("miss")
				}
				i++
			}
		})
	})
	b.Run("hit/sync.Map", func(b *testing.B) {
		var m sync.Map
		for _, k := range keys {
			m.Store(k, k)
		}
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, ok := m.Load(keys[i&15]); !ok {
					b.Fatal("miss")
				}
				i++
			}
		})
	})
	b.Run("churn", func(b *testing.B) {
		c := &PlanCache{}
		c.configure(1024, nil)
		for i := range b.N {
			c.Store(i, i)
		}
	})
}
