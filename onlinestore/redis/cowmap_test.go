package redis

import (
	"sync"
	"testing"
)

func TestCowMapLoadOrStore(t *testing.T) {
	var c cowMap[int, string]
	if c.load() != nil {
		t.Fatal("an empty map is not nil")
	}
	if v, ok := c.loadOrStore(1, "a", 2); !ok || v != "a" {
		t.Fatalf("store: %q %v", v, ok)
	}
	before := c.load()
	if v, ok := c.loadOrStore(1, "b", 2); !ok || v != "a" {
		t.Fatalf("load of a held key: %q %v, want the first value", v, ok)
	}
	if v, ok := c.loadOrStore(2, "c", 2); !ok || v != "c" {
		t.Fatalf("second store: %q %v", v, ok)
	}
	if len(before) != 1 {
		t.Fatal("a published map was modified")
	}
	if v, ok := c.loadOrStore(3, "d", 2); ok || v != "d" || len(c.load()) != 2 {
		t.Fatalf("full map: %q %v, %d entries", v, ok, len(c.load()))
	}
}

// Concurrent stores of distinct keys all land, and readers never see a
// map being written (run with -race).
func TestCowMapConcurrent(t *testing.T) {
	var c cowMap[int, int]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				c.loadOrStore(g*100+i, i, 1<<20)
				_ = c.load()[i]
			}
		}()
	}
	wg.Wait()
	if n := len(c.load()); n != 400 {
		t.Fatalf("%d entries, want 400", n)
	}
}
