package redis

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// The read path: requests grouped into key sets, one pipelined round
// trip of HMGETs (or HGETALLs, read_shape.go), the replies sliced into rows.

// Read issues one HMGET per distinct entity key in a single round trip:
// requests (views) with the same key list are merged, so every view of one
// entity is read by one HMGET of all their fields (Feast keeps all views of
// an entity key in one hash).
func (s *Store) Read(ctx context.Context, reqs []onlinestore.ReadRequest) error {
	return s.ReadScratch(ctx, reqs, nil)
}

// ReadScratch is Read with the answers in sc's memory (nil: new memory).
func (s *Store) ReadScratch(ctx context.Context, reqs []onlinestore.ReadRequest, sc *onlinestore.Scratch) error {
	// Requests with the same keys share a set: its HMGET fields are each
	// member's features then its _ts field, one member after the other.
	var setOfBuf, offBuf [8]int
	setOf := setOfBuf[:0] // request -> its set
	off := offBuf[:0]     // request -> where its fields start in the set
	var firstBuf [8]int
	first := firstBuf[:0] // set -> its first request
	n := 0                // commands: one per key of each set
	for i := range reqs {
		set := -1
		for k, f := range first {
			if sameKeys(reqs[f].Keys, reqs[i].Keys) {
				set = k
				break
			}
		}
		if set < 0 {
			set = len(first)
			first = append(first, i)
			n += len(reqs[i].Keys)
		}
		setOf = append(setOf, set)
	}
	if n == 0 {
		return nil
	}
	fields := s.fieldCache()
	var rm *readMem
	if sc != nil {
		if rm, _ = sc.Private.(*readMem); rm == nil {
			rm = new(readMem)
			sc.Private = rm
		}
	} else {
		rm = new(readMem)
	}
	sets := grow(rm.sets, len(first))
	var widthBuf [8]int
	width := widthBuf[:len(first)] // fields per set
	if len(first) > len(widthBuf) {
		width = make([]int, len(first))
	}
	total := 0
	for i := range reqs {
		width[setOf[i]] += len(reqs[i].Features) + 1
		total += len(reqs[i].Features) + 1
	}
	rm.fields = grow(rm.fields, total)
	slab := rm.fields
	for i := range reqs {
		set := &sets[setOf[i]]
		if set.fields == nil {
			w := width[setOf[i]]
			set.fields, slab = slab[:0:w], slab[w:]
		}
		off = append(off, len(set.fields))
		set.fields = fields.appendFields(s, set.fields, reqs[i].View, reqs[i].Features)
	}
	cmds := rm.cmds[:0]
	nvals := 0
	for k, f := range first {
		for _, key := range reqs[f].Keys {
			cmds = append(cmds, hmgetCmd{key: key, set: k})
		}
		nvals += len(reqs[f].Keys) * len(sets[k].fields)
	}
	rm.sets, rm.cmds = sets, cmds
	var vals [][]byte
	var arena *[]byte
	if sc != nil {
		sc.Vals = grow(sc.Vals, nvals)
		vals = sc.Vals
		arena = &sc.Bytes
	} else {
		vals = make([][]byte, nvals)
	}
	var err error
	if s.fast != nil {
		for k, f := range first {
			s.chooseRead(&sets[k], reqs[f].Keys[0])
		}
		err = s.fast.hmget(ctx, s.project, cmds, sets, vals, arena)
		for k := range sets {
			s.learn(&sets[k])
		}
	} else {
		err = s.hmgetGoRedis(ctx, cmds, sets, vals)
	}
	if err != nil {
		return core.Unavailable(err, "online store redis read failed")
	}
	return fillRows(reqs, sc, sets, first, setOf, off, vals)
}

// fillRows slices the reply values into each request's rows: request i's
// values are its slots (from off[i]) of each key's run in its set's span of
// vals; a row with any value or a timestamp is found.
func fillRows(reqs []onlinestore.ReadRequest, sc *onlinestore.Scratch, sets []hmgetSet, first, setOf, off []int, vals [][]byte) error {
	// Where each command's values start in vals.
	var startBuf [8]int
	setStart := startBuf[:0] // set -> index in vals of its first value
	v := 0
	for k, f := range first {
		setStart = append(setStart, v)
		v += len(reqs[f].Keys) * len(sets[k].fields)
	}
	nrows := 0
	for i := range reqs {
		nrows += len(reqs[i].Keys)
	}
	var rows []onlinestore.Row
	if sc != nil {
		sc.Rows = grow(sc.Rows, nrows)
		rows = sc.Rows
	} else {
		rows = make([]onlinestore.Row, nrows)
	}
	for i := range reqs {
		r := &reqs[i]
		nf := len(r.Features)
		set := setOf[i]
		width := len(sets[set].fields)
		r.Rows, rows = rows[:len(r.Keys):len(r.Keys)], rows[len(r.Keys):]
		for j := range r.Keys {
			// The row's values are its slots of the reply.
			res := vals[setStart[set]+j*width+off[i]:]
			res = res[: nf+1 : nf+1]
			row := &r.Rows[j]
			row.Values = res[:nf:nf]
			for f := range row.Values {
				if row.Values[f] != nil {
					row.Found = true
				}
			}
			if ts := res[nf]; ts != nil {
				row.Found = true
				t, err := parseTimestamp(ts)
				if err != nil {
					return fmt.Errorf("redis: bad _ts:%s value: %w", r.View, err)
				}
				row.TS = t
			}
			if row.Found {
				// Feast writes no field for a null feature, and reads an
				// absent field of an existing row as a null value.
				for f := range row.Values {
					if row.Values[f] == nil {
						row.Values[f] = emptyValue
					}
				}
			}
		}
	}
	return nil
}

// grow returns s resized to n zeroed elements, reusing its array when it
// is large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// hmgetSet is the field list shared by the HMGETs of one key set.
type hmgetSet struct {
	fields []fieldEntry
	// On standalone Redis, a set reading most fields of small hashes uses
	// HGETALL instead of HMGET (see setShape).
	all   bool
	shape *setShape
	seen  int // largest hash read by HGETALL in this call
	// order predicts the slot of each position of an HGETALL reply;
	// newOrder is the order seen when it differed.
	order     []int32
	orderSeen bool
	newOrder  []int32
	// probe asks HLEN of probeKey after the reads; hlen is the answer.
	probe    bool
	probeKey []byte
	hlen     int
}

// readMem is the working memory of one read, reused through
// onlinestore.Scratch.Private.
type readMem struct {
	sets   []hmgetSet
	fields []fieldEntry
	cmds   []hmgetCmd
}

// hmgetCmd is one HMGET: an entity key (the project is appended) and the
// set whose fields it reads.
type hmgetCmd struct {
	key []byte
	set int
}

// hmgetGoRedis runs the HMGETs through go-redis (Redis Cluster and
// Sentinel), in one pipeline, filling vals like respPool.hmget.
func (s *Store) hmgetGoRedis(ctx context.Context, cmds []hmgetCmd, sets []hmgetSet, vals [][]byte) error {
	size := 0
	for _, c := range cmds {
		size += len(c.key) + len(s.project)
	}
	keyBuf := make([]byte, 0, size)
	gcmds := make([]*goredis.SliceCmd, len(cmds))
	for i, c := range cmds {
		fields := sets[c.set].fields
		args := make([]any, 2, 2+len(fields))
		start := len(keyBuf)
		keyBuf = s.redisKey(keyBuf, c.key)
		args[0], args[1] = "hmget", unsafeString(keyBuf[start:])
		for _, f := range fields {
			args = append(args, f.arg)
		}
		gcmds[i] = goredis.NewSliceCmd(ctx, args...)
	}
	if len(gcmds) == 1 {
		_ = s.c.Process(ctx, gcmds[0])
	} else {
		pipe := s.c.Pipeline()
		for _, cmd := range gcmds {
			_ = pipe.Process(ctx, cmd)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
	}
	v := 0
	for i, cmd := range gcmds {
		res, err := cmd.Result()
		if err != nil {
			return err
		}
		if len(res) != len(sets[cmds[i].set].fields) {
			return fmt.Errorf("redis: HMGET answered %d values for %d fields", len(res), len(sets[cmds[i].set].fields))
		}
		for _, x := range res {
			if str, ok := x.(string); ok {
				vals[v] = unsafeBytes(str)
				if vals[v] == nil {
					vals[v] = emptyValue
				}
			}
			v++
		}
	}
	return nil
}

// sameKeys reports whether two key lists are equal (usually they are the
// very same slice: the serving layer shares one list between the views of
// one entity).
func sameKeys(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || unsafe.SliceData(a) == unsafe.SliceData(b) {
		return true
	}
	for i := range a {
		if string(a[i]) != string(b[i]) {
			return false
		}
	}
	return true
}
