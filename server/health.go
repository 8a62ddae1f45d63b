package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/feastgo/feastgo/onlinestore"
)

// Defaults of StoreHealth.
const (
	// DefaultHealthTTL is how long a ping's answer is reused: a probe
	// hammering /health costs the store one ping a second at most.
	DefaultHealthTTL = time.Second
	// DefaultHealthTimeout bounds one ping: below the one-second timeout
	// of a Kubernetes probe, so a hung store answers 503, not a timeout.
	DefaultHealthTimeout = 800 * time.Millisecond
)

// StoreHealth tells whether the online store answers, for /health. It
// pings at most once per TTL and reuses the answer meanwhile; callers
// arriving while a ping is in flight wait for that one (or for their own
// context). A ping is bounded by Timeout and does not depend on the
// request that started it, so a client going away does not fail the
// answer the others get.
type StoreHealth struct {
	Pinger  onlinestore.Pinger
	TTL     time.Duration // 0: DefaultHealthTTL
	Timeout time.Duration // 0: DefaultHealthTimeout
	// Log, if set, hears when the store becomes unhealthy and when it is
	// healthy again: once per change, however often /health is asked.
	Log *slog.Logger

	mu      sync.Mutex
	at      time.Time // when the cached answer was got; zero: none yet
	err     error
	running chan struct{} // closed when the ping in flight ends
}

// Check returns the store's answer to the latest ping, pinging first when
// that answer is older than TTL.
func (s *StoreHealth) Check(ctx context.Context) error {
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultHealthTTL
	}
	s.mu.Lock()
	if !s.at.IsZero() && time.Since(s.at) < ttl {
		err := s.err
		s.mu.Unlock()
		return err
	}
	wait := s.running
	if wait == nil {
		wait = make(chan struct{})
		s.running = wait
		go s.ping(wait)
	}
	s.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *StoreHealth) ping(done chan struct{}) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil { // no request goroutine to recover it
				err = fmt.Errorf("online store ping panicked: %v", p)
			}
		}()
		err = s.Pinger.Ping(ctx)
	}()
	cancel()
	s.mu.Lock()
	wasDown, first := s.err != nil, s.at.IsZero()
	s.err, s.at, s.running = err, time.Now(), nil
	s.mu.Unlock()
	if s.Log != nil {
		switch {
		case err != nil && (first || !wasDown):
			s.Log.Warn("online store unhealthy: /health answers 503", "err", err)
		case err == nil && wasDown:
			s.Log.Info("online store healthy again")
		}
	}
	close(done)
}
