package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Registry holds the current Snapshot and replaces it on refresh. Readers
// never wait for a refresh: Current is one atomic load. Refreshes (the
// periodic one, the one after a materialization, the ones writes ask for)
// run one at a time, so an older fetch never replaces a newer snapshot.
type Registry struct {
	src                Source
	project            string
	enableVersioning   bool
	whileMaterializing bool
	ttl                time.Duration
	log                *slog.Logger
	cur                atomic.Pointer[Snapshot]
	lastErr            atomic.Pointer[error]

	// refreshing is held (one token) by the refresh in progress.
	refreshing chan struct{}
	// started counts the refreshes begun; lastRun is the result of the
	// latest, both guarded by refreshing.
	started atomic.Uint64
	lastRun error

	planCacheSize int
	// planEvictions counts the plans dropped by every snapshot's cache.
	planEvictions atomic.Uint64
}

// Options configure a Registry.
type Options struct {
	Project string
	// RefreshInterval is how often Run reloads; 0 disables refreshing.
	RefreshInterval  time.Duration
	EnableVersioning bool
	// ServeWhileMaterializing is registry.serve_features_while_materializing.
	ServeWhileMaterializing bool
	// PlanCacheSize bounds the request plans each snapshot caches;
	// 0 means DefaultPlanCacheSize.
	PlanCacheSize int
	Logger        *slog.Logger
}

// Open loads the registry once; a failure here is fatal for the caller.
func Open(ctx context.Context, src Source, opts Options) (*Registry, error) {
	r := &Registry{src: src, project: opts.Project, ttl: opts.RefreshInterval,
		enableVersioning: opts.EnableVersioning, whileMaterializing: opts.ServeWhileMaterializing,
		log: opts.Logger, refreshing: make(chan struct{}, 1), planCacheSize: opts.PlanCacheSize}
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

// PlanCacheStats returns the number of plans the snapshot in force caches
// and the number of plans evicted from the caches of every snapshot served.
func (r *Registry) PlanCacheStats() (size int, evictions uint64) {
	return r.Current().Plans.Len(), r.planEvictions.Load()
}

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
//
// When it returns, the snapshot in force reflects a fetch begun after the
// call (Feast's allow_cache=False): callers queue behind the refresh in
// progress, and one that finds a refresh begun after its own call already
// done takes that result instead of fetching again. Readers of Current are
// never held up.
func (r *Registry) Refresh(ctx context.Context) error {
	seen := r.started.Load()
	select {
	case r.refreshing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.refreshing }()
	if r.started.Load() > seen && !errors.Is(r.lastRun, context.Canceled) && !errors.Is(r.lastRun, context.DeadlineExceeded) {
		return r.lastRun
	}
	r.started.Add(1)
	err := r.refresh(ctx)
	r.lastRun = err
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
	// An empty blob (a 0-byte file: truncated, or caught mid-write by a
	// non-atomic writer) decodes without error to a registry with nothing in
	// it. Swapping that in would turn every read into a 404 while /health
	// stays green, so once a registry with objects has been served, an empty
	// one is a failed refresh. At start there is nothing better to keep: a
	// truly empty registry is served as it is.
	if cur := r.cur.Load(); cur != nil && !holdsNothing(cur.Proto) && holdsNothing(reg) {
		return fmt.Errorf("registry %s: holds no objects (%d bytes) while the registry in force has some; keeping that one", r.src.Location(), len(b))
	}
	snap, err := Compile(reg, r.project, r.enableVersioning)
	if err != nil {
		return fmt.Errorf("registry %s: %w", r.src.Location(), err)
	}
	snap.ServeWhileMaterializing = r.whileMaterializing
	snap.Plans.configure(r.planCacheSize, &r.planEvictions)
	snap.raw, snap.rawSize = b, len(b)
	r.cur.Store(snap)
	return nil
}

// holdsNothing reports whether a registry has no objects of any kind, of
// any project: nothing set but the commit header (schema version, version
// id, last updated). Fields this build does not know count as objects.
func holdsNothing(reg *corepb.Registry) bool {
	if reg == nil {
		return true
	}
	if len(reg.ProtoReflect().GetUnknown()) > 0 {
		return false
	}
	empty := true
	reg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		switch fd.Name() {
		case "registry_schema_version", "version_id", "last_updated":
			return true
		}
		empty = false
		return false
	})
	return empty
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
