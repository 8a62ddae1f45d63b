package onlinestore

import (
	"context"
	"time"
)

// Tracker is implemented by stores that can tell a client which stored
// entities any writer changed (Redis's server-assisted client-side
// caching: CLIENT TRACKING and its invalidation messages). The hot-entity
// cache (onlinestore/cache) serves from memory only while a Tracker's
// stream is up.
type Tracker interface {
	// TrackingSupported returns nil when Track can work with this store's
	// configuration, else an error saying why (Redis Cluster, for one).
	TrackingSupported() error

	// Track keeps an invalidation stream open until ctx ends, reopening it
	// when it breaks, and reports to l from one goroutine: Up once the
	// stream is established (every change after it is reported), Down when
	// it breaks (changes may have been missed), Invalidate for each changed
	// entity of this store's project, InvalidateAll when the store was
	// flushed. It returns nil when ctx ends.
	Track(ctx context.Context, l InvalidationListener) error
}

// InvalidationListener receives a Tracker's reports.
type InvalidationListener interface {
	Up()
	Down(err error)
	// Invalidate names a changed entity by its serialized entity key (as in
	// ReadRequest.Keys); the slice is only valid during the call.
	Invalidate(entityKey []byte)
	InvalidateAll()
}

// Expirer is implemented by stores whose rows expire on their own
// (Redis's key_ttl_seconds): a cache must not serve a row past its
// expiry, which no invalidation may announce in time (Redis deletes an
// expired key lazily, on access, or when its sampling finds it).
type Expirer interface {
	// Expiries returns how long each key's row has left, in key order:
	// positive, the time left; zero, gone already (it may have expired
	// between a read and this call: the row read must not be kept);
	// negative, no expiry. Nil when this store's rows never expire.
	Expiries(ctx context.Context, keys [][]byte) ([]time.Duration, error)
}
