package redis

import (
	"sync/atomic"
	"unsafe"
)

// Redis keeps a hash of up to hash-max-listpack-entries (128 by default)
// small fields as a listpack, where HMGET looks every field up by a linear
// scan: reading all 55 fields of such a hash (five views of one entity)
// costs Redis 3.5 times the CPU of HGETALL, which walks it once. So a set
// of at least hgetallMinFields fields whose hashes hold at most twice as
// many fields is read with HGETALL and the wanted fields picked out here.
// The size of its hashes is learned per field list: an HLEN with the first
// HMGET, the size of every HGETALL reply, and an HLEN again every
// reprobeEvery reads. When the hash is a hashtable instead (large values),
// HGETALL of at most twice the wanted fields costs at most about 1.4 times
// the HMGET; answers are the same either way.
const (
	hgetallMinFields = 16
	reprobeEvery     = 1024
	maxShapes        = 4096
)

// setShape is what is known of the hashes a field list reads.
type setShape struct {
	names []string       // the field list, to tell signature collisions
	index map[string]int // field name -> position; nil if a name repeats
	hlen  atomic.Int64   // fields per hash, 0 while unknown
	uses  atomic.Uint64
	// order is the slot of each position of the last HGETALL reply that
	// differed from the one before (-1: a field not wanted).
	order atomic.Pointer[[]int32]
}

// chooseRead decides between HMGET and HGETALL for a set.
func (s *Store) chooseRead(set *hmgetSet, firstKey []byte) {
	k := len(set.fields)
	if k < hgetallMinFields {
		return
	}
	sh := s.shapeOf(set.fields)
	if sh == nil || sh.index == nil {
		return
	}
	set.shape = sh
	n := sh.hlen.Load()
	if n > 0 && int64(2*k) >= n {
		set.all = true
		if o := sh.order.Load(); o != nil {
			set.order = *o
		}
	}
	if u := sh.uses.Add(1); n == 0 || (!set.all && u%reprobeEvery == 0) {
		set.probe, set.probeKey, set.hlen = true, firstKey, -1
	}
}

// learn records what a read saw of the set's hashes.
func (s *Store) learn(set *hmgetSet) {
	if o := set.newOrder; o != nil {
		set.shape.order.Store(&o)
	}
	switch {
	case set.shape == nil:
	case set.all && set.seen > 0:
		set.shape.hlen.Store(int64(set.seen))
	case set.probe && set.hlen > 0:
		set.shape.hlen.Store(int64(set.hlen))
	}
}

// shapeOf returns the shape of a field list, creating it when new (nil
// when the table is full).
func (s *Store) shapeOf(fields []fieldEntry) *setShape {
	// The fields' encoded names are interned in the field cache, so their
	// addresses identify them.
	h := uint64(14695981039346656037)
	for _, f := range fields {
		h ^= uint64(uintptr(unsafe.Pointer(unsafe.StringData(f.bulk))))
		h *= 1099511628211
	}
	if sh, ok := s.shapes.load()[h]; ok {
		if sameNames(sh.names, fields) {
			return sh
		}
		return nil // a collision: leave this list on HMGET
	}
	sh := &setShape{names: make([]string, len(fields)), index: make(map[string]int, len(fields))}
	for i, f := range fields {
		sh.names[i] = f.name
		if _, dup := sh.index[f.name]; dup {
			sh.index = nil
		} else if sh.index != nil {
			sh.index[f.name] = i
		}
	}
	got, ok := s.shapes.loadOrStore(h, sh, maxShapes)
	if !ok || !sameNames(got.names, fields) {
		return nil // the table is full, or another list took h meanwhile
	}
	return got
}

func sameNames(names []string, fields []fieldEntry) bool {
	if len(names) != len(fields) {
		return false
	}
	for i, f := range fields {
		if names[i] != f.name {
			return false
		}
	}
	return true
}
