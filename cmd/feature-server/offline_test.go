package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/offlinestore"
)

// closeCounter is the real catalog, counting its Close calls.
type closeCounter struct {
	offlinestore.Catalog
	closed atomic.Int32
}

func (c *closeCounter) Close() error {
	c.closed.Add(1)
	return c.Catalog.Close()
}

// serve owns one offline catalog, shared by pushes and materialization, and
// closes it once at shutdown: its PostgreSQL pool does not outlive the
// server.
func TestServeClosesTheOfflineStoreAtShutdown(t *testing.T) {
	var mu sync.Mutex // Run's goroutine opens, the test reads
	var opened []*closeCounter
	catalogs := func() []*closeCounter {
		mu.Lock()
		defer mu.Unlock()
		return append([]*closeCounter(nil), opened...)
	}
	orig := openOffline
	openOffline = func(cfg *config.RepoConfig) offlinestore.Catalog {
		c := &closeCounter{Catalog: orig(cfg)}
		mu.Lock()
		opened = append(opened, c)
		mu.Unlock()
		return c
	}
	t.Cleanup(func() { openOffline = orig })

	port := testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"-c", goldenRepo, "serve", "-p", fmt.Sprint(port), "--no-materialize-if-empty"}, io.Discard, &stderr)
	}()
	waitHTTP(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/health", port))
	if c := catalogs(); len(c) != 1 || c[0].closed.Load() != 0 {
		t.Fatalf("while serving: %d catalogs opened, want 1, not closed", len(c))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v; log:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop")
	}
	if n := catalogs()[0].closed.Load(); n != 1 {
		t.Errorf("offline store closed %d times at shutdown, want 1", n)
	}
}
