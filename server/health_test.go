package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testlog"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
	pgstore "github.com/feastgo/feastgo/onlinestore/postgres"
	redisstore "github.com/feastgo/feastgo/onlinestore/redis"
	sqlitestore "github.com/feastgo/feastgo/onlinestore/sqlite"
	"github.com/feastgo/feastgo/onlinestore/storetest"
	"github.com/feastgo/feastgo/server"
)

// countingPinger counts pings; each waits for gate (when set) or ctx and
// answers err.
type countingPinger struct {
	n    atomic.Int64
	gate chan struct{}
	err  error
}

func (p *countingPinger) Ping(ctx context.Context) error {
	p.n.Add(1)
	if p.gate != nil {
		select {
		case <-p.gate:
		case <-ctx.Done():
			return core.Unavailable(ctx.Err(), "ping")
		}
	}
	return p.err
}

// A hammered health check pings the store once per TTL: concurrent
// callers share the ping in flight, later ones reuse its answer.
func TestStoreHealthPingsOncePerTTL(t *testing.T) {
	p := &countingPinger{gate: make(chan struct{})}
	sh := &server.StoreHealth{Pinger: p, TTL: time.Hour}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- sh.Check(context.Background()) }()
	}
	time.Sleep(20 * time.Millisecond)
	close(p.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for range 1000 {
		if err := sh.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.n.Load(); n != 1 {
		t.Fatalf("%d pings for 1050 checks within the TTL, want 1", n)
	}

	p2 := &countingPinger{}
	short := &server.StoreHealth{Pinger: p2, TTL: 10 * time.Millisecond}
	_ = short.Check(context.Background())
	time.Sleep(20 * time.Millisecond)
	_ = short.Check(context.Background())
	if n := p2.n.Load(); n != 2 {
		t.Fatalf("%d pings across two TTLs, want 2", n)
	}
}

// A store that never answers fails the check after Timeout, and a caller
// whose own context ends first gets its context's error while the ping
// goes on for the others.
func TestStoreHealthBoundedByTimeout(t *testing.T) {
	p := &countingPinger{gate: make(chan struct{})} // never opened
	sh := &server.StoreHealth{Pinger: p, TTL: time.Hour, Timeout: 100 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := sh.Check(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller deadline first: %v", err)
	}
	start := time.Now()
	err := sh.Check(context.Background())
	if d := time.Since(start); d > time.Second {
		t.Errorf("check took %v with a 100ms timeout", d)
	}
	if core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("hung store: %v", err)
	}
	if n := p.n.Load(); n != 1 {
		t.Errorf("%d pings, want 1", n)
	}
}

// /health answers as Feast's does (200, empty body) while the store
// answers, and 503 with an empty body when it does not; real stores.
func TestHealthPingsRealStores(t *testing.T) {
	type store interface {
		onlinestore.Store
		onlinestore.Pinger
	}
	open := map[string]func(t *testing.T, up bool) store{
		"sqlite": func(t *testing.T, up bool) store {
			s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "online.db"), "p")
			if err != nil {
				t.Fatal(err)
			}
			if !up {
				_ = s.Close()
			} else {
				t.Cleanup(func() { _ = s.Close() })
			}
			return s
		},
		"redis": func(t *testing.T, up bool) store {
			addr := testenv.Service(t, "FEASTGO_TEST_REDIS")
			if !up {
				addr = storetest.SilentAddr(t)
			}
			s, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, Project: "p"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"postgres": func(t *testing.T, up bool) store {
			dsn := testenv.Service(t, "FEASTGO_TEST_POSTGRES")
			if !up {
				dsn = "postgres://feast:feast@" + storetest.DeadAddr(t) + "/feast?sslmode=disable"
			}
			s, err := pgstore.New(context.Background(), pgstore.Options{DSN: dsn, Project: "p"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	for name, mk := range open {
		t.Run(name, func(t *testing.T) {
			for _, up := range []bool{true, false} {
				sh := &server.StoreHealth{Pinger: mk(t, up), Timeout: 300 * time.Millisecond}
				h := &server.HTTP{Log: quietLog, Registry: goldenRegistry(t),
					Health: func(r *http.Request) error { return sh.Check(r.Context()) }}
				base := fastBench(t, h)
				start := time.Now()
				resp, err := http.Get(base + "/health")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := http.StatusOK
				if !up {
					want = http.StatusServiceUnavailable
				}
				if resp.StatusCode != want || len(body) != 0 {
					t.Errorf("store up=%v: %d %q, want %d and no body", up, resp.StatusCode, body, want)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("store up=%v: /health took %v", up, d)
				}
			}
		})
	}
}

// switchPinger answers the error last set.
type switchPinger struct {
	mu  sync.Mutex
	err error
}

func (p *switchPinger) set(err error) { p.mu.Lock(); p.err = err; p.mu.Unlock() }
func (p *switchPinger) Ping(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// A store that stays down is logged once, not once per /health request;
// its recovery once too.
func TestStoreHealthLogsEachChangeOnce(t *testing.T) {
	var buf testlog.Buffer
	p := &switchPinger{}
	sh := &server.StoreHealth{Pinger: p, TTL: time.Nanosecond, Log: slog.New(slog.NewTextHandler(&buf, nil))}
	check := func(n int) {
		for range n {
			_ = sh.Check(context.Background())
			time.Sleep(time.Millisecond)
		}
	}
	check(3)
	p.set(errors.New("connection refused"))
	check(20)
	p.set(nil)
	check(5)
	p.set(errors.New("connection refused"))
	check(5)
	logs := buf.String()
	if down, up := strings.Count(logs, "online store unhealthy"), strings.Count(logs, "healthy again"); down != 2 || up != 1 {
		t.Fatalf("%d unhealthy and %d recovered records, want 2 and 1:\n%s", down, up, logs)
	}
}
