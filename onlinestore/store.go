// Package onlinestore defines the online store contract shared by every back
// end (redis/, sqlite/, postgres/) and Feast's entity-key serialization.
//
// It imports only core and internal helpers; the back ends below it import
// it and core, never the read or write paths, the registry or a transport.
package onlinestore

import (
	"context"

	"github.com/feastgo/feastgo/core"
)

// Store reads (and, for writers, writes) Feast online rows. Implementations
// live in sub-packages and must pass storetest.Run.
type Store interface {
	// Read fills Rows of every request. All requests of one call belong to
	// one client request, so a back end should serve them in one round trip.
	//
	// An entity with no stored data for the view gets Found=false and nil
	// Values. A found entity whose row lacks a feature gets a nil entry for
	// that feature (reported NOT_FOUND); a stored null gets a non-nil empty
	// slice (reported PRESENT with a null value). A store that cannot be
	// reached returns a core.KindUnavailable error; nothing is half-filled
	// on error. An empty request list is a no-op.
	Read(ctx context.Context, reqs []ReadRequest) error

	// Close releases connections. Reads after Close fail.
	Close() error
}

// Pinger is implemented by every store: it tells whether the store can
// serve reads now. It must be cheap (one round trip, no data read) and
// honour ctx's deadline. A store that cannot be reached returns a
// core.KindUnavailable error. The health endpoint calls it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ScratchReader is implemented by stores that can answer a Read in memory
// the caller recycles between requests (the online read path pools it, so a
// request of a hundred entities does not leave half a megabyte of garbage).
type ScratchReader interface {
	// ReadScratch is Read with the answers' Rows, their Values slices and
	// the value bytes taken from sc where it has room. Everything it
	// returns stays valid until the caller reuses sc.
	ReadScratch(ctx context.Context, reqs []ReadRequest, sc *Scratch) error
}

// Scratch is reusable memory for the answers of one Read.
type Scratch struct {
	Rows  []Row
	Vals  [][]byte
	Bytes []byte
	// Private is the store's own working memory for a read, kept here to
	// be reused by the next read on this Scratch.
	Private any
}

// ReadRequest asks for some features of one feature view for a list of
// already serialized entity keys.
type ReadRequest struct {
	// View is the stored name of the feature view (with "_v<N>" when
	// versioned reads are pinned to a version).
	View string
	// Features are the plain feature names wanted, in output order.
	Features []string
	// Keys are entity keys serialized with SerializeEntityKey, without the
	// project suffix Redis appends.
	Keys [][]byte
	// Rows receives one row per key, in key order. The store allocates it.
	Rows []Row
}

// Row is what the store holds for one entity of one view.
type Row struct {
	Found bool
	// TS is the event time of the row (epoch when unknown).
	TS core.Timestamp
	// Values holds one serialized feast.types.Value per requested feature:
	// nil when absent, empty (non-nil) when a null was stored.
	Values [][]byte
}

// Writer is implemented by stores that accept writes (materialization,
// push, write-to-online-store).
type Writer interface {
	// Write stores rows of one feature view. It returns only after the store
	// confirmed every row; on error the caller must treat all rows as not
	// written (writes are idempotent, so retrying is safe).
	Write(ctx context.Context, batch WriteBatch) error
}

// WriteBatch is a set of rows for one feature view.
type WriteBatch struct {
	View     string
	Features []string
	Rows     []WriteRow
}

// WriteRow is one entity's values for the batch's features.
type WriteRow struct {
	Key     []byte // serialized entity key
	TS      core.Timestamp
	Created core.Timestamp
	Values  [][]byte // serialized feast.types.Value per feature
}

// Sizer is implemented by stores that can tell how much room the
// project's online data takes (the metrics' feature_store_online_size_bytes).
// It may cost a round trip and a scan of catalog tables, so callers cache
// it; it must honour ctx's deadline.
type Sizer interface {
	// OnlineSize returns the bytes the store holds for the project (or,
	// where the store cannot tell a project's share, for the whole
	// database).
	OnlineSize(ctx context.Context) (int64, error)
}
