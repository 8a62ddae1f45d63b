package redis

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/feastgo/feastgo/onlinestore"
)

// Invalidation tracking for the hot-entity cache: one RESP3 connection
// with CLIENT TRACKING ON BCAST, on which Redis pushes the name of every
// key any client changes (writes, deletes, expiries, evictions) and a
// null on FLUSHDB/FLUSHALL. Broadcasting mode keeps no per-key state in
// Redis, so nothing is lost when our reads go through other connections
// than this one; the price is one message per changed key of the whole
// server, whichever project or database it belongs to (names that do not
// end with our project are skipped).

var _ onlinestore.Tracker = (*Store)(nil)

// trackPing is how often the tracking connection is pinged; a connection
// silent for trackDead is taken for dead (a Redis that vanished without a
// TCP reset, for one).
const (
	trackPing = 500 * time.Millisecond
	trackDead = 2 * time.Second
)

// TrackingSupported refuses Redis Cluster: a broadcast tracking
// connection sees only the keys of the node it is connected to, and
// following slot migrations and failovers across nodes is not done here.
func (s *Store) TrackingSupported() error {
	if s.typ == "redis_cluster" {
		return errors.New("redis_cluster: invalidation tracking follows one server and a cluster spreads keys over several; use redis or redis_sentinel, or a TTL-only cache")
	}
	return nil
}

// Track implements onlinestore.Tracker.
func (s *Store) Track(ctx context.Context, l onlinestore.InvalidationListener) error {
	if err := s.TrackingSupported(); err != nil {
		return err
	}
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := s.trackOnce(ctx, l)
		if ctx.Err() != nil {
			return nil
		}
		l.Down(err)
		if time.Since(start) > 5*time.Second {
			backoff = 50 * time.Millisecond // it was up for a while: retry soon
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
	return nil
}

// masterAddr is the address to track: the server, or the master the
// sentinels name now.
func (s *Store) masterAddr(ctx context.Context) (string, error) {
	if s.typ != "redis_sentinel" {
		return s.addrs[0], nil
	}
	var last error
	for _, a := range s.addrs {
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: a, TLSConfig: s.tlsConf, DialTimeout: s.timeout,
			ReadTimeout: s.timeout, WriteTimeout: s.timeout, MaxRetries: -1})
		addr, err := sc.GetMasterAddrByName(ctx, s.master).Result()
		_ = sc.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("no sentinel names master %q: %w", s.master, last)
}

// trackOnce opens one tracking connection and reads its pushes until it
// breaks or ctx ends.
func (s *Store) trackOnce(ctx context.Context, l onlinestore.InvalidationListener) error {
	addr, err := s.masterAddr(ctx)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: s.timeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if s.tlsConf != nil {
		cfg := s.tlsConf
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		nc = tls.Client(nc, cfg)
	}
	// The connection closes when ctx ends or this function returns, which
	// unblocks the reader and stops the pinger.
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(done)
		_ = nc.Close()
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			_ = nc.Close()
		case <-done:
		}
	}()

	r := bufio.NewReaderSize(nc, 64<<10)
	hello := []string{"HELLO", "3"}
	if s.password != "" {
		user := s.username
		if user == "" {
			user = "default"
		}
		hello = append(hello, "AUTH", user, s.password)
	}
	setup := appendCommand(nil, hello)
	setup = appendCommand(setup, []string{"CLIENT", "TRACKING", "ON", "BCAST"})
	_ = nc.SetDeadline(time.Now().Add(s.timeout))
	if _, err := nc.Write(setup); err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		v, err := readResp3(r)
		if err != nil {
			return err
		}
		if e, ok := v.(respError); ok {
			return fmt.Errorf("redis refused tracking: %s", string(e))
		}
	}
	_ = nc.SetDeadline(time.Time{})
	l.Up()

	// The pinger proves the connection alive: every trackPing a PING, whose
	// answer (like any push) moves the read deadline on. On sentinel it also
	// checks, every few pings, that the master has not moved.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(trackPing)
		defer t.Stop()
		ping := appendCommand(nil, []string{"PING"})
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			_ = nc.SetWriteDeadline(time.Now().Add(trackDead))
			if _, err := nc.Write(ping); err != nil {
				_ = nc.Close()
				return
			}
			if s.typ == "redis_sentinel" && n%4 == 0 {
				mctx, cancel := context.WithTimeout(ctx, trackDead)
				now, err := s.masterAddr(mctx)
				cancel()
				if err == nil && now != addr {
					_ = nc.Close() // failed over: track the new master
					return
				}
			}
		}
	}()
	for {
		_ = nc.SetReadDeadline(time.Now().Add(trackDead))
		v, err := readResp3(r)
		if err != nil {
			return err
		}
		push, ok := v.(respPush)
		if !ok || len(push) < 2 {
			continue // PONG
		}
		if kind, _ := push[0].([]byte); !bytes.Equal(kind, []byte("invalidate")) {
			continue
		}
		keys, ok := push[1].([]any)
		if !ok { // a null: the server was flushed
			l.InvalidateAll()
			continue
		}
		for _, k := range keys {
			kb, _ := k.([]byte)
			if len(kb) >= len(s.project) && bytes.HasSuffix(kb, []byte(s.project)) {
				l.Invalidate(kb[:len(kb)-len(s.project)])
			}
		}
	}
}

// RESP3 values as readResp3 gives them: []byte for strings, int64,
// respError, []any for arrays, sets and maps (flattened), respPush for
// pushes, nil for nulls.
type (
	respError string
	respPush  []any
)

var errResp3 = errors.New("redis: malformed RESP3 reply")

// readResp3 reads one RESP3 value (attributes skipped).
func readResp3(r *bufio.Reader) (any, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, errResp3
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', ',', '(', '#':
		return append([]byte(nil), body...), nil
	case '-':
		return respError(body), nil
	case ':':
		return strconv.ParseInt(string(body), 10, 64)
	case '_':
		return nil, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return nil, errResp3
		}
		if n < 0 {
			return nil, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		if kind == '!' {
			return respError(b[:n]), nil
		}
		return b[:n], nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return nil, errResp3
		}
		if n < 0 {
			return nil, nil
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		if n > 1<<24 {
			return nil, errResp3
		}
		out := make([]any, 0, min(n, 1024))
		for i := 0; i < n; i++ {
			v, err := readResp3(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		switch kind {
		case '>':
			return respPush(out), nil
		case '|':
			return readResp3(r) // the value the attribute describes
		}
		return out, nil
	}
	return nil, errResp3
}

var _ onlinestore.Expirer = (*Store)(nil)

// Expiries implements onlinestore.Expirer: with key_ttl_seconds, one
// pipelined PTTL per key (the cache asks for its misses only).
func (s *Store) Expiries(ctx context.Context, keys [][]byte) ([]time.Duration, error) {
	if s.keyTTL <= 0 || len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]*goredis.DurationCmd, len(keys))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		var buf []byte
		for i, k := range keys {
			buf = s.redisKey(buf[:0], k)
			cmds[i] = p.PTTL(ctx, string(buf))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, len(keys))
	for i, c := range cmds {
		switch d := c.Val(); {
		case d == -1: // no expiry
			out[i] = -1
		case d <= 0: // -2: gone since the read (or expiring now)
			out[i] = 0
		default:
			out[i] = d
		}
	}
	return out, nil
}
