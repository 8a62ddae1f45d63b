package auth

import (
	"strings"
	"sync"
	"time"
)

// TokenCache remembers verified tokens and their users until a deadline,
// in shards so that concurrent requests rarely wait on one another. Init
// it before use; the zero value holds nothing.
type TokenCache struct {
	shards   [32]cacheShard
	perShard int
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	user  *User
	until time.Time
}

// Init sizes the cache for about entries tokens.
func (c *TokenCache) Init(entries int) {
	c.perShard = max(1, entries/len(c.shards))
	for i := range c.shards {
		c.shards[i].m = map[string]cacheEntry{}
	}
}

func (c *TokenCache) shard(token string) *cacheShard {
	// FNV-1a over the token's tail, where signatures differ.
	h := uint32(2166136261)
	tail := token
	if len(tail) > 32 {
		tail = tail[len(tail)-32:]
	}
	for i := 0; i < len(tail); i++ {
		h = (h ^ uint32(tail[i])) * 16777619
	}
	return &c.shards[h%uint32(len(c.shards))]
}

// Get returns the user of token when it is remembered and now is before
// its deadline.
func (c *TokenCache) Get(token string, now time.Time) *User {
	s := c.shard(token)
	s.mu.RLock()
	e, ok := s.m[token]
	s.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil
	}
	return e.user
}

// Put remembers token's user until until, evicting expired entries, then
// arbitrary ones, from a full shard. token may alias a buffer the caller
// reuses: the cache keeps a copy.
func (c *TokenCache) Put(token string, u *User, until, now time.Time) {
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.perShard {
		for k, e := range s.m {
			if !now.Before(e.until) {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < c.perShard {
				break
			}
			delete(s.m, k) // map order: an arbitrary victim
		}
	}
	s.m[strings.Clone(token)] = cacheEntry{user: u, until: until} // token may alias a request's buffer
}
