// Package cache is the hot-entity read cache: an online store wrapper that
// answers repeated reads of the same entities from memory.
//
// Two modes:
//
//   - Tracking (Redis and Redis Sentinel): the store's invalidation stream
//     (onlinestore.Tracker, Redis's CLIENT TRACKING) names every entity any
//     writer changes, ours or another process's (feast materialize, another
//     server), and the entity is dropped when the name arrives. While the
//     stream is down nothing is served from memory, and everything cached is
//     dropped, since changes may have been missed. The TTL is a safety net.
//   - TTL only (SQLite, PostgreSQL, which cannot tell us of other writers'
//     changes): an entry is served for at most TTL after it was read, so a
//     value written by another process may be served stale for up to TTL.
//     Writes through this wrapper drop their entities at once in either mode.
//
// Rows of a store whose rows expire on their own (onlinestore.Expirer:
// Redis with key_ttl_seconds) are cached until their expiry at most.
//
// Memory is bounded by bytes (an LRU per shard); entity-key lookups take one
// shard lock. Cached values are shared between readers and never modified.
package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// Options configure a Cache.
type Options struct {
	// MaxBytes bounds the memory of the cached rows (approximately: keys,
	// values and bookkeeping are counted). Must be positive.
	MaxBytes int64
	// TTL is the longest an entry is served after it was read (with Track,
	// a safety net; without, the staleness bound). Must be positive.
	TTL time.Duration
	// Track serves from memory only while the store's invalidation stream
	// is up; the store must implement onlinestore.Tracker and support it.
	Track bool
	Log   *slog.Logger
}

// Stats are the cache's counters since it was made.
type Stats struct {
	Hits, Misses, Evictions, Invalidations uint64
	// Bytes and Entities are what is held now.
	Bytes, Entities int64
	// Live is true while reads may be served from memory (always without
	// Track; with it, while the invalidation stream is up).
	Live bool
}

const nShards = 256

// Cache wraps an online store. It implements onlinestore.Store,
// ScratchReader and Pinger, and Writer when the store does.
type Cache struct {
	store   onlinestore.Store
	scratch onlinestore.ScratchReader
	expirer onlinestore.Expirer
	ttl     int64 // nanoseconds
	max     int64 // bytes per shard
	log     *slog.Logger
	seed    maphash.Seed
	shards  [nShards]shard

	live                                   atomic.Bool
	epoch                                  atomic.Uint64 // bumped when everything is dropped
	hits, misses, evictions, invalidations atomic.Uint64

	stop context.CancelFunc
	done chan struct{}
	now  func() int64
}

type shard struct {
	mu    sync.Mutex
	gen   uint64 // bumped by each invalidation of one of its entities
	ents  map[string]*entity
	lru   entity // sentinel: lru.next is the most recently used
	bytes int64
}

// entity holds the cached rows of one entity key, one item per view and
// feature list read.
type entity struct {
	key        string
	items      []item
	size       int64
	prev, next *entity
}

type item struct {
	sig   string // view, then the features, NUL-separated
	exp   int64
	found bool
	ts    core.Timestamp
	vals  [][]byte
}

// Bookkeeping bytes charged per entity and per item besides their data.
const (
	entityOverhead = 160
	itemOverhead   = 96
	valueOverhead  = 24
)

// New wraps store. With o.Track it starts following the store's
// invalidations; reads are served from the store alone until the stream is
// up. Close stops it and closes the store.
func New(store onlinestore.Store, o Options) (*Cache, error) {
	if o.MaxBytes <= 0 {
		return nil, fmt.Errorf("online cache: max bytes %d: must be positive", o.MaxBytes)
	}
	if o.TTL <= 0 {
		return nil, fmt.Errorf("online cache: ttl %v: must be positive", o.TTL)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{store: store, ttl: int64(o.TTL), max: max(o.MaxBytes/nShards, 1), log: log, seed: maphash.MakeSeed(),
		now: func() int64 { return time.Now().UnixNano() }}
	c.scratch, _ = store.(onlinestore.ScratchReader)
	c.expirer, _ = store.(onlinestore.Expirer)
	for i := range c.shards {
		s := &c.shards[i]
		s.ents = map[string]*entity{}
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	if !o.Track {
		c.live.Store(true)
		return c, nil
	}
	tr, ok := store.(onlinestore.Tracker)
	if !ok {
		return nil, errors.New("online cache: this online store cannot report other writers' changes; use a TTL-only cache")
	}
	if err := tr.TrackingSupported(); err != nil {
		return nil, fmt.Errorf("online cache: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	c.stop, c.done = stop, make(chan struct{})
	go func() {
		defer close(c.done)
		_ = tr.Track(ctx, (*listener)(c))
	}()
	return c, nil
}

// Close stops following invalidations and closes the store.
func (c *Cache) Close() error {
	if c.stop != nil {
		c.stop()
		<-c.done
	}
	c.live.Store(false)
	return c.store.Close()
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	st := Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load(),
		Invalidations: c.invalidations.Load(), Live: c.live.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Bytes += s.bytes
		st.Entities += int64(len(s.ents))
		s.mu.Unlock()
	}
	return st
}

// Ping asks the store.
func (c *Cache) Ping(ctx context.Context) error {
	if p, ok := c.store.(onlinestore.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// OnlineSize asks the store (onlinestore.Sizer); 0 when it cannot tell.
func (c *Cache) OnlineSize(ctx context.Context) (int64, error) {
	if sz, ok := c.store.(onlinestore.Sizer); ok {
		return sz.OnlineSize(ctx)
	}
	return 0, errors.New("online store cannot tell its size")
}

// DedupsByEventTime reports what the store's writes do.
func (c *Cache) DedupsByEventTime() bool {
	d, ok := c.store.(interface{ DedupsByEventTime() bool })
	return ok && d.DedupsByEventTime()
}

// Write writes through to the store, then drops the written entities (also
// after an error: some rows may have been written).
func (c *Cache) Write(ctx context.Context, b onlinestore.WriteBatch) error {
	w, ok := c.store.(onlinestore.Writer)
	if !ok {
		return errors.New("online store does not accept writes")
	}
	err := w.Write(ctx, b)
	for i := range b.Rows {
		c.invalidate(b.Rows[i].Key)
	}
	return err
}

// Read implements onlinestore.Store.
func (c *Cache) Read(ctx context.Context, reqs []onlinestore.ReadRequest) error {
	return c.ReadScratch(ctx, reqs, &onlinestore.Scratch{})
}

// mem is a read's working memory, kept in the caller's Scratch.
type mem struct {
	inner onlinestore.Scratch // the store's answers to the misses
	miss  []onlinestore.ReadRequest
	// For each miss request: its request, and per key its row's index
	// and the shard generation when it missed.
	missOf []int
	rowOf  [][]int
	genOf  [][]uint64
	keys   [][][]byte
	all    [][]byte // every miss key, for the store's Expiries
	sig    []byte
}

// ReadScratch implements onlinestore.ScratchReader: hits come from memory,
// the misses of all requests from the store in one call.
func (c *Cache) ReadScratch(ctx context.Context, reqs []onlinestore.ReadRequest, sc *onlinestore.Scratch) error {
	if err := ctx.Err(); err != nil {
		return core.Unavailable(err, "online read abandoned")
	}
	if !c.live.Load() {
		return c.readStore(ctx, reqs, sc)
	}
	m, _ := sc.Private.(*mem)
	if m == nil {
		m = &mem{}
		sc.Private = m
	}
	epoch := c.epoch.Load()
	now := c.now()
	total := 0
	for i := range reqs {
		total += len(reqs[i].Keys)
	}
	if cap(sc.Rows) < total {
		sc.Rows = make([]onlinestore.Row, total)
	}
	rows := sc.Rows[:total]
	clear(rows)
	m.miss, m.missOf = m.miss[:0], m.missOf[:0]
	var hits, misses uint64
	for i := range reqs {
		r := &reqs[i]
		r.Rows, rows = rows[:len(r.Keys):len(r.Keys)], rows[len(r.Keys):]
		m.sig = appendSig(m.sig[:0], r.View, r.Features)
		mi := -1
		for k, key := range r.Keys {
			s := c.shardOf(key)
			s.mu.Lock()
			it := s.lookup(key, m.sig, now)
			if it != nil {
				r.Rows[k] = onlinestore.Row{Found: it.found, TS: it.ts, Values: it.vals}
				s.mu.Unlock()
				hits++
				continue
			}
			gen := s.gen
			s.mu.Unlock()
			misses++
			if mi < 0 {
				mi = len(m.miss)
				m.addMiss(i, r)
			}
			m.keys[mi] = append(m.keys[mi], key)
			m.rowOf[mi] = append(m.rowOf[mi], k)
			m.genOf[mi] = append(m.genOf[mi], gen)
		}
	}
	c.hits.Add(hits)
	c.misses.Add(misses)
	if len(m.miss) == 0 {
		return nil
	}
	for j := range m.miss {
		m.miss[j].Keys = m.keys[j]
		m.miss[j].Rows = nil
	}
	if err := c.readStore(ctx, m.miss, &m.inner); err != nil {
		for i := range reqs {
			reqs[i].Rows = nil
		}
		return err
	}
	// Rows that expire on their own are cached until their expiry at most;
	// without an answer about it, they are not cached at all.
	var left []time.Duration
	cacheable := true
	if c.expirer != nil {
		m.all = m.all[:0]
		for j := range m.miss {
			m.all = append(m.all, m.miss[j].Keys...)
		}
		var err error
		if left, err = c.expirer.Expiries(ctx, m.all); err != nil || left != nil && len(left) != len(m.all) {
			cacheable = false
		}
	}
	at := 0
	for j := range m.miss {
		q := &m.miss[j]
		r := &reqs[m.missOf[j]]
		if len(q.Rows) != len(q.Keys) {
			return fmt.Errorf("online store returned %d rows for %d keys of %s", len(q.Rows), len(q.Keys), q.View)
		}
		m.sig = appendSig(m.sig[:0], r.View, r.Features)
		for k, row := range q.Rows {
			r.Rows[m.rowOf[j][k]] = row
			exp := now + c.ttl
			if left != nil && left[at+k] >= 0 {
				exp = min(exp, now+int64(left[at+k]))
			}
			if cacheable && exp > now {
				c.insert(q.Keys[k], m.sig, row, m.genOf[j][k], epoch, exp)
			}
		}
		at += len(q.Keys)
	}
	return nil
}

// addMiss starts the miss request of reqs[i].
func (m *mem) addMiss(i int, r *onlinestore.ReadRequest) {
	j := len(m.miss)
	m.miss = append(m.miss, onlinestore.ReadRequest{View: r.View, Features: r.Features})
	m.missOf = append(m.missOf, i)
	if len(m.keys) <= j {
		m.keys = append(m.keys, nil)
		m.rowOf = append(m.rowOf, nil)
		m.genOf = append(m.genOf, nil)
	}
	m.keys[j], m.rowOf[j], m.genOf[j] = m.keys[j][:0], m.rowOf[j][:0], m.genOf[j][:0]
}

func (c *Cache) readStore(ctx context.Context, reqs []onlinestore.ReadRequest, sc *onlinestore.Scratch) error {
	if c.scratch != nil {
		return c.scratch.ReadScratch(ctx, reqs, sc)
	}
	return c.store.Read(ctx, reqs)
}

func appendSig(dst []byte, view string, features []string) []byte {
	dst = append(dst, view...)
	for _, f := range features {
		dst = append(dst, 0)
		dst = append(dst, f...)
	}
	return dst
}

func (c *Cache) shardOf(key []byte) *shard {
	return &c.shards[maphash.Bytes(c.seed, key)%nShards]
}

// lookup returns the live item of key and sig, moving its entity to the
// front of the LRU; s.mu is held.
func (s *shard) lookup(key, sig []byte, now int64) *item {
	e := s.ents[string(key)]
	if e == nil {
		return nil
	}
	for i := range e.items {
		it := &e.items[i]
		if it.sig != string(sig) {
			continue
		}
		if now >= it.exp {
			return nil // replaced by the next insert
		}
		s.unlink(e)
		s.pushFront(e)
		return it
	}
	return nil
}

// insert caches row, a copy of it, unless an invalidation reached its
// shard (gen moved) or everything was dropped (epoch moved) since the read
// that gave it began: the row may predate that change.
func (c *Cache) insert(key, sig []byte, row onlinestore.Row, gen, epoch uint64, exp int64) {
	size := int64(itemOverhead + len(sig))
	for _, v := range row.Values {
		size += valueOverhead + int64(len(v))
	}
	it := item{found: row.Found, ts: row.TS, exp: exp}
	if row.Values != nil {
		// One allocation for the values' bytes; nil (absent) stays nil and
		// an empty stored null stays empty and non-nil.
		n := 0
		for _, v := range row.Values {
			n += len(v)
		}
		buf := make([]byte, 0, n)
		it.vals = make([][]byte, len(row.Values))
		for i, v := range row.Values {
			if v != nil {
				buf = append(buf, v...)
				it.vals[i] = buf[len(buf)-len(v) : len(buf) : len(buf)]
			}
		}
	}
	s := c.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen || c.epoch.Load() != epoch || !c.live.Load() {
		return
	}
	e := s.ents[string(key)]
	if e == nil {
		if size+entityOverhead+int64(len(key)) > c.max {
			return
		}
		e = &entity{key: string(key), size: entityOverhead + int64(len(key))}
		s.ents[e.key] = e
		s.bytes += e.size
	} else {
		s.unlink(e)
	}
	s.pushFront(e)
	replaced := false
	for i := range e.items {
		if e.items[i].sig == string(sig) {
			old := &e.items[i]
			delta := size - itemSize(old)
			it.sig = old.sig
			*old = it
			e.size += delta
			s.bytes += delta
			replaced = true
			break
		}
	}
	if !replaced {
		it.sig = string(sig)
		e.items = append(e.items, it)
		e.size += size
		s.bytes += size
	}
	for s.bytes > c.max && s.lru.prev != &s.lru {
		victim := s.lru.prev
		if victim == e && len(s.ents) == 1 {
			break // the entity alone is within the bound (checked above)
		}
		s.remove(victim)
		c.evictions.Add(1)
	}
}

func itemSize(it *item) int64 {
	size := int64(itemOverhead + len(it.sig))
	for _, v := range it.vals {
		size += valueOverhead + int64(len(v))
	}
	return size
}

func (s *shard) pushFront(e *entity) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

func (s *shard) unlink(e *entity) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *shard) remove(e *entity) {
	s.unlink(e)
	delete(s.ents, e.key)
	s.bytes -= e.size
}

// invalidate drops key's entity and fences off the reads of its shard in
// flight.
func (c *Cache) invalidate(key []byte) {
	s := c.shardOf(key)
	s.mu.Lock()
	s.gen++
	if e := s.ents[string(key)]; e != nil {
		s.remove(e)
	}
	s.mu.Unlock()
	c.invalidations.Add(1)
}

// dropAll drops everything and fences off every read in flight.
func (c *Cache) dropAll() {
	c.epoch.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.gen++
		clear(s.ents)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
		s.bytes = 0
		s.mu.Unlock()
	}
	c.invalidations.Add(1)
}

// listener receives the store's invalidation stream.
type listener Cache

func (l *listener) Up() {
	c := (*Cache)(l)
	c.dropAll() // what changed while the stream was down is unknown
	c.live.Store(true)
	c.log.Info("online cache: following the store's invalidations; serving from memory")
}

func (l *listener) Down(err error) {
	c := (*Cache)(l)
	was := c.live.Swap(false)
	c.dropAll()
	if was {
		c.log.Warn("online cache: invalidation stream lost; reading from the store until it is back", "err", err)
	} else {
		c.log.Debug("online cache: invalidation stream still down", "err", err)
	}
}

func (l *listener) Invalidate(entityKey []byte) { (*Cache)(l).invalidate(entityKey) }

func (l *listener) InvalidateAll() { (*Cache)(l).dropAll() }

// Describe names the mode for logs and errors.
func (o Options) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bytes, ttl %v", o.MaxBytes, o.TTL)
	if o.Track {
		b.WriteString(", invalidation tracking")
	} else {
		b.WriteString(", ttl only")
	}
	return b.String()
}
