package registry

import (
	"sync"
	"sync/atomic"
)

// DefaultPlanCacheSize is the number of request plans a snapshot keeps when
// no size is configured. A plan is a few kilobytes; clients normally send a
// handful of feature lists, so a few thousand leaves room for many clients
// while a client sending ever-new lists cannot grow memory without bound.
const DefaultPlanCacheSize = 4096

// PlanCache holds the request plans of one snapshot, at most a fixed number
// of them. A hit is a lock-free map load and, the first time the entry is
// used since the clock hand last passed it, one atomic store. Misses (which
// build a plan, far dearer than the cache) take a mutex to insert and evict
// by the clock algorithm: an entry used since the hand last passed it gets
// a second chance, one not used is dropped, so plans in steady use stay
// while one-off ones make room for each other.
//
// The zero value is ready to use and holds DefaultPlanCacheSize plans.
type PlanCache struct {
	m sync.Map // key → *planEntry

	mu        sync.Mutex
	limit     int // 0: DefaultPlanCacheSize
	ring      []*planEntry
	hand      int
	evictions atomic.Uint64
	// sink, when set, also counts evictions (the registry's total over
	// every snapshot it has served).
	sink *atomic.Uint64
}

type planEntry struct {
	key, val any
	used     atomic.Bool
}

// configure sets the bound and the registry's eviction counter; it must be
// called before the snapshot is published.
func (c *PlanCache) configure(limit int, sink *atomic.Uint64) {
	c.limit, c.sink = limit, sink
}

// Load returns the plan cached under key.
func (c *PlanCache) Load(key any) (any, bool) {
	v, ok := c.m.Load(key)
	if !ok {
		return nil, false
	}
	e := v.(*planEntry)
	if !e.used.Load() { // skip the store (and the cache-line write) when set
		e.used.Store(true)
	}
	return e.val, true
}

// Store caches val under key, evicting a plan not used lately when the
// cache is full. It returns the value cached under key: val, or the one a
// concurrent caller stored first (plans of one key are interchangeable).
func (c *PlanCache) Store(key, val any) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m.Load(key); ok {
		return v.(*planEntry).val
	}
	e := &planEntry{key: key, val: val}
	limit := c.limit
	if limit <= 0 {
		limit = DefaultPlanCacheSize
	}
	if len(c.ring) < limit {
		c.ring = append(c.ring, e)
	} else {
		// At most two turns: the first clears every used bit it meets.
		for {
			victim := c.ring[c.hand]
			if victim.used.Load() {
				victim.used.Store(false)
				c.hand = (c.hand + 1) % len(c.ring)
				continue
			}
			c.m.Delete(victim.key)
			c.ring[c.hand] = e
			c.hand = (c.hand + 1) % len(c.ring)
			c.evictions.Add(1)
			if c.sink != nil {
				c.sink.Add(1)
			}
			break
		}
	}
	c.m.Store(key, e)
	return val
}

// Len returns the number of plans cached.
func (c *PlanCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ring)
}

// Evictions returns the number of plans this cache has dropped.
func (c *PlanCache) Evictions() uint64 { return c.evictions.Load() }
