package redis

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// respPool runs the read path's pipelined HMGETs against a standalone
// Redis over its own small pool of connections, speaking RESP2 directly.
//
// go-redis returns every reply element as a string boxed in an interface:
// two allocations per feature value, 11,000 for 100 entities x 55 fields,
// and most of the read path's CPU. Here a whole pipeline is written with
// one syscall from pre-encoded field names, and every value of the reply
// is read into one growing byte arena, so the number of allocations does
// not depend on the number of values. Writes take the same connections
// (write.go); Ping, Redis Cluster and Sentinel stay on go-redis.
type respPool struct {
	addr     string
	username string
	password string
	db       int
	tls      *tls.Config
	timeout  time.Duration
	maxIdle  int
	// slots bounds the connections in use, like go-redis's PoolSize.
	slots chan struct{}

	mu     sync.Mutex
	idle   []*respConn
	closed bool
}

type respConn struct {
	nc  net.Conn
	out []byte // request buffer, reused
	// rb[rs:re] is what was read from nc and not parsed yet. Replies are
	// parsed straight from it (no bufio: the per-element calls into a
	// bufio.Reader were a measurable share of a large read).
	rb     []byte
	rs, re int
	// keep is set while rb is a reply buffer owned by the caller (see
	// readInto): parsed bytes are never moved or overwritten, so values
	// can point into rb instead of being copied out; a full rb is
	// replaced by a larger one.
	keep bool
}

// readBufSize is each connection's read buffer: a reply line or an
// element up to this size is parsed in place; larger elements are read
// into scratch memory.
const readBufSize = 16 << 10

// errLineTooLong is a reply line that does not fit the read buffer.
var errLineTooLong = errors.New("redis: reply line longer than the read buffer")

// fill reads more bytes from the connection into rb, first moving the
// unparsed ones to its start. It fails with errLineTooLong when rb holds
// nothing but unparsed bytes.
func (c *respConn) fill() error {
	switch {
	case c.keep && c.re == len(c.rb):
		nb := make([]byte, 2*len(c.rb))
		c.re = copy(nb, c.rb[c.rs:c.re])
		c.rs, c.rb = 0, nb
	case c.keep:
	case c.rs > 0:
		c.re = copy(c.rb, c.rb[c.rs:c.re])
		c.rs = 0
	}
	if c.re == len(c.rb) {
		return errLineTooLong
	}
	for {
		n, err := c.nc.Read(c.rb[c.re:])
		c.re += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// need makes at least n unparsed bytes available (n <= len(rb) unless
// keep is set).
func (c *respConn) need(n int) error {
	for c.re-c.rs < n {
		if err := c.fill(); err != nil {
			return err
		}
	}
	return nil
}

// minReplyBuf is the least a caller's reply buffer starts with.
const minReplyBuf = 16 << 10

// readInto makes *buf the connection's read buffer for one round trip:
// the replies are read into it and their values point into it, with no
// copy. restore hands the last buffer used back in *buf (a larger one
// when the replies outgrew it; values may point into earlier ones too)
// and gives the connection its own buffer again, keeping any bytes not
// parsed yet so the connection stays in sync.
func (c *respConn) readInto(buf *[]byte) (restore func(), err error) {
	if c.rs != c.re {
		// Unparsed bytes before the request was even written cannot
		// belong to it: the connection is out of sync.
		return nil, errProtocol
	}
	own := c.rb
	b := (*buf)[:cap(*buf)]
	if len(b) < minReplyBuf {
		b = make([]byte, minReplyBuf)
	}
	c.rb, c.rs, c.re, c.keep = b, 0, 0, true
	return func() {
		left := c.rb[c.rs:c.re]
		*buf = c.rb[:0]
		if len(left) > len(own) {
			own = make([]byte, len(left))
		}
		c.rb, c.rs, c.re, c.keep = own, 0, copy(own, left), false
	}, nil
}

// errRedisReply is an error reply from Redis (not a connection problem).
type errRedisReply struct{ msg string }

func (e *errRedisReply) Error() string { return "redis: " + e.msg }

var errProtocol = errors.New("redis: unexpected reply")

func newRespPool(addr, username, password string, db int, tlsConfig *tls.Config, timeout time.Duration, size int) *respPool {
	return &respPool{addr: addr, username: username, password: password, db: db, tls: tlsConfig, timeout: timeout,
		maxIdle: size, slots: make(chan struct{}, size)}
}

// acquire waits for a free connection slot, at most the timeout.
func (p *respPool) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("redis: connection pool timeout")
	}
}

func (p *respPool) release() { <-p.slots }

func (p *respPool) get() *respConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		return c
	}
	return nil
}

func (p *respPool) put(c *respConn) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		_ = c.nc.Close()
	}
}

func (p *respPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		_ = c.nc.Close()
	}
}

func (p *respPool) deadline(ctx context.Context) time.Time {
	d := time.Now().Add(p.timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// dial opens and prepares a connection (TLS, AUTH, SELECT).
func (p *respPool) dial(ctx context.Context) (*respConn, error) {
	d := net.Dialer{Timeout: p.timeout, KeepAlive: 5 * time.Minute}
	nc, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	if err := nc.SetDeadline(p.deadline(ctx)); err != nil {
		nc.Close()
		return nil, err
	}
	if p.tls != nil {
		cfg := p.tls
		if cfg.ServerName == "" { // as tls.Dial does
			host, _, _ := net.SplitHostPort(p.addr)
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	c := &respConn{nc: nc, rb: make([]byte, readBufSize)}
	var setup [][]string
	if p.password != "" {
		if p.username != "" {
			setup = append(setup, []string{"AUTH", p.username, p.password})
		} else {
			setup = append(setup, []string{"AUTH", p.password})
		}
	}
	if p.db != 0 {
		setup = append(setup, []string{"SELECT", strconv.Itoa(p.db)})
	}
	for _, args := range setup {
		c.out = appendCommand(c.out[:0], args)
		if _, err := nc.Write(c.out); err != nil {
			nc.Close()
			return nil, err
		}
	}
	for range setup {
		line, err := c.line()
		if err == nil && line[0] == '-' {
			err = &errRedisReply{msg: string(line[1:])}
		} else if err == nil && line[0] != '+' {
			err = errProtocol
		}
		if err != nil {
			nc.Close()
			return nil, err
		}
	}
	return c, nil
}

func appendCommand(out []byte, args []string) []byte {
	out = append(out, '*')
	out = strconv.AppendInt(out, int64(len(args)), 10)
	out = append(out, '\r', '\n')
	for _, a := range args {
		out = appendBulk(out, a)
	}
	return out
}

func appendBulk[S string | []byte](out []byte, s S) []byte {
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(len(s)), 10)
	out = append(out, '\r', '\n')
	out = append(out, s...)
	return append(out, '\r', '\n')
}

// line reads one reply line without its CRLF; the slice is valid until the
// next read.
func (c *respConn) line() ([]byte, error) {
	for {
		if i := bytes.IndexByte(c.rb[c.rs:c.re], '\n'); i >= 0 {
			line := c.rb[c.rs : c.rs+i+1]
			c.rs += i + 1
			if len(line) < 3 || line[len(line)-2] != '\r' {
				return nil, errProtocol
			}
			return line[:len(line)-2], nil
		}
		if err := c.fill(); err != nil {
			if errors.Is(err, errLineTooLong) {
				return nil, errProtocol
			}
			return nil, err
		}
	}
}

func parseLen(b []byte) (int, error) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 10 {
		return 0, errProtocol
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errProtocol
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// hmget runs the commands in one pipeline and stores the reply elements in
// vals: command i fills vals[off[i]:off[i]+width of its set]; a missing
// field is nil, a present one a slice of arena memory (never nil).
//
// Values are read into *arena when arena is not nil and it has room (it is
// left holding the last chunk used, for the next call); else into new
// memory.
func (p *respPool) hmget(ctx context.Context, project string, cmds []hmgetCmd, sets []hmgetSet, vals [][]byte, arena *[]byte) error {
	retry := false
	return p.with(ctx, func(c *respConn) error {
		if retry {
			// A failed attempt may have filled slots an HGETALL of this
			// one leaves alone, pointing into the reply buffer this one
			// overwrites.
			clear(vals)
		}
		retry = true
		return p.roundTrip(ctx, c, project, cmds, sets, vals, arena)
	})
}

// with runs fn on a pooled (or new) connection. fn must leave the
// connection in sync when it returns nil or an *errRedisReply (every reply
// read); any other error closes the connection. fn must be idempotent: a
// pooled connection that fails other than by a timeout is retried once on a
// fresh one, since Redis may have closed it (restart, idle timeout) since
// its last use.
func (p *respPool) with(ctx context.Context, fn func(c *respConn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer p.release()
	c := p.get()
	pooled := c != nil
	for attempt := 0; ; attempt++ {
		var err error
		if c == nil {
			if c, err = p.dial(ctx); err != nil {
				return err
			}
		}
		err = fn(c)
		if err == nil {
			p.put(c)
			return nil
		}
		var re *errRedisReply
		if errors.As(err, &re) {
			// The whole reply was read: the connection is still in sync.
			p.put(c)
			return err
		}
		_ = c.nc.Close()
		c = nil
		var ne net.Error
		if !pooled || attempt > 0 || (errors.As(err, &ne) && ne.Timeout()) || ctx.Err() != nil {
			return err
		}
	}
}

func (p *respPool) roundTrip(ctx context.Context, c *respConn, project string, cmds []hmgetCmd, sets []hmgetSet, vals [][]byte, arena *[]byte) error {
	if err := c.nc.SetDeadline(p.deadline(ctx)); err != nil {
		return err
	}
	out := appendReads(c.out[:0], cmds, sets, project)
	if cap(out) <= 1<<20 {
		c.out = out
	}
	if _, err := c.nc.Write(out); err != nil {
		return err
	}
	// Read every reply even after an error reply, so the connection stays
	// usable.
	r := replyReader{c: c, left: len(vals)}
	if arena != nil {
		restore, err := c.readInto(arena)
		if err != nil {
			return err
		}
		defer restore()
	}
	v := 0
	for _, cmd := range cmds {
		set := &sets[cmd.set]
		width := len(set.fields)
		line, err := c.line()
		if err != nil {
			return err
		}
		switch line[0] {
		case '-':
			r.fail(line)
			v += width
			continue
		case '*':
		default:
			return errProtocol
		}
		n, err := parseLen(line[1:])
		if err != nil {
			return err
		}
		if set.all {
			if err := readHashPairs(c, &r, set, n, vals[v:v+width]); err != nil {
				return err
			}
			v += width
			continue
		}
		if n != width {
			return fmt.Errorf("redis: HMGET answered %d values for %d fields", n, width)
		}
		for i := 0; i < n; i++ {
			if vals[v], err = r.bulk(); err != nil {
				return err
			}
			v++
		}
	}
	if err := readProbes(c, &r, sets); err != nil {
		return err
	}
	return r.err
}

// appendReads appends the RESP commands of one round trip: an HMGET (or
// HGETALL) per command, then the HLEN probes of the sets learning their
// hashes' size.
func appendReads(out []byte, cmds []hmgetCmd, sets []hmgetSet, project string) []byte {
	for _, cmd := range cmds {
		set := &sets[cmd.set]
		if set.all {
			out = append(out, "*2\r\n$7\r\nHGETALL\r\n"...)
		} else {
			out = append(out, '*')
			out = strconv.AppendInt(out, int64(len(set.fields)+2), 10)
			out = append(out, "\r\n$5\r\nHMGET\r\n"...)
		}
		out = appendKey(out, cmd.key, project)
		if !set.all {
			for _, f := range set.fields {
				out = append(out, f.bulk...)
			}
		}
	}
	// HLEN probes of the sets learning their hashes' size, after the reads.
	for i := range sets {
		if sets[i].probe {
			out = append(out, "*2\r\n$4\r\nHLEN\r\n"...)
			out = appendKey(out, sets[i].probeKey, project)
		}
	}
	return out
}

// readHashPairs reads an HGETALL reply of n strings (name/value pairs of
// the whole hash) into vals, the set's slots, keeping the requested fields.
func readHashPairs(c *respConn, r *replyReader, set *hmgetSet, n int, vals [][]byte) error {
	// Name/value pairs of the whole hash: keep the requested ones.
	if n%2 != 0 {
		return errProtocol
	}
	if n/2 > set.seen {
		set.seen = n / 2
	}
	// Hashes written alike list their fields in the same order:
	// try the slot the same position had last time, and learn
	// the order from the set's first reply when it differs.
	order := set.order
	learn := !set.orderSeen
	set.orderSeen = true
	var obs []int32
	if learn && len(order) != n/2 {
		obs = make([]int32, 0, n/2)
	}
	for i := 0; i < n/2; i++ {
		// The usual pair: its name where order predicts it and
		// both strings whole in the buffer.
		if i < len(order) && obs == nil && c.keep {
			if o := order[i]; o >= 0 {
				if val, ok := c.pair(set.fields[o].bulk); ok {
					vals[o] = val
					r.left--
					continue
				}
			}
		}
		size, name, err := r.next()
		if err != nil {
			return err
		}
		if size < 0 {
			return errProtocol
		}
		slot := -1
		if i < len(order) && order[i] >= 0 && set.fields[order[i]].name == string(name) {
			slot = int(order[i])
		} else {
			if s, ok := set.shape.index[string(name)]; ok {
				slot = s
			}
			if learn && obs == nil && (i >= len(order) || int(order[i]) != slot) {
				obs = make([]int32, i, n/2)
				copy(obs, order[:i])
			}
		}
		if obs != nil {
			obs = append(obs, int32(slot))
		}
		if slot < 0 {
			if _, _, err := r.next(); err != nil {
				return err
			}
			continue
		}
		if vals[slot], err = r.bulk(); err != nil {
			return err
		}
	}
	if obs != nil {
		set.newOrder = obs
	}
	return nil
}

// readProbes reads the HLEN replies of the probing sets into set.hlen.
func readProbes(c *respConn, r *replyReader, sets []hmgetSet) error {
	for i := range sets {
		if set := &sets[i]; set.probe {
			line, err := c.line()
			if err != nil {
				return err
			}
			switch {
			case line[0] == '-':
				r.fail(line)
			case line[0] == ':':
				n, err := parseLen(line[1:])
				if err != nil {
					return err
				}
				set.hlen = n
			default:
				return errProtocol
			}
		}
	}
	return nil
}

func appendKey(out, key []byte, project string) []byte {
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(len(key)+len(project)), 10)
	out = append(out, '\r', '\n')
	out = append(out, key...)
	out = append(out, project...)
	return append(out, '\r', '\n')
}

// replyReader reads bulk strings of replies into a byte arena.
type replyReader struct {
	c       *respConn
	arena   []byte
	scratch []byte // for elements larger than the read buffer
	left    int    // values still to come, to size arena chunks
	err     error  // the first error reply
}

func (r *replyReader) fail(line []byte) {
	if r.err == nil {
		r.err = &errRedisReply{msg: string(line[1:])}
	}
}

// bulkHeader reads a "$<len>" line; -1 is a null.
func (r *replyReader) bulkHeader() (int, error) {
	line, err := r.c.line()
	if err != nil {
		return 0, err
	}
	if line[0] != '$' {
		return 0, errProtocol
	}
	return parseLen(line[1:])
}

// next reads one bulk string: its size (-1 for a null) and its bytes,
// which stay valid only until the next read. An element wholly in the
// read buffer (the usual case) is parsed in place; anything else takes the
// line-by-line path.
func (r *replyReader) next() (int, []byte, error) {
	c := r.c
	buf := c.rb[c.rs:c.re]
	if len(buf) > 3 && buf[0] == '$' {
		if buf[1] == '-' {
			if len(buf) >= 5 && buf[2] == '1' && buf[3] == '\r' && buf[4] == '\n' {
				c.rs += 5
				return -1, nil, nil
			}
		} else {
			i, n := 1, 0
			for i < len(buf) && i < 11 && buf[i] >= '0' && buf[i] <= '9' {
				n = n*10 + int(buf[i]-'0')
				i++
			}
			if i > 1 && i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
				i += 2
				if end := i + n; end+2 <= len(buf) && buf[end] == '\r' && buf[end+1] == '\n' {
					c.rs += end + 2
					return n, buf[i:end:end], nil
				}
			}
		}
	}
	size, err := r.bulkHeader()
	if err != nil || size < 0 {
		return size, nil, err
	}
	if size+2 <= len(c.rb) || c.keep {
		// Fits the buffer (or the buffer grows): parse it in place once
		// it is all there.
		if err := c.need(size + 2); err != nil {
			return 0, nil, err
		}
		b := c.rb[c.rs : c.rs+size : c.rs+size]
		if c.rb[c.rs+size] != '\r' || c.rb[c.rs+size+1] != '\n' {
			return 0, nil, errProtocol
		}
		c.rs += size + 2
		return size, b, nil
	}
	if cap(r.scratch) < size {
		r.scratch = make([]byte, size)
	}
	b := r.scratch[:size]
	got := copy(b, c.rb[c.rs:c.re])
	c.rs += got
	if _, err := io.ReadFull(c.nc, b[got:]); err != nil {
		return 0, nil, err
	}
	if err := c.need(2); err != nil {
		return 0, nil, err
	}
	if c.rb[c.rs] != '\r' || c.rb[c.rs+1] != '\n' {
		return 0, nil, errProtocol
	}
	c.rs += 2
	return size, b, nil
}

// pair parses one name/value pair of an HGETALL reply in place when its
// name is want (a bulk string, "$<len>\r\n<name>\r\n") and the value is
// a bulk string wholly in the buffer; it consumes nothing and says false
// otherwise. The value points into rb: only for a caller's reply buffer
// (keep).
func (c *respConn) pair(want string) ([]byte, bool) {
	b := c.rb[c.rs:c.re]
	w := len(want)
	if len(b) < w+5 || w < 8 || b[w] != '$' {
		return nil, false
	}
	// Names are mostly 4-byte hashes: one word and two bytes to compare,
	// in line rather than through a call to memequal.
	if binary.LittleEndian.Uint64(b) != uint64(want[0])|uint64(want[1])<<8|uint64(want[2])<<16|uint64(want[3])<<24|
		uint64(want[4])<<32|uint64(want[5])<<40|uint64(want[6])<<48|uint64(want[7])<<56 {
		return nil, false
	}
	for k := 8; k < w; k++ {
		if b[k] != want[k] {
			return nil, false
		}
	}
	var i, n int
	if d := b[w+1] - '0'; d <= 9 && b[w+2] == '\r' && b[w+3] == '\n' {
		i, n = w+4, int(d) // one digit: a scalar's value
	} else {
		i = w + 1
		for i < len(b) && i <= w+10 && b[i]-'0' <= 9 {
			n = n*10 + int(b[i]-'0')
			i++
		}
		if i == w+1 || i+1 >= len(b) || b[i] != '\r' || b[i+1] != '\n' {
			return nil, false
		}
		i += 2
	}
	end := i + n
	if end+2 > len(b) || b[end] != '\r' || b[end+1] != '\n' {
		return nil, false
	}
	c.rs += end + 2
	return b[i:end:end], true
}

// bulk reads one bulk string into the arena: nil for a null, else a
// non-nil slice that stays valid.
func (r *replyReader) bulk() ([]byte, error) {
	size, b, err := r.next()
	if err != nil {
		return nil, err
	}
	r.left--
	if size < 0 {
		return nil, nil
	}
	if r.c.keep {
		return b, nil // in the caller's reply buffer, never overwritten
	}
	if r.arena == nil || cap(r.arena)-len(r.arena) < size {
		// A new chunk, sized for the values still to come (a serialized
		// scalar is about ten bytes); values already handed out keep
		// pointing into the old one.
		r.arena = make([]byte, 0, size+12*max(r.left, 0))
	}
	start := len(r.arena)
	r.arena = append(r.arena, b...)
	return r.arena[start : start+size : start+size], nil
}
