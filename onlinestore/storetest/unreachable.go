package storetest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// DeadAddr returns a local address where nothing listens.
func DeadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// SilentAddr returns a local address that accepts connections and never
// answers: a back end hung, or a network dropping packets.
func SilentAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(done)
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// CheckPingFails pings p with a short deadline and fails t unless Ping
// returns a core.KindUnavailable error within a bounded time.
func CheckPingFails(t testing.TB, what string, p onlinestore.Pinger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Ping(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%s: Ping took %v past a 300ms deadline", what, d)
	}
	if err == nil {
		t.Errorf("%s: Ping succeeded", what)
	} else if core.KindOf(err) != core.KindUnavailable {
		t.Errorf("%s: Ping error %v is not KindUnavailable", what, err)
	}
}
