package redis

import (
	"bytes"
	"context"
	"errors"
	"hash/maphash"
	"strconv"
	"sync"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// The write path on standalone Redis (materialize, push and
// write-to-online-store all end in Store.Write) speaks RESP over respPool
// like the read path. Through go-redis every argument of every HSET was
// boxed in an interface and every reply built as an object: two dozen
// allocations per row and about half of a materialization's CPU. Here a
// batch costs two pipelines written from one reused buffer, the protocol
// Feast's RedisOnlineStore uses:
//
//  1. one HMGET <key> _ts:<view> per row (skipped with SkipDedup, and
//     when an EXISTS probe finds none of the batch's keys: see probeExists);
//  2. for every row newer than what Redis holds and than an earlier row of
//     the batch with the same key, HSET <key> _ts:<view> <ts> <field>
//     <value>..., then EXPIRE <key> <seconds> when a key TTL is set.
//
// The bytes stored are the ones the go-redis path (kept for Redis Cluster
// and Sentinel, writeGoRedis) stores; TestRespWriteMatchesGoRedis checks it.

// writeState is the memory one Write reuses from batch to batch.
type writeState struct {
	out    []byte
	fields []fieldEntry // the batch's feature fields, then _ts:<view>
	// latest and has are, per row that is the first of its key in the
	// batch, the newest event time of that key: the stored _ts, then that
	// of each row written.
	latest []core.Timestamp
	has    []bool
	// slots is an open-addressing table of key hash -> first row with that
	// key + 1 (0: empty), to find rows repeating a key without a map.
	slots []int32
}

var writeStates = sync.Pool{New: func() any { return new(writeState) }}

var keySeed = maphash.MakeSeed()

// resetSlots empties st.slots, sized for n rows.
func (st *writeState) resetSlots(n int) {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if cap(st.slots) < size {
		st.slots = make([]int32, size)
	}
	st.slots = st.slots[:size]
	clear(st.slots)
}

// firstRow returns the first row of the batch whose key is rows[i]'s (i
// itself when the key is new); rows are visited in order.
func (st *writeState) firstRow(rows []onlinestore.WriteRow, i int) int {
	key := rows[i].Key
	mask := uint64(len(st.slots) - 1)
	for h := maphash.Bytes(keySeed, key) & mask; ; h = (h + 1) & mask {
		switch f := st.slots[h]; {
		case f == 0:
			st.slots[h] = int32(i + 1)
			return i
		case bytes.Equal(rows[f-1].Key, key):
			return int(f - 1)
		}
	}
}

// maxKeptWriteBuf bounds the request buffer a writeState keeps for the next
// batch (10,000 rows of ten scalar features take about 3 MB).
const maxKeptWriteBuf = 32 << 20

// deadlineEvery is how many replies are read between deadline renewals:
// the timeout bounds a stall, not a whole large batch.
const deadlineEvery = 4096

// replyLine reads the first line of reply i of a long pipeline, renewing
// the connection's deadline every deadlineEvery replies.
func (s *Store) replyLine(ctx context.Context, c *respConn, i int) ([]byte, error) {
	if i > 0 && i%deadlineEvery == 0 {
		if err := c.nc.SetDeadline(s.fast.deadline(ctx)); err != nil {
			return nil, err
		}
	}
	return c.line()
}

func (s *Store) writeFast(ctx context.Context, b onlinestore.WriteBatch) error {
	for i := range b.Rows {
		if len(b.Rows[i].Values) != len(b.Features) {
			return core.Invalidf("redis write of %s: row %d has %d values for %d features", b.View, i, len(b.Rows[i].Values), len(b.Features))
		}
	}
	st := writeStates.Get().(*writeState)
	defer func() {
		if cap(st.out) > maxKeptWriteBuf {
			st.out = nil
		}
		writeStates.Put(st)
	}()
	st.fields = s.fieldCache().appendFields(s, st.fields[:0], b.View, b.Features)
	err := s.fast.with(ctx, func(c *respConn) error { return s.writeRoundTrips(ctx, c, st, b) })
	if err != nil {
		return core.Unavailable(err, "online store redis write failed")
	}
	return nil
}

// writeRoundTrips runs the dedup read, then the writes, on one connection.
// Both are idempotent together, so the pair may be retried as a whole.
func (s *Store) writeRoundTrips(ctx context.Context, c *respConn, st *writeState, b onlinestore.WriteBatch) error {
	nf := len(b.Features)
	tsField := st.fields[nf].bulk
	if s.dedup {
		if err := s.readStoredTS(ctx, c, st, b.Rows, tsField); err != nil {
			return err
		}
		st.resetSlots(len(b.Rows))
	}
	out := st.out[:0]
	// "*<n>\r\n$4\r\nHSET\r\n" with n = key + 2 per feature + 2 for _ts.
	var headBuf [24]byte
	head := append(headBuf[:0], '*')
	head = strconv.AppendInt(head, int64(2+2*(nf+1)), 10)
	head = append(head, "\r\n$4\r\nHSET\r\n"...)
	var tsBuf [24]byte
	cmds := 0
	for i := range b.Rows {
		r := &b.Rows[i]
		if s.dedup {
			f := st.firstRow(b.Rows, i)
			if st.has[f] && !later(r.TS, st.latest[f]) {
				continue
			}
			st.latest[f], st.has[f] = r.TS, true
		}
		out = append(out, head...)
		out = appendKey(out, r.Key, s.project)
		out = append(out, tsField...)
		out = appendBulk(out, appendTimestamp(tsBuf[:0], r.TS))
		for j, v := range r.Values {
			out = append(out, st.fields[j].bulk...)
			out = appendBulk(out, v)
		}
		cmds++
		if s.ttlArg != "" {
			out = append(out, "*3\r\n$6\r\nEXPIRE\r\n"...)
			out = appendKey(out, r.Key, s.project)
			out = append(out, s.ttlArg...)
			cmds++
		}
	}
	st.out = out
	if cmds == 0 {
		return nil
	}
	if err := c.nc.SetDeadline(s.fast.deadline(ctx)); err != nil {
		return err
	}
	if _, err := c.nc.Write(out); err != nil {
		return err
	}
	_, err := s.intReplies(ctx, c, cmds)
	return err
}

// intReplies reads the integer replies of n pipelined commands and
// reports whether any was not zero. It reads them all even after an error
// reply, so the connection stays in sync, and returns the first such error
// (an *errRedisReply).
func (s *Store) intReplies(ctx context.Context, c *respConn, n int) (nonzero bool, err error) {
	var replyErr error
	for i := 0; i < n; i++ {
		line, err := s.replyLine(ctx, c, i)
		if err != nil {
			return false, err
		}
		switch line[0] {
		case ':':
			nonzero = nonzero || string(line) != ":0"
		case '-':
			if replyErr == nil {
				replyErr = &errRedisReply{msg: string(line[1:])}
			}
		default:
			return false, errProtocol
		}
	}
	return nonzero, replyErr
}

// existsPerCommand is how many keys one EXISTS of the probe names, so that
// no single command holds Redis for long.
const existsPerCommand = 1024

// probeBackoff is how many batches skip the probe after it found stored
// keys: a store being rewritten pays for one probe in probeBackoff+1
// batches.
const probeBackoff = 32

// probeExists reports whether none of the rows' keys exist in Redis, asked
// with EXISTS (existsPerCommand keys a command, one round trip). Then no
// row can have a stored _ts and the batch's HMGETs would all answer nil:
// they are skipped. On an empty store (a first materialization, the
// largest) that removes a third of Redis's work; a key written by someone
// else between the probe and the HSETs is the same race Feast's own
// read-then-write has between its two pipelines.
func (s *Store) probeExists(ctx context.Context, c *respConn, st *writeState, rows []onlinestore.WriteRow) (bool, error) {
	out := st.out[:0]
	cmds := 0
	for i := 0; i < len(rows); i += existsPerCommand {
		n := min(existsPerCommand, len(rows)-i)
		out = append(out, '*')
		out = strconv.AppendInt(out, int64(n+1), 10)
		out = append(out, "\r\n$6\r\nEXISTS\r\n"...)
		for _, r := range rows[i : i+n] {
			out = appendKey(out, r.Key, s.project)
		}
		cmds++
	}
	st.out = out
	if err := c.nc.SetDeadline(s.fast.deadline(ctx)); err != nil {
		return false, err
	}
	if _, err := c.nc.Write(out); err != nil {
		return false, err
	}
	some, err := s.intReplies(ctx, c, cmds)
	return !some && err == nil, err
}

// readStoredTS fills st.latest and st.has with every row's stored _ts, read
// by one pipeline of HMGETs, or learns from probeExists that there is none.
// An unreadable stored timestamp counts as none, as it always has here.
func (s *Store) readStoredTS(ctx context.Context, c *respConn, st *writeState, rows []onlinestore.WriteRow, tsField string) error {
	if cap(st.latest) < len(rows) {
		st.latest = make([]core.Timestamp, len(rows))
		st.has = make([]bool, len(rows))
	}
	st.latest, st.has = st.latest[:len(rows)], st.has[:len(rows)]
	clear(st.has)
	switch {
	case s.probeOff.Load():
	case s.probeSkip.Load() > 0:
		s.probeSkip.Add(-1)
	default:
		none, err := s.probeExists(ctx, c, st, rows)
		var re *errRedisReply
		switch {
		case errors.As(err, &re):
			// EXISTS refused (an ACL without it, a renamed command):
			// the HMGETs Feast sends need no more than they always did.
			s.probeOff.Store(true)
		case err != nil:
			return err
		case none:
			return nil
		default:
			s.probeSkip.Store(probeBackoff)
		}
	}
	s.tsReads.Add(int64(len(rows)))
	out := st.out[:0]
	for i := range rows {
		out = append(out, "*3\r\n$5\r\nHMGET\r\n"...)
		out = appendKey(out, rows[i].Key, s.project)
		out = append(out, tsField...)
	}
	st.out = out
	if err := c.nc.SetDeadline(s.fast.deadline(ctx)); err != nil {
		return err
	}
	if _, err := c.nc.Write(out); err != nil {
		return err
	}
	r := replyReader{c: c}
	for i := range rows {
		line, err := s.replyLine(ctx, c, i)
		if err != nil {
			return err
		}
		switch line[0] {
		case '-':
			r.fail(line)
			continue
		case '*':
		default:
			return errProtocol
		}
		if n, err := parseLen(line[1:]); err != nil || n != 1 {
			return errProtocol
		}
		size, v, err := r.next()
		if err != nil {
			return err
		}
		if size >= 0 {
			if t, err := parseTimestamp(v); err == nil {
				st.latest[i], st.has[i] = t, true
			}
		}
	}
	return r.err
}

// ttlArg is the EXPIRE argument for a key TTL, RESP-encoded: whole seconds,
// at least one, as go-redis's Expire sends it.
func ttlArg(ttl time.Duration) string {
	if ttl <= 0 {
		return ""
	}
	sec := int64(ttl / time.Second)
	if sec < 1 {
		sec = 1
	}
	return string(appendBulk(nil, strconv.FormatInt(sec, 10)))
}
