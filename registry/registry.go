package registry

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Registry holds the current Snapshot and replaces it on refresh. Readers
// never wait for a refresh: Current is one atomic load.
type Registry struct {
	src              Source
	project          string
	enableVersioning bool
	ttl              time.Duration
	log              *slog.Logger
	cur              atomic.Pointer[Snapshot]
	lastErr          atomic.Pointer[error]
}

// Options configure a Registry.
type Options struct {
	Project string
	// RefreshInterval is how often Run reloads; 0 disables refreshing.
	RefreshInterval  time.Duration
	EnableVersioning bool
	Logger           *slog.Logger
}

// Open loads the registry once; a failure here is fatal for the caller.
func Open(ctx context.Context, src Source, opts Options) (*Registry, error) {
	r := &Registry{src: src, project: opts.Project, ttl: opts.RefreshInterval,
		enableVersioning: opts.EnableVersioning, log: opts.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	if err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Current returns the snapshot in force.
func (r *Registry) Current() *Snapshot { return r.cur.Load() }

// Source returns where the registry is read from.
func (r *Registry) Source() Source { return r.src }

// LastError returns the error of the last failed refresh, nil after a
// success.
func (r *Registry) LastError() error {
	if p := r.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Refresh fetches, parses and compiles the registry and swaps it in. On any
// failure the previous snapshot stays in force and the error is returned.
func (r *Registry) Refresh(ctx context.Context) error {
	err := r.refresh(ctx)
	if err != nil {
		r.lastErr.Store(&err)
	} else {
		r.lastErr.Store(nil)
	}
	return err
}

func (r *Registry) refresh(ctx context.Context) error {
	b, err := r.src.Fetch(ctx)
	if err != nil {
		return fmt.Errorf("registry %s: %w", r.src.Location(), err)
	}
	if cur := r.cur.Load(); cur != nil && cur.rawSize == len(b) && string(cur.raw) == string(b) {
		return nil // unchanged: keep the compiled snapshot and its plan cache
	}
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(b, reg); err != nil {
		return fmt.Errorf("registry %s: not a feast.core.Registry: %w", r.src.Location(), err)
	}
	snap, err := Compile(reg, r.project, r.enableVersioning)
	if err != nil {
		return fmt.Errorf("registry %s: %w", r.src.Location(), err)
	}
	snap.raw, snap.rawSize = b, len(b)
	r.cur.Store(snap)
	return nil
}

// Run refreshes every RefreshInterval until ctx is done. Failures are
// logged and the last good snapshot is kept.
func (r *Registry) Run(ctx context.Context) error {
	if r.ttl <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(r.ttl)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("registry refresh failed; keeping the last good registry", "err", err)
			}
		}
	}
}
