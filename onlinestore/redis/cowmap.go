package redis

import (
	"maps"
	"sync"
	"sync/atomic"
)

// cowMap is a read-mostly map for the read path's caches: a lookup is one
// atomic load and a map index, with no lock; an insert copies the map under
// a mutex and publishes the copy (the caches fill once, then are only read).
// A published map is never modified.
type cowMap[K comparable, V any] struct {
	mu sync.Mutex
	p  atomic.Pointer[map[K]V]
}

// load returns the current map (nil while empty); callers must not modify it.
func (c *cowMap[K, V]) load() map[K]V {
	if p := c.p.Load(); p != nil {
		return *p
	}
	return nil
}

// loadOrStore returns the value held for k, or stores v and returns it. ok
// is false, and nothing is stored, when k is absent and the map already
// holds limit entries.
func (c *cowMap[K, V]) loadOrStore(k K, v V, limit int) (actual V, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.load()
	if cur, found := old[k]; found {
		return cur, true
	}
	if len(old) >= limit {
		return v, false
	}
	m := make(map[K]V, len(old)+1)
	maps.Copy(m, old)
	m[k] = v
	c.p.Store(&m)
	return v, true
}
