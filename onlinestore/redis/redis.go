// Package redis is the Redis online store, byte-compatible with Feast's
// RedisOnlineStore: one hash per (entity key, project), 4-byte murmur3
// field names per feature and a "_ts:<view>" timestamp field per view.
//
// Like every back end it imports only core, onlinestore and internal helpers
// (internal/layering checks it).
package redis

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// Options configure the store.
type Options struct {
	// Type is "redis", "redis_cluster" or "redis_sentinel".
	Type           string
	Addrs          []string
	SentinelMaster string
	Username       string
	Password       string
	DB             int
	TLS            *tls.Config
	Project        string
	// KeyTTL, when positive, is applied to every hash written.
	KeyTTL time.Duration
	// SkipDedup writes without reading stored timestamps first.
	SkipDedup bool
	// Timeout bounds every command, so a dead Redis gives an error, not a
	// hang.
	Timeout  time.Duration
	PoolSize int
}

// Store is the Redis online store.
type Store struct {
	c       goredis.UniversalClient
	project string
	keyTTL  time.Duration
	ttlArg  string // EXPIRE's seconds argument, RESP-encoded ("" without a TTL)
	dedup   bool

	// fast serves reads and writes on standalone Redis (nil for cluster
	// and sentinel, served through go-redis).
	fast     *respPool
	fields   atomic.Pointer[fieldMap]
	fieldsMu sync.Mutex
	shapes   atomic.Pointer[shapeMap]
	shapesMu sync.Mutex

	// probeSkip counts down the write batches that skip the EXISTS probe
	// after one found stored keys; tsReads counts the HMGETs of stored
	// event times sent (for tests).
	probeSkip atomic.Int32
	probeOff  atomic.Bool // EXISTS was refused: no more probes
	tsReads   atomic.Int64
}

var _ onlinestore.Store = (*Store)(nil)
var _ onlinestore.Writer = (*Store)(nil)
var _ onlinestore.Pinger = (*Store)(nil)

// New connects (lazily) to Redis.
func New(o Options) (*Store, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("redis: no address")
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 64
	}
	var c goredis.UniversalClient
	switch o.Type {
	case "", "redis":
		c = goredis.NewClient(&goredis.Options{Addr: o.Addrs[0], Username: o.Username, Password: o.Password,
			DB: o.DB, TLSConfig: o.TLS, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, DialTimeout: o.Timeout,
			PoolSize: o.PoolSize, MaxRetries: 1})
	case "redis_cluster":
		c = goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: o.Addrs, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLS, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, DialTimeout: o.Timeout,
			PoolSize: o.PoolSize, MaxRetries: 1})
	case "redis_sentinel":
		master := o.SentinelMaster
		if master == "" {
			master = "mymaster"
		}
		c = goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: master, SentinelAddrs: o.Addrs,
			Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS, ReadTimeout: o.Timeout,
			WriteTimeout: o.Timeout, DialTimeout: o.Timeout, PoolSize: o.PoolSize, MaxRetries: 1})
	default:
		return nil, fmt.Errorf("redis: unknown redis_type %q", o.Type)
	}
	s := &Store{c: c, project: o.Project, keyTTL: o.KeyTTL, ttlArg: ttlArg(o.KeyTTL), dedup: !o.SkipDedup}
	if o.Type == "" || o.Type == "redis" {
		s.fast = newRespPool(o.Addrs[0], o.Username, o.Password, o.DB, o.TLS, o.Timeout, o.PoolSize)
	}
	return s, nil
}

// Close closes the client.
func (s *Store) Close() error {
	if s.fast != nil {
		s.fast.close()
	}
	return s.c.Close()
}

// DedupsByEventTime reports whether Write skips rows not newer than the
// stored ones (Feast's default; off with skip_dedup).
func (s *Store) DedupsByEventTime() bool { return s.dedup }

// Ping sends PING: to the server (standalone), to the master the
// sentinels name (sentinel), or to every master (cluster: a master down
// leaves the keys of its slots unreadable). It returns when ctx is done
// even if the server never answers: go-redis bounds a command by its read
// timeout, not by the context's deadline.
func (s *Store) Ping(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		if cc, ok := s.c.(*goredis.ClusterClient); ok {
			done <- cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
				return c.Ping(ctx).Err()
			})
			return
		}
		done <- s.c.Ping(ctx).Err()
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return core.Unavailable(err, "online store redis is unreachable")
	}
	return nil
}

// FieldName is the hash field of a feature: murmur3 x86_32 (seed 0) of
// "<view>:<feature>", little-endian.
func FieldName(view, feature string) string {
	h := murmur3x86_32(view + ":" + feature)
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], h)
	return string(b[:])
}

// redisKey is the entity key followed by the project name.
func (s *Store) redisKey(dst, key []byte) []byte {
	dst = append(dst, key...)
	return append(dst, s.project...)
}

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

type shapeMap map[uint64]*setShape

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
	var m shapeMap
	if p := s.shapes.Load(); p != nil {
		m = *p
	}
	if sh, ok := m[h]; ok {
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
	s.shapesMu.Lock()
	defer s.shapesMu.Unlock()
	var old shapeMap
	if p := s.shapes.Load(); p != nil {
		old = *p
	}
	if cur, ok := old[h]; ok {
		if sameNames(cur.names, fields) {
			return cur
		}
		return nil
	}
	if len(old) >= maxShapes {
		return nil
	}
	nm := make(shapeMap, len(old)+1)
	for k, v := range old {
		nm[k] = v
	}
	nm[h] = sh
	s.shapes.Store(&nm)
	return sh
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

// fieldKey names one hash field: a feature of a view, or the view's
// "_ts:<view>" field when feature is empty (feature names never are).
type fieldKey struct{ view, feature string }

// fieldEntry is a hash field name ready for either client: boxed for
// go-redis, RESP-encoded for respPool.
type fieldEntry struct {
	name string
	arg  any
	bulk string
}

// fieldMap holds the field names of the features served so far; it is
// never modified once published (copy on write), so reads take no lock.
type fieldMap map[fieldKey]fieldEntry

func (s *Store) fieldCache() fieldMap {
	if m := s.fields.Load(); m != nil {
		return *m
	}
	return nil
}

// appendFields appends the HMGET fields of features of view, then its _ts
// field.
func (m fieldMap) appendFields(s *Store, dst []fieldEntry, view string, features []string) []fieldEntry {
	for _, f := range features {
		e, ok := m[fieldKey{view, f}]
		if !ok {
			e = s.addField(fieldKey{view, f})
		}
		dst = append(dst, e)
	}
	e, ok := m[fieldKey{view, ""}]
	if !ok {
		e = s.addField(fieldKey{view, ""})
	}
	return append(dst, e)
}

// maxCachedFields bounds the field cache (features of every view served).
const maxCachedFields = 1 << 16

func (s *Store) addField(k fieldKey) fieldEntry {
	name := "_ts:" + k.view
	if k.feature != "" {
		name = FieldName(k.view, k.feature)
	}
	e := fieldEntry{name: name, arg: name, bulk: string(appendBulk(nil, name))}
	s.fieldsMu.Lock()
	defer s.fieldsMu.Unlock()
	old := s.fieldCache()
	if _, ok := old[k]; ok || len(old) >= maxCachedFields {
		return e
	}
	m := make(fieldMap, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[k] = e
	s.fields.Store(&m)
	return e
}

// Write stores rows with Feast's dedup: a row not newer than the stored
// "_ts:<view>" (or an earlier row of the batch) is skipped.
func (s *Store) Write(ctx context.Context, b onlinestore.WriteBatch) error {
	if len(b.Rows) == 0 {
		return nil
	}
	if s.fast != nil {
		return s.writeFast(ctx, b)
	}
	return s.writeGoRedis(ctx, b)
}

// writeGoRedis is Write through go-redis (Redis Cluster and Sentinel).
func (s *Store) writeGoRedis(ctx context.Context, b onlinestore.WriteBatch) error {
	tsField := "_ts:" + b.View
	keys := make([]string, len(b.Rows))
	for i, r := range b.Rows {
		keys[i] = string(s.redisKey(nil, r.Key))
	}
	latest := map[string]core.Timestamp{}
	if s.dedup {
		pipe := s.c.Pipeline()
		cmds := make([]*goredis.SliceCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.HMGet(ctx, k, tsField)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
			return core.Unavailable(err, "online store redis write failed")
		}
		for i, cmd := range cmds {
			res, err := cmd.Result()
			if err != nil {
				return core.Unavailable(err, "online store redis write failed")
			}
			if str, ok := res[0].(string); ok {
				t, err := parseTimestamp([]byte(str))
				if err == nil {
					if prev, ok := latest[keys[i]]; !ok || later(t, prev) {
						latest[keys[i]] = t
					}
				}
			}
		}
	}
	fields := make([]string, len(b.Features))
	for j, f := range b.Features {
		fields[j] = FieldName(b.View, f)
	}
	pipe := s.c.Pipeline()
	for i, r := range b.Rows {
		if s.dedup {
			if prev, ok := latest[keys[i]]; ok && !later(r.TS, prev) {
				continue
			}
			latest[keys[i]] = r.TS
		}
		args := make([]any, 0, 2+2*len(fields))
		args = append(args, tsField, appendTimestamp(nil, r.TS))
		for j, f := range fields {
			args = append(args, f, r.Values[j])
		}
		pipe.HSet(ctx, keys[i], args...)
		if s.keyTTL > 0 {
			pipe.Expire(ctx, keys[i], s.keyTTL)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return core.Unavailable(err, "online store redis write failed")
	}
	return nil
}

// emptyValue is a serialized feast.types.Value with nothing set: null.
var emptyValue = []byte{}

func later(a, b core.Timestamp) bool {
	return a.Seconds > b.Seconds || (a.Seconds == b.Seconds && a.Nanos > b.Nanos)
}

// parseTimestamp decodes a google.protobuf.Timestamp and rounds it to the
// microsecond, as Feast does by going through a Python datetime.
func parseTimestamp(b []byte) (core.Timestamp, error) {
	var t core.Timestamp
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.VarintType {
			return t, errors.New("malformed timestamp")
		}
		b = b[n:]
		v, m := protowire.ConsumeVarint(b)
		if m < 0 {
			return t, errors.New("malformed timestamp")
		}
		b = b[m:]
		switch num {
		case 1:
			t.Seconds = int64(v)
		case 2:
			t.Nanos = int32(v)
		}
	}
	if r := t.Nanos % 1000; r != 0 {
		t.Nanos -= r
		if r >= 500 {
			t.Nanos += 1000
		}
		if t.Nanos >= 1e9 {
			t.Seconds++
			t.Nanos -= 1e9
		}
	}
	return t, nil
}

// appendTimestamp encodes a google.protobuf.Timestamp.
func appendTimestamp(dst []byte, t core.Timestamp) []byte {
	if t.Seconds != 0 {
		dst = protowire.AppendTag(dst, 1, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(t.Seconds))
	}
	if t.Nanos != 0 {
		dst = protowire.AppendTag(dst, 2, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(t.Nanos))
	}
	return dst
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
